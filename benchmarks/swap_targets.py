"""How far a swap with the inferred x_T can go, by the target the GAE is asked to hit (prints numbers; not a test).

    python benchmarks/swap_targets.py --model models/vehicles-64 --pairs 256

On `--pairs` (base, donor) pairs of the vehicles split `--split` that differ in every attribute (the evaluation's
pairs), for each attribute: the base's inferred x_T decoded with three z_dis,
- `gae`: the base's z_dis with the donor's chunk (the product's swap, as `diffusegae evaluate` measures it);
- `own`: the z_dis of the render that has the wanted labels and its own nuisance draw (light, jitter, texture
  offset, grain): the image the cross-swap loss takes its target from;
- `kept`: the z_dis of the render that has the wanted labels and the base's nuisance draw: the same photograph
  with one attribute changed.
A success is the evaluation's: the classifier reads the donor's value of the attribute and the base's of the
others. `own` and `kept` bound what a GAE can reach with each kind of target, given this encoder and decoder.

`--draw D` takes the bases and donors from nuisance draw D of the same label rows (0 is the dataset as trained and
evaluated): `--split train --draw 1` asks whether a model does as well on new photographs of the label
combinations it was trained on as on the photographs it saw. `--targets gae` measures the swaps alone.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _render(args: tuple[tuple[int, int, int], tuple[int, int, int] | None, int, int]) -> np.ndarray:
    from diffusegae.data import vehicles

    labels, nuisance_of, resolution, seed = args
    return np.asarray(vehicles.render(*labels, resolution, seed=seed, nuisance_of=nuisance_of))


def render_rows(rows: list, workers: int) -> torch.Tensor:
    """[(labels, nuisance_of, resolution, seed)] -> (N, 3, R, R) in [-1, 1]."""
    with ProcessPoolExecutor(workers) as pool:
        arr = np.stack(list(pool.map(_render, rows, chunksize=16)))
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def main() -> None:
    from diffusegae.data.dataset import load_vehicles
    from diffusegae.editing import Editor, recombine
    from diffusegae.evaluation.classifier import load_classifier
    from diffusegae.evaluation.metrics import batches, swap_pairs

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models/vehicles-64")
    ap.add_argument("--pairs", type=int, default=256)
    ap.add_argument("--split", default="test", choices=("train", "test"))
    ap.add_argument("--draw", type=int, default=0, help="nuisance draw of the bases' and donors' photographs")
    ap.add_argument("--targets", nargs="+", default=["gae", "own", "kept"], choices=("gae", "own", "kept"))
    ap.add_argument("--steps", type=int, default=None, help="inversion and decoding steps (default: the model's)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()

    editor = Editor.load(args.model)
    clf = load_classifier(args.model / "eval" / "classifier.safetensors")
    data = load_vehicles(editor.info.resolution, args.split, draws=args.draw + 1)
    data = data.subset(torch.arange(len(data) * args.draw // (args.draw + 1), len(data)))  # draw D's block
    bases, donors = swap_pairs(data.labels, args.pairs)
    steps = args.steps or editor.info.default_steps
    lat = [editor.encode(data.images[bases[sl]], steps=steps) for sl in batches(args.pairs, args.batch)]
    z_dis = torch.cat([p.z_dis for p in lat])  # (P, D)
    x_T = torch.cat([p.x_T for p in lat])  # (P, 3, R, R)
    donor_z = torch.cat([editor.z_dis_of(data.images[donors[sl]]) for sl in batches(args.pairs, args.batch)])

    res = editor.info.resolution
    print(f"{args.model}, {args.split} split (nuisance draw {args.draw}), {args.pairs} pairs, {steps} "
          f"{editor.info.default_sampler} steps; "
          "success = donor's value of the attribute and the base's of the others")
    for j, name in enumerate(data.attributes):
        want = data.labels[bases].clone()
        want[:, j] = data.labels[donors, j]
        base_labels = [tuple(r) for r in data.labels[bases].tolist()]
        targets = {"gae": recombine(z_dis, {name: (donor_z, 1.0)}, editor.slices)}
        for kind in set(args.targets) - {"gae"}:  # the render with the wanted labels and which nuisance draw
            nuisance_of = base_labels if kind == "kept" else [None] * args.pairs
            rows = [(tuple(w), b, res, args.draw) for w, b in zip(want.tolist(), nuisance_of)]
            images = render_rows(rows, args.threads)
            targets[kind] = torch.cat([editor.z_dis_of(images[sl]) for sl in batches(args.pairs, args.batch)])
        line = []
        for kind in args.targets:
            z = targets[kind]
            pred = torch.cat([clf.predict(editor.decode(z[sl], x_T[sl], steps=steps))
                              for sl in batches(args.pairs, args.batch)])
            line.append(f"{kind} {(pred == want).all(1).float().mean():.3f}")
        print(f"{name}: " + ", ".join(line), flush=True)
    print(f"wall {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
