"""How strict an attribute classifier reads, and what it makes of the swaps (prints numbers; not a test).

    python benchmarks/reader_check.py --classifier models/vehicles-64/eval/classifier.safetensors OLD.safetensors

The checks of the model card's "The strict reading", for each classifier and strict threshold (`evaluation.strict`):
- the held-out rows photographed under nuisance draw `--draw` (one no stage saw), read strictly in every attribute
  (should be near 1);
- reconstructions: held-out renders inverted and decoded with their own z_dis (should be near 1);
- same-photograph composites: the top 26 rows of a render over the rest of the same photograph with another surface
  kind in the same colour (`vehicles.render(..., nuisance_of=...)`), and 50/50 blends of the two: how often either
  kind is read strictly (a person would name neither: should be near 0);
- the card's `--pairs` background swaps (`metrics.swap_pairs`, pairs that differ in every attribute), with the
  base's inferred x_T and with a random one: the donor's background read loosely (most likely value) and strictly.
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
    from diffusegae.data import vehicles
    from diffusegae.data.dataset import images_from_uint8, load_vehicles, render_vehicles
    from diffusegae.editing import Editor, recombine
    from diffusegae.evaluation.classifier import load_classifier
    from diffusegae.evaluation.metrics import batches, swap_pairs
    from diffusegae.evaluation.strict import Reading, facets_of, held_out_draw

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models/vehicles-64")
    ap.add_argument("--classifier", type=Path, nargs="+", required=True)
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.8, 0.9])
    ap.add_argument("--pairs", type=int, default=256)
    ap.add_argument("--composites", type=int, default=120)
    ap.add_argument("--draw", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()

    editor = Editor.load(args.model)
    steps, res = editor.info.default_steps, editor.info.resolution
    test = load_vehicles(res, "test")
    facets = facets_of(test.attributes, test.values)
    unseen = held_out_draw(res, args.draw, workers=args.threads)

    bases, donors = swap_pairs(test.labels, args.pairs)
    z_dis, x_T, recon = [], [], []
    rand = torch.randn((len(test), 3, res, res), generator=torch.Generator().manual_seed(0))[bases]
    for sl in batches(args.pairs, 64):
        lat = editor.encode(test.images[bases[sl]], steps=steps)
        z_dis.append(lat.z_dis)
        x_T.append(lat.x_T)
        recon.append(editor.decode(lat.z_dis, lat.x_T, steps=steps))
    z_dis, x_T, recon = torch.cat(z_dis), torch.cat(x_T), torch.cat(recon)
    z = recombine(z_dis, {"background": (editor.z_dis_of(test.images[donors]), 1.0)}, editor.slices)
    swapped = {name: torch.cat([editor.decode(z[sl], code[sl], steps=steps) for sl in batches(args.pairs, 64)])
               for name, code in (("inferred", x_T), ("random", rand))}

    gen = torch.Generator().manual_seed(3)  # composites: same photograph, same colour, another kind
    la = test.labels[torch.randperm(len(test), generator=gen)[: args.composites]].clone()
    kind, colour = vehicles.surface_kind_and_colour(la[:, 1])
    kinds = torch.where(colour == len(vehicles.PALETTE_NAMES) - 1, 3, len(vehicles.SURFACES))  # the last colour has 3
    other = (kind + 1 + (torch.rand(la.shape[0], generator=gen) * (kinds - 1)).long()) % kinds
    lb = la.clone()
    lb[:, 1] = vehicles.background_of(other, colour)
    a = images_from_uint8(render_vehicles(la, res, args.threads))
    b = images_from_uint8(render_vehicles(lb, res, args.threads, nuisance_of=la))
    top = b.clone()
    top[:, :, :26] = a[:, :, :26]
    print(f"{args.model}: {args.pairs} pairs, {args.composites} composites, draw {args.draw}; "
          f"images ready after {time.time() - t0:.0f} s", flush=True)

    for path in args.classifier:
        clf = load_classifier(path)

        def readings(x: torch.Tensor, clf=clf) -> list[Reading]:
            probs = clf.probabilities(x)
            return [Reading(probs, test.attributes, facets, t) for t in args.thresholds]

        def every(rs: list[Reading], labels: torch.Tensor) -> str:
            return " ".join(f"{torch.stack([r.strict(j, labels[:, j]) for j in range(3)]).all(0).float().mean():.3f}"
                            for r in rs)

        def either_kind(x: torch.Tensor) -> str:
            return " ".join(f"{(r.facet_reads(1, la[:, 1])['kind'] | r.facet_reads(1, lb[:, 1])['kind']).float().mean():.3f}"
                            for r in readings(x))

        print(f"\n{path} (thresholds {' '.join(map(str, args.thresholds))})")
        print(f"  draw {args.draw} renders, every attribute strictly: {every(readings(unseen.images), unseen.labels)}")
        print(f"  reconstructions, every attribute strictly: {every(readings(recon), test.labels[bases])}")
        print(f"  composites read as either kind: {either_kind(top)}; 50/50 blends: {either_kind((a + b) / 2)}")
        for name, x in swapped.items():
            rs = readings(x)
            want = test.labels[donors, 1]
            strict = " ".join(f"{r.strict(1, want).float().mean():.3f}" for r in rs)
            print(f"  background swaps, {name} x_T: loose {rs[0].loose(1, want).float().mean():.3f}, strict {strict}")
    print(f"wall {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
