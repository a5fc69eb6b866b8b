"""`diffusegae encode | recombine`: images to latents, and edits from donor images."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from diffusegae.commands.common import add_editor_args, editor_of, open_images


def cmd_encode(args: argparse.Namespace) -> None:
    from diffusegae.checkpoint import save_tensors

    ed = editor_of(args)
    lat = ed.encode(ed.preprocess(open_images(args.images)), steps=args.steps, sampler=args.sampler)
    args.out.mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(args.images):
        dest = args.out / (p.stem + ".safetensors")
        save_tensors(dest, {"z_sem": lat.z_sem[i], "z_dis": lat.z_dis[i], "x_T": lat.x_T[i]},
                     {"source": str(p), "attributes": list(ed.info.attributes), "chunk_sizes": list(ed.info.chunk_sizes)})
        chunks = {a: [round(v, 4) for v in c[i].tolist()] for a, c in ed.chunks(lat.z_dis).items()}
        print(json.dumps({"image": str(p), "latents": str(dest), "z_dis": chunks}))


def _parse_attr(spec: str, attributes: tuple[str, ...]) -> tuple[str, Path, float]:
    """NAME=IMAGE[:WEIGHT]"""
    name, sep, rest = spec.partition("=")
    if not sep or not rest:
        raise SystemExit(f"--attr {spec!r}: expected NAME=IMAGE[:WEIGHT]")
    if name not in attributes:
        raise SystemExit(f"--attr {spec!r}: unknown attribute {name!r}; the model has {list(attributes)}")
    path, weight = rest, 1.0
    head, colon, tail = rest.rpartition(":")
    if colon:
        try:
            weight = float(tail)
            path = head
        except ValueError:
            pass
    return name, Path(path), weight


def cmd_recombine(args: argparse.Namespace) -> None:
    from diffusegae.editing import recombine

    ed = editor_of(args)
    specs = [_parse_attr(s, ed.info.attributes) for s in args.attr]
    images = ed.preprocess(open_images([args.base] + [p for _, p, _ in specs]))
    z_dis = ed.z_dis_of(images)  # (1 + donors, D)
    if args.seed is None:  # faithful replacement: the base's own stochastic code
        x_T = ed.encode(images[:1], steps=args.steps, sampler=args.sampler).x_T
    else:  # recombination: a fresh stochastic code
        x_T = ed.random_x_T([args.seed])
    donors = {name: (z_dis[i + 1: i + 2], w) for i, (name, _, w) in enumerate(specs)}
    out = ed.decode(recombine(z_dis[:1], donors, ed.slices), x_T, steps=args.steps, sampler=args.sampler)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ed.to_images(out)[0].save(args.out)
    print(f"wrote {args.out}")


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode", help="images -> z_sem, z_dis, x_T (one .safetensors per image)")
    add_editor_args(p)
    p.add_argument("images", type=Path, nargs="+")
    p.add_argument("--out", type=Path, default=Path("latents"))
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("recombine", help="take attributes from donor images")
    add_editor_args(p)
    p.add_argument("--base", type=Path, required=True)
    p.add_argument("--attr", action="append", default=[], metavar="NAME=IMAGE[:WEIGHT]")
    p.add_argument("--seed", type=int, default=None, help="random x_T from this seed instead of the base's inferred one")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_recombine)
