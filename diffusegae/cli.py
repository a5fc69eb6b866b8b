"""The `diffusegae` command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from diffusegae.config import AutoencoderConfig


def _parse_overrides(cls: type, pairs: list[str]) -> dict[str, Any]:
    """`--set key=value` pairs -> config kwargs, values parsed as JSON where they can be."""
    fields = {f.name for f in dataclasses.fields(cls)}
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or key not in fields:
            raise SystemExit(f"--set {pair!r}: expected KEY=VALUE with KEY one of {sorted(fields)}")
        try:
            val = json.loads(raw)
        except json.JSONDecodeError:
            val = raw
        out[key] = tuple(val) if isinstance(val, list) else val
    return out


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="toys", help="'toys' (rendered) or 'folder' (with --images/--labels)")
    p.add_argument("--images", type=Path, help="folder of images (dataset=folder)")
    p.add_argument("--labels", type=Path, help="CSV: file,attr1,attr2,... (dataset=folder)")
    p.add_argument("--resolution", type=int, default=32)


def _load_data(args: argparse.Namespace, split: str = "train"):
    from diffusegae.data.dataset import load_toys

    if args.dataset == "toys":
        return load_toys(args.resolution, split)
    if args.dataset == "folder":
        from diffusegae.data.folder import load_folder

        if args.images is None or args.labels is None:
            raise SystemExit("--dataset folder needs --images DIR and --labels CSV")
        return load_folder(args.images, args.labels, args.resolution)
    raise SystemExit(f"unknown dataset {args.dataset!r} (toys or folder)")


def _add_loop_args(p: argparse.ArgumentParser, *, steps: int, lr: float, batch: int, ema: float) -> None:
    p.add_argument("--out", type=Path, required=True, help="model folder, e.g. models/toys-32")
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--batch-size", type=int, default=batch)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--ema-decay", type=float, default=ema)
    p.add_argument("--save-every", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from the run state in OUT/runs/")
    p.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0 = torch's default)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")


def _runtime(args: argparse.Namespace):
    import torch

    from diffusegae.training.common import setup_runtime

    if args.threads:
        torch.set_num_threads(args.threads)
    return setup_runtime(args.device)


def _loop(args: argparse.Namespace):
    from diffusegae.training.loop import LoopConfig

    return LoopConfig(steps=args.steps, lr=args.lr, ema_decay=args.ema_decay, save_every=args.save_every)


def cmd_train_autoencoder(args: argparse.Namespace) -> None:
    from diffusegae.checkpoint import load_json
    from diffusegae.config import from_json_dict
    from diffusegae.training.autoencoder import AE_WEIGHTS, train_autoencoder
    from diffusegae.training.common import teardown_runtime

    cfg_path = args.out / AE_WEIGHTS.replace(".safetensors", ".json")
    if args.resume and cfg_path.is_file():
        cfg = from_json_dict(AutoencoderConfig, load_json(cfg_path))
    else:
        cfg = AutoencoderConfig(resolution=args.resolution, **_parse_overrides(AutoencoderConfig, args.set))
    rt = _runtime(args)
    data = _load_data(args)
    train_autoencoder(cfg, data, args.out, _loop(args), rt, batch_size=args.batch_size, seed=args.seed,
                      resume=args.resume, snapshot_every=args.snapshot_every)
    teardown_runtime()


def _add_service_commands(sub: argparse._SubParsersAction) -> None:
    """`serve`, `api`, `worker`: the web service lives in backend/ and worker/, imported only when run."""

    def run(name: str):
        def _go(args: argparse.Namespace) -> None:
            from backend import commands

            getattr(commands, name)(args)

        return _go

    p = sub.add_parser("serve", help="API + an embedded worker on one machine, default model (local mode)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--model", type=Path, default=None, help="model folder (default: settings / models/toys-32)")
    p.set_defaults(func=run("serve"))
    p = sub.add_parser("api", help="the FastAPI app alone (scaled mode)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=run("api"))
    p = sub.add_parser("worker", help="one Celery worker process (scaled mode; one per GPU)")
    p.add_argument("--model", type=Path, default=None)
    p.set_defaults(func=run("worker"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diffusegae", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train one stage").add_subparsers(dest="stage", required=True)
    p = train.add_parser("autoencoder", help="stage 1: semantic encoder + conditional UNet")
    _add_data_args(p)
    _add_loop_args(p, steps=20000, lr=1e-4, batch=32, ema=0.999)
    p.add_argument("--snapshot-every", type=int, default=0, help="keep EMA snapshots for a learning curve")
    p.set_defaults(func=cmd_train_autoencoder)
    _add_service_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main(sys.argv[1:])
