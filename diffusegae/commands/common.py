"""What the library's commands share: their common arguments, loading data and models, reporting files."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from diffusegae.config import LR_SCHEDULES

SHIPPED_MODELS = Path(__file__).resolve().parents[2] / "models"


def default_model() -> Path:
    """The model folder a command uses without --model: DGAE_MODEL_DIR, else the shipped vehicles-64.

    The same rule as the service's settings (core.settings), so that it holds from any working folder;
    models/toys-32 is the small, fast one."""
    given = os.environ.get("DGAE_MODEL_DIR")
    return Path(given) if given else SHIPPED_MODELS / "vehicles-64"


def parse_overrides(cls: type, pairs: list[str]) -> dict[str, Any]:
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


def add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default=None,
                   help="'toys' (the default) or 'vehicles' (rendered), or 'folder' (your own images: "
                        "implied by --images/--labels)")
    p.add_argument("--images", type=Path, help="folder of images (implies --dataset folder)")
    p.add_argument("--labels", type=Path, help="CSV: file,attr1,attr2,... (implies --dataset folder)")
    p.add_argument("--resolution", type=int, default=32)


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, default=default_model(),
                   help="model folder (default: DGAE_MODEL_DIR, else the shipped models/vehicles-64)")
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int, default=0)


def add_editor_args(p: argparse.ArgumentParser) -> None:
    """A command that loads the model and samples: the model, where it runs, and the sampler's steps."""
    add_model_args(p)
    p.add_argument("--runtime", choices=["torch", "onnx"], default="torch",
                   help="what runs the UNet and the encoder: onnx = ONNX Runtime on the CPU (README, \"Inference runtime\")")
    p.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model's)")
    p.add_argument("--sampler", default=None, help="ddim or dpmpp_2m (default: the model's)")


def add_train_data_args(p: argparse.ArgumentParser) -> None:
    add_data_args(p)
    p.add_argument("--nuisance-draws", type=int, default=1, metavar="K",
                   help="vehicles: train on K photographs of every label row (nuisance draws 0 .. K-1: light, "
                        "exposure, camera jitter, texture offset, grain); each draw is rendered once and cached")


def resolve_dataset(args: argparse.Namespace) -> None:
    """--images/--labels mean --dataset folder; with another dataset named they are an error, not ignored."""
    if not hasattr(args, "dataset"):
        return
    own = [f"--{name}" for name in ("images", "labels") if getattr(args, name) is not None]
    if own:
        if args.dataset not in (None, "folder", "model"):
            raise SystemExit(f"{'/'.join(own)} give your own data (--dataset folder), but --dataset {args.dataset} was "
                             "named: drop one of them")
        args.dataset = "folder"
        if args.images is None or args.labels is None:
            raise SystemExit("your own data needs both --images DIR and --labels CSV")
    elif args.dataset is None and not hasattr(args, "model"):  # a command on a model reads its model's dataset
        args.dataset = "toys"


def load_data(args: argparse.Namespace, split: str = "train"):
    from diffusegae.data.dataset import RENDERED_KINDS, load_rendered

    resolve_dataset(args)
    draws = getattr(args, "nuisance_draws", 1)
    if draws != 1 and args.dataset != "vehicles":
        raise SystemExit(f"--nuisance-draws is for the vehicles renders; {args.dataset} has one picture per label row")
    if args.dataset in RENDERED_KINDS:
        return load_rendered(args.dataset, args.resolution, split, draws=draws)
    if args.dataset == "folder":
        from diffusegae.data.folder import load_folder

        if args.images is None or args.labels is None:
            raise SystemExit("--dataset folder needs --images DIR and --labels CSV")
        return load_folder(args.images, args.labels, args.resolution)
    raise SystemExit(f"unknown dataset {args.dataset!r} ({', '.join(RENDERED_KINDS)} or folder)")


def add_loop_args(p: argparse.ArgumentParser, *, steps: int, lr: float, batch: int, ema: float) -> None:
    p.add_argument("--out", type=Path, required=True, help="model folder, e.g. models/toys-32")
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--batch-size", type=int, default=batch)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--ema-decay", type=float, default=ema)
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES, default="constant",
                   help="cosine: decay the learning rate to 0 over --steps")
    p.add_argument("--save-every", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from the run state in OUT/runs/")
    p.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0 = torch's default)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")


def runtime_of(args: argparse.Namespace):
    import torch

    from diffusegae.training.common import setup_runtime

    if args.threads:
        torch.set_num_threads(args.threads)
    return setup_runtime(args.device)


def files_of(folder: Path) -> dict[Path, tuple[int, int]]:
    """(mtime_ns, size) of every file in a model folder outside runs/ (the training state)."""
    if not folder.is_dir():
        return {}
    out = {}
    for p in folder.rglob("*"):
        if p.is_file() and "runs" not in p.relative_to(folder).parts[:1]:
            st = p.stat()
            out[p] = (st.st_mtime_ns, st.st_size)
    return out


def report_written(folder: Path, before: dict[Path, tuple[int, int]]) -> None:
    """After a training stage: the files it wrote (new or changed) and the model folder, on stdout."""
    from diffusegae.model_folder import ModelFolder

    after = files_of(folder)
    written = sorted(p for p, sig in after.items() if before.get(p) != sig)
    for p in written:
        print(f"wrote {p} ({p.stat().st_size / 1e6:.2f} MB)" if p.suffix == ".safetensors" else f"wrote {p}")
    if not written:
        print(f"wrote no model files (nothing changed in {folder})")
    mf = ModelFolder(folder)
    print(f"training state (checkpoints, loss log): {mf.runs}")
    complete = mf.manifest_path.is_file() and mf.autoencoder_weights.is_file() and mf.gae_weights.is_file()
    if complete:
        print(f"model folder: {folder} (complete: diffusegae serve --model {folder})")
    else:
        print(f"model folder: {folder} (not complete yet: train the GAE next, diffusegae train gae ... --out {folder})")


def loop_config(args: argparse.Namespace):
    from diffusegae.training.loop import LoopConfig

    return LoopConfig(steps=args.steps, lr=args.lr, ema_decay=args.ema_decay, save_every=args.save_every,
                      lr_schedule=args.lr_schedule)



def torch_perm(n: int, seed: int):
    import torch

    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def data_of_model(args: argparse.Namespace, folder, ed) -> None:
    """Without --dataset/--resolution, a model is measured on the data it was trained on, at its resolution."""
    if args.resolution is None:
        args.resolution = ed.info.resolution
    if args.dataset is None:
        trained_on = folder.read_manifest().dataset
        if trained_on in ("", "folder"):
            raise SystemExit(f"{folder.root}/model.json does not name a rendered dataset ({trained_on or 'none'}): "
                             "give --dataset, or --images DIR --labels CSV")
        args.dataset = trained_on


def classifier_of(args: argparse.Namespace, folder, without: str):
    """--classifier, else the model's eval/classifier.safetensors; None (saying `without` what) when there is none."""
    from diffusegae.evaluation.classifier import load_classifier

    path = args.classifier or (folder.eval_dir / "classifier.safetensors")
    if path.is_file():
        return load_classifier(path)
    print(f"no attribute classifier at {path}: {without}", file=sys.stderr)
    return None


def editor_of(args: argparse.Namespace):
    from diffusegae.editing import Editor

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    return Editor.load(args.model, args.device, runtime=getattr(args, "runtime", "torch"), threads=args.threads or None)


def open_images(paths: list[Path]):
    from PIL import Image

    from diffusegae.data.images import upright_rgb

    out = []
    for p in paths:
        try:
            with Image.open(p) as im:
                im.load()
                out.append(upright_rgb(im))
        except (OSError, ValueError) as e:
            raise SystemExit(f"{p}: cannot read image: {e}") from None
    return out
