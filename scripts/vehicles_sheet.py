"""The README's picture of the vehicles dataset: each vehicle at the ten azimuths, then every kind of surface.

    python scripts/vehicles_sheet.py [--out docs/vehicles.png] [--resolution 64]

Rows 1-6: one vehicle each, turning through the ten poses on one surface; rows 7-8: the twelve kinds of surface
(then eight more), each under another vehicle and pose, in the colours in turn. Deterministic (seed 0 renders).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from diffusegae.data import vehicles


def sheet(resolution: int) -> Image.Image:
    n_id, n_bg, n_pose = vehicles.NUM_VALUES
    kinds = len(vehicles.SURFACES)
    cells = [(i, (17 * i + 5) % n_bg, p) for i in range(n_id) for p in range(n_pose)]
    # Colours 0-8: all twelve kinds exist in those (111 = 9 x 12 + 3).
    cells += [(k % n_id, vehicles.background_of(k % kinds, 5 * k % 9), (3 * k + 1) % n_pose) for k in range(2 * n_pose)]
    tiles = [np.asarray(vehicles.render(i, b, p, resolution)) for i, b, p in cells]
    rows = [np.concatenate(tiles[r * n_pose:(r + 1) * n_pose], axis=1) for r in range(len(tiles) // n_pose)]
    return Image.fromarray(np.concatenate(rows, axis=0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("docs/vehicles.png"))
    ap.add_argument("--resolution", type=int, default=64)
    args = ap.parse_args()
    sheet(args.resolution).save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
