"""`diffusegae dataset render`: a rendered dataset as PNGs and labels.csv."""

from __future__ import annotations

import argparse
from pathlib import Path

from diffusegae.commands.common import torch_perm


def cmd_dataset_render(args: argparse.Namespace) -> None:
    import csv

    from PIL import Image

    from diffusegae.data import toys
    from diffusegae.data.dataset import render_vehicles

    args.out.mkdir(parents=True, exist_ok=True)
    labels = toys.all_labels()
    if args.limit:
        labels = labels[torch_perm(labels.shape[0], args.seed)[: args.limit]]
    if args.kind == "vehicles":
        arrays = render_vehicles(labels, args.resolution, workers=args.workers or None)
        images = (Image.fromarray(a) for a in arrays)
    else:
        images = (toys.render(i, b, p, args.resolution) for i, b, p in labels.tolist())
    prefix = "toy" if args.kind == "toys" else "vehicle"
    with (args.out / "labels.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", *toys.ATTRIBUTES])
        for (i, b, p), img in zip(labels.tolist(), images):
            name = f"{prefix}_i{i}_b{b:03d}_p{p}.png"
            img.save(args.out / name)
            w.writerow([name, i, b, p])
    print(f"wrote {labels.shape[0]} {args.kind} images and labels.csv to {args.out}")


def add(sub: argparse._SubParsersAction) -> None:
    ds = sub.add_parser("dataset", help="datasets").add_subparsers(dest="action", required=True)
    p = ds.add_parser("render", help="write a rendered dataset as PNGs + labels.csv")
    p.add_argument("--kind", choices=("toys", "vehicles"), default="toys",
                   help="toys: flat icons; vehicles: ray-cast 3-D toy vehicles with photographic nuisance")
    p.add_argument("--workers", type=int, default=0, help="render processes for vehicles (0 = all cores)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--limit", type=int, default=0, help="only this many (a seeded random subset)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_dataset_render)
