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
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from diffusegae.data.dataset import images_from_uint8, load_vehicles, render_vehicles
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
    res = editor.info.resolution
    data = load_vehicles(res, args.split)  # draw 0, as trained and evaluated

    def photographs(labels: torch.Tensor, nuisance_of: torch.Tensor | None = None) -> torch.Tensor:
        """(N, 3) labels -> (N, 3, R, R): their renders under nuisance draw --draw."""
        return images_from_uint8(render_vehicles(labels, res, args.threads, seed=args.draw, nuisance_of=nuisance_of))

    bases, donors = swap_pairs(data.labels, args.pairs)
    base_labels, donor_labels = data.labels[bases], data.labels[donors]  # (P, 3)
    base_x, donor_x = ((data.images[bases], data.images[donors]) if args.draw == 0
                       else (photographs(base_labels), photographs(donor_labels)))
    steps = args.steps or editor.info.default_steps
    lat = [editor.encode(base_x[sl], steps=steps) for sl in batches(args.pairs, args.batch)]
    z_dis = torch.cat([p.z_dis for p in lat])  # (P, D)
    x_T = torch.cat([p.x_T for p in lat])  # (P, 3, R, R)
    donor_z = torch.cat([editor.z_dis_of(donor_x[sl]) for sl in batches(args.pairs, args.batch)])

    print(f"{args.model}, {args.split} split (nuisance draw {args.draw}), {args.pairs} pairs, {steps} "
          f"{editor.info.default_sampler} steps; "
          "success = donor's value of the attribute and the base's of the others")
    for j, name in enumerate(data.attributes):
        want = base_labels.clone()
        want[:, j] = donor_labels[:, j]
        targets = {"gae": recombine(z_dis, {name: (donor_z, 1.0)}, editor.slices)}
        for kind in set(args.targets) - {"gae"}:  # the render with the wanted labels, and whose nuisance draw
            images = photographs(want, base_labels if kind == "kept" else None)
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
