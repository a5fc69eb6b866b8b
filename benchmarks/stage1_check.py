"""A quick look at a stage-1 checkpoint of the vehicles model (prints numbers, writes a picture; not a test).

    python benchmarks/stage1_check.py models/vehicles-64/autoencoder/model.safetensors --out check.png

On 8 held-out renders (a seeded spread of the vehicles test split), with z_sem from the encoder:
reconstruction MSE (images in [0, 1]) of DDIM inversion then decoding at `--steps`, and the MSE of a decode
from a random x_T against the input (how much of the picture x_T carries). The picture's rows: input,
reconstruction, random-x_T decode.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from diffusegae.checkpoint import load_module
    from diffusegae.config import AutoencoderConfig
    from diffusegae.data.dataset import load_vehicles
    from diffusegae.data.images import to_image
    from diffusegae.diffusion.samplers import SAMPLERS
    from diffusegae.models.autoencoder import DiffusionAutoencoder

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", type=Path)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    ae = load_module(args.weights, AutoencoderConfig, DiffusionAutoencoder)
    data = load_vehicles(ae.cfg.resolution, "test")
    x0 = data.images[torch.linspace(0, len(data) - 1, 8).long()]  # (8, 3, R, R)
    ts = ae.schedule.timesteps(args.steps)
    sample, invert = SAMPLERS["ddim"]
    with torch.no_grad():
        z_sem = ae.encode(x0)
        x_T = invert(ae.eps, x0, ts, ae.schedule, cond=z_sem, from_clean=True)
        rec = sample(ae.eps, x_T, ts, ae.schedule, cond=z_sem)
        noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
        rnd = sample(ae.eps, noise, ts, ae.schedule, cond=z_sem)

    def mse(a: torch.Tensor) -> float:
        return (((a.clamp(-1, 1) + 1) / 2 - (x0 + 1) / 2) ** 2).mean().item()

    print(f"{args.weights}: {args.steps} DDIM steps, 8 held-out images: reconstruction MSE {mse(rec):.2e}, "
          f"random-x_T decode MSE {mse(rnd):.2e}")
    if args.out:
        side = x0.shape[-1]
        sheet = Image.new("RGB", (side * 8, side * 3))
        for r, row in enumerate((x0, rec, rnd)):
            for c in range(8):
                sheet.paste(to_image(row[c]), (c * side, r * side))
        sheet.save(args.out)


if __name__ == "__main__":
    main()
