"""A quick look at a stage-1 checkpoint of the vehicles model (prints numbers, writes a picture; not a test).

    python benchmarks/stage1_check.py models/vehicles-64/autoencoder/model.safetensors --out check.png

On 8 held-out renders (a seeded spread of the vehicles test split), with z_sem from the encoder:
reconstruction MSE (images in [0, 1]) of DDIM inversion then decoding at `--steps`, and the MSE of a decode
from a random x_T against the input (how much of the picture x_T carries). The picture's rows: input,
reconstruction, random-x_T decode.

`--kinds N` also decodes N held-out renders (a seeded spread) from a random x_T at `--steps` DDIM steps and lets
the evaluation's attribute classifier (`--classifier`) read them: how often each surface kind comes back as
itself, and which kinds it is drawn as instead (does the decoder draw from z_sem what z_sem holds?).

`--cross N` takes N held-out (base, donor) pairs that differ in every attribute and decodes the donor's whole
z_sem from the base's inferred x_T (DDIM inversion and decoding at `--steps`): how often the classifier reads
the donor's value of each attribute, that is, how far the base's x_T lets z_sem decide the picture. It bounds
what a swap with the inferred x_T can reach, whatever the GAE.
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
    ap.add_argument("--kinds", type=int, default=0, metavar="N", help="surface kinds of N random-x_T decodes")
    ap.add_argument("--cross", type=int, default=0, metavar="N", help="N donor z_sem decoded from base x_T")
    ap.add_argument("--classifier", type=Path, default=ROOT / "models/vehicles-64/eval/classifier.safetensors")
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
    if args.kinds or args.cross:
        from diffusegae.evaluation.classifier import load_classifier

        clf = load_classifier(args.classifier)
        if args.kinds:
            surface_kinds(ae, clf, data, args.kinds, args.steps)
        if args.cross:
            cross_decodes(ae, clf, data, args.cross, args.steps)


def surface_kinds(ae, clf, data, n: int, steps: int) -> None:
    from collections import Counter

    from diffusegae.evaluation.metrics import random_xT_predictions, spread_rows

    data = data.subset(spread_rows(len(data), n))
    pred = random_xT_predictions(ae, clf, data.images, steps=steps)  # (n, 3)
    acc = (pred == data.labels).float().mean(0)
    print(f"random-x_T decodes of {n} held-out renders read right: "
          + ", ".join(f"{a} {acc[j]:.3f}" for j, a in enumerate(data.attributes)))
    bg = data.attributes.index("background")
    kind = [name.split(" ", 1)[1] for name in data.values[bg]]  # "red tiles" -> "tiles"
    total, right, drawn_as = Counter(), Counter(), Counter()
    for want, got in zip(data.labels[:, bg].tolist(), pred[:, bg].tolist()):
        total[kind[want]] += 1
        right[kind[want]] += want == got
        if kind[want] != kind[got]:
            drawn_as[kind[want], kind[got]] += 1
    print("surface read right, per kind: " + ", ".join(f"{k} {right[k]}/{total[k]}" for k in sorted(total)))
    print("kind drawn as another (count): " + ", ".join(f"{a}->{b} {c}" for (a, b), c in drawn_as.most_common(10)))


@torch.no_grad()
def cross_decodes(ae, clf, data, n: int, steps: int, batch: int = 64) -> None:
    from diffusegae.diffusion.samplers import SAMPLERS
    from diffusegae.evaluation.metrics import batches, swap_pairs

    bases, donors = swap_pairs(data.labels, n)
    ts = ae.schedule.timesteps(steps)
    sample, invert = SAMPLERS["ddim"]
    preds = []
    for sl in batches(n, batch):
        base, donor = data.images[bases[sl]], data.images[donors[sl]]
        x_T = invert(ae.eps, base, ts, ae.schedule, cond=ae.encode(base), from_clean=True)
        preds.append(clf.predict(sample(ae.eps, x_T, ts, ae.schedule, cond=ae.encode(donor))))
    pred = torch.cat(preds)  # (n, A)
    acc = (pred == data.labels[donors]).float().mean(0)
    print(f"donor z_sem from base x_T, {n} pairs, donor's value read: "
          + ", ".join(f"{a} {acc[j]:.3f}" for j, a in enumerate(data.attributes)))


if __name__ == "__main__":
    main()
