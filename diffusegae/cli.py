"""The library's commands: datasets, training, editing, evaluation (`server.cli` adds the service's)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from diffusegae.config import LR_SCHEDULES, AutoencoderConfig

SHIPPED_MODELS = Path(__file__).resolve().parents[1] / "models"


def default_model() -> Path:
    """The model folder a command uses without --model: DGAE_MODEL_DIR, else the shipped vehicles-64.

    The same rule as the service's settings (core.settings), so that it holds from any working folder;
    models/toys-32 is the small, fast one."""
    given = os.environ.get("DGAE_MODEL_DIR")
    return Path(given) if given else SHIPPED_MODELS / "vehicles-64"


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
    p.add_argument("--dataset", default=None,
                   help="'toys' (the default) or 'vehicles' (rendered), or 'folder' (your own images: "
                        "implied by --images/--labels)")
    p.add_argument("--images", type=Path, help="folder of images (implies --dataset folder)")
    p.add_argument("--labels", type=Path, help="CSV: file,attr1,attr2,... (implies --dataset folder)")
    p.add_argument("--resolution", type=int, default=32)


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, default=default_model(),
                   help="model folder (default: DGAE_MODEL_DIR, else the shipped models/vehicles-64)")
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int, default=0)


def _add_train_data_args(p: argparse.ArgumentParser) -> None:
    _add_data_args(p)
    p.add_argument("--nuisance-draws", type=int, default=1, metavar="K",
                   help="vehicles: train on K photographs of every label row (nuisance draws 0 .. K-1: light, "
                        "exposure, camera jitter, texture offset, grain); each draw is rendered once and cached")


def _resolve_dataset(args: argparse.Namespace) -> None:
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


def _load_data(args: argparse.Namespace, split: str = "train"):
    from diffusegae.data.dataset import RENDERED_KINDS, load_rendered

    _resolve_dataset(args)
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


def _add_loop_args(p: argparse.ArgumentParser, *, steps: int, lr: float, batch: int, ema: float) -> None:
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


def _runtime(args: argparse.Namespace):
    import torch

    from diffusegae.training.common import setup_runtime

    if args.threads:
        torch.set_num_threads(args.threads)
    return setup_runtime(args.device)


def _files_of(folder: Path) -> dict[Path, tuple[int, int]]:
    """(mtime_ns, size) of every file in a model folder outside runs/ (the training state)."""
    if not folder.is_dir():
        return {}
    out = {}
    for p in folder.rglob("*"):
        if p.is_file() and "runs" not in p.relative_to(folder).parts[:1]:
            st = p.stat()
            out[p] = (st.st_mtime_ns, st.st_size)
    return out


def _report_written(folder: Path, before: dict[Path, tuple[int, int]]) -> None:
    """After a training stage: the files it wrote (new or changed) and the model folder, on stdout."""
    from diffusegae.model_folder import ModelFolder

    after = _files_of(folder)
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


def _loop(args: argparse.Namespace):
    from diffusegae.training.loop import LoopConfig

    return LoopConfig(steps=args.steps, lr=args.lr, ema_decay=args.ema_decay, save_every=args.save_every,
                      lr_schedule=args.lr_schedule)


def cmd_train_autoencoder(args: argparse.Namespace) -> None:
    from diffusegae.checkpoint import load_json
    from diffusegae.config import from_json_dict
    from diffusegae.model_folder import WEIGHTS, ModelFolder
    from diffusegae.training.autoencoder import train_autoencoder
    from diffusegae.training.common import teardown_runtime

    cfg_path = ModelFolder(args.out).autoencoder_weights.with_suffix(".json")
    init_from = None
    if args.init_from is not None:
        if args.resume:
            raise SystemExit("--init-from starts a new run from earlier weights; it cannot be combined with --resume")
        init_from = args.init_from
        if init_from.is_dir():  # a stage folder (autoencoder/) or a whole model folder
            direct = init_from / WEIGHTS
            init_from = direct if direct.is_file() else ModelFolder(init_from).autoencoder_weights
        cfg = from_json_dict(AutoencoderConfig, load_json(init_from.with_suffix(".json")))
    elif args.resume and cfg_path.is_file():
        cfg = from_json_dict(AutoencoderConfig, load_json(cfg_path))
    else:
        cfg = AutoencoderConfig(resolution=args.resolution, **_parse_overrides(AutoencoderConfig, args.set))
    rt = _runtime(args)
    data = _load_data(args)
    before = _files_of(args.out)
    train_autoencoder(cfg, data, args.out, _loop(args), rt, batch_size=args.batch_size, seed=args.seed,
                      resume=args.resume, snapshot_every=args.snapshot_every, high_noise_frac=args.high_noise_frac,
                      high_noise_range=tuple(args.high_noise_range) if args.high_noise_range else None,
                      init_from=init_from)
    if rt.is_main:
        _report_written(args.out, before)
    teardown_runtime()


def cmd_train_gae(args: argparse.Namespace) -> None:
    from diffusegae.checkpoint import load_json
    from diffusegae.config import GAEConfig, default_chunk_sizes, from_json_dict
    from diffusegae.model_folder import ModelFolder, manifest_for
    from diffusegae.training.common import teardown_runtime
    from diffusegae.training.gae import train_gae

    rt = _runtime(args)
    data = _load_data(args)
    folder = ModelFolder(args.out)
    ae = folder.load_autoencoder()
    cfg_path = folder.gae_weights.with_suffix(".json")
    if args.resume and cfg_path.is_file():
        cfg = from_json_dict(GAEConfig, load_json(cfg_path))
    else:
        over = _parse_overrides(GAEConfig, args.set)
        over.setdefault("chunk_sizes", default_chunk_sizes(len(data.attributes)))
        cfg = GAEConfig(attributes=data.attributes, z_sem_dim=ae.cfg.z_sem_dim, **over)
    before = _files_of(args.out)
    train_gae(cfg, ae, data, args.out, _loop(args), rt, batch_size=args.batch_size, seed=args.seed, resume=args.resume)
    if rt.is_main:
        folder.write_manifest(manifest_for(args.out.name, data.attributes, data.values, default_steps=args.default_steps,
                                           default_sampler=args.default_sampler, dataset=args.dataset))
        if args.domain:  # the domain check is part of a trained model: thresholds from held-out data, now
            cmd_calibrate_domain(argparse.Namespace(**{**DOMAIN_DEFAULTS, "model": args.out, "device": args.device,
                                                       "threads": args.threads, "resolution": args.resolution,
                                                       "dataset": args.dataset, "images": args.images,
                                                       "labels": args.labels, "ood_images": args.domain_ood_images,
                                                       "score": args.domain_score,
                                                       "quiet": True}))
        _report_written(args.out, before)
    teardown_runtime()


DOMAIN_SCORES = ("roundtrip", "mahalanobis", "roundtrip+chunks")  # diffusegae.domain.SCORES, without importing torch
DOMAIN_DEFAULTS = {"score": "roundtrip", "quantile": 0.995, "margin": 1.5, "components": 32, "ood_images": 100,
                   "upload_renders": True, "seed": 0, "dry_run": False}  # calibrate-domain's options


def cmd_train_joint(args: argparse.Namespace) -> None:
    from diffusegae.model_folder import ModelFolder, load_parts
    from diffusegae.training.common import teardown_runtime
    from diffusegae.training.joint import train_joint

    rt = _runtime(args)
    data = _load_data(args)
    ae, gae = load_parts(ModelFolder(args.out))
    before = _files_of(args.out)
    train_joint(ae, gae, data, args.out, _loop(args), rt, groups_per_batch=args.groups, gamma=args.gamma,
                seed=args.seed, resume=args.resume)
    if rt.is_main:
        _report_written(args.out, before)
    teardown_runtime()


def cmd_train_classifier(args: argparse.Namespace) -> None:
    import torch

    from diffusegae.evaluation.classifier import save_classifier, train_classifier

    if args.threads:
        torch.set_num_threads(args.threads)
    data = _load_data(args, split="all")
    clf = train_classifier(data.images, data.labels, data.num_values, steps=args.steps, batch_size=args.batch_size,
                           seed=args.seed)
    save_classifier(args.out, clf)
    print(f"wrote {args.out}")


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


def torch_perm(n: int, seed: int):
    import torch

    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def _data_of_model(args: argparse.Namespace, folder, ed) -> None:
    """Without --dataset/--resolution, a model is measured on the data it was trained on, at its resolution."""
    if args.resolution is None:
        args.resolution = ed.info.resolution
    if args.dataset is None:
        trained_on = folder.read_manifest().dataset
        if trained_on in ("", "folder"):
            raise SystemExit(f"{folder.root}/model.json does not name a rendered dataset ({trained_on or 'none'}): "
                             "give --dataset, or --images DIR --labels CSV")
        args.dataset = trained_on


def _classifier_of(args: argparse.Namespace, folder, without: str):
    """--classifier, else the model's eval/classifier.safetensors; None (saying `without` what) when there is none."""
    from diffusegae.evaluation.classifier import load_classifier

    path = args.classifier or (folder.eval_dir / "classifier.safetensors")
    if path.is_file():
        return load_classifier(path)
    print(f"no attribute classifier at {path}: {without}", file=sys.stderr)
    return None


def _editor(args: argparse.Namespace):
    from diffusegae.editing import Editor

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    return Editor.load(args.model, args.device, runtime=getattr(args, "runtime", "torch"), threads=args.threads or None)


def _open_images(paths: list[Path]):
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


def cmd_encode(args: argparse.Namespace) -> None:
    from diffusegae.checkpoint import save_tensors

    ed = _editor(args)
    lat = ed.encode(ed.preprocess(_open_images(args.images)), steps=args.steps, sampler=args.sampler)
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

    ed = _editor(args)
    specs = [_parse_attr(s, ed.info.attributes) for s in args.attr]
    images = ed.preprocess(_open_images([args.base] + [p for _, p, _ in specs]))
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


EVAL_RESULTS = ("metrics.json", "perplexity.png", "interpolation.png", "random_xT.png", "swap_*.png")  # what `evaluate` writes


def _eval_results_in(folder: Path) -> list[Path]:
    return sorted(p for pattern in EVAL_RESULTS for p in folder.glob(pattern)) if folder.is_dir() else []


def _eval_out(args: argparse.Namespace, folder) -> Path:
    """Where `evaluate` writes: --out; else MODEL/eval while it holds no results (or with --overwrite), else
    MODEL/eval-new. Existing results there are never replaced without --overwrite."""
    if args.out is not None:
        out = args.out
    elif args.overwrite or not _eval_results_in(folder.eval_dir):
        out = folder.eval_dir
    else:
        out = folder.root / "eval-new"
        print(f"{folder.eval_dir} holds the model's results; they stay as they are (--overwrite replaces them)",
              file=sys.stderr)
    existing = _eval_results_in(out)
    if existing and not args.overwrite:
        names = ", ".join(p.name for p in existing)
        raise SystemExit(f"{out} already holds results ({names}): name a new folder with --out DIR, "
                         "or pass --overwrite to replace them")
    return out


def cmd_evaluate(args: argparse.Namespace) -> None:
    from diffusegae.evaluation.report import evaluate
    from diffusegae.model_folder import ModelFolder

    folder = ModelFolder(args.model)
    out = _eval_out(args, folder)  # before the slow part: a refusal comes at once
    ed = _editor(args)
    _data_of_model(args, folder, ed)
    data = _load_data(args, split="test")
    clf = _classifier_of(args, folder, "swap accuracy is skipped")
    default_steps = ed.info.default_steps  # what the service decodes with, measured by default
    steps_list = args.steps_list or sorted({10, 20, 50, 100, default_steps})
    print(f"writing metrics.json and figures to {out}", file=sys.stderr, flush=True)
    before = set(_eval_results_in(out))
    result = evaluate(ed, data, out, clf=clf, steps_list=steps_list, recon_images=args.recon_images,
                      swap_pairs_n=args.pairs, edit_steps=args.edit_steps or default_steps,
                      probe_data=_load_data(args, split="all"), log=lambda m: print(m, file=sys.stderr, flush=True))
    (out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    written = _eval_results_in(out)
    replaced = sum(p in before for p in written)
    print(f"wrote {len(written)} files to {out}: {', '.join(p.name for p in written)}"
          + (f" ({replaced} replaced)" if replaced else ""), file=sys.stderr)


def cmd_calibrate(args: argparse.Namespace) -> None:
    """Fewest sampling steps (and the sampler) whose edits stay within tolerance of 100 DDIM steps -> model.json."""
    from diffusegae.fitting.steps import calibrate, write_choice
    from diffusegae.model_folder import ModelFolder

    folder = ModelFolder(args.model)
    before = folder.read_manifest()  # before the slow part: a missing or broken model.json is refused at once
    ed = _editor(args)
    _data_of_model(args, folder, ed)
    data = _load_data(args, split="test")
    clf = _classifier_of(args, folder, "swap accuracy is not checked")
    try:
        result = calibrate(ed, data, tolerance=args.tolerance, accuracy_tolerance=args.accuracy_tolerance, clf=clf,
                           samplers=args.samplers, candidates=args.steps_list, reference_steps=args.reference_steps,
                           images=args.num_images, pairs=args.pairs, seed=args.seed,
                           log=lambda m: print(m, file=sys.stderr, flush=True))
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    choice = result["choice"]
    print(json.dumps(choice))
    if args.dry_run:
        print(f"--dry-run: {folder.manifest_path} unchanged", file=sys.stderr)
        return
    write_choice(folder, choice)
    print(f"wrote default_steps {choice['steps']}, default_sampler {choice['sampler']} to {folder.manifest_path} "
          f"(was {before.default_steps}, {before.default_sampler})", file=sys.stderr)


def cmd_calibrate_domain(args: argparse.Namespace) -> None:
    """Domain statistics and thresholds of a model (MODEL/domain), measured on held-out and out-of-domain images."""
    from diffusegae.data.dataset import RENDERED_KINDS
    from diffusegae.domain import save_domain
    from diffusegae.evaluation.metrics import spread_rows
    from diffusegae.fitting.domain import DESCRIPTIONS, calibrate_domain, upload_renders, write_examples
    from diffusegae.model_folder import ModelFolder

    folder = ModelFolder(args.model)
    manifest = folder.read_manifest()  # before the slow part: a missing or broken model.json is refused at once
    ed = _editor(args)
    if args.resolution is None:
        args.resolution = ed.info.resolution
    if args.dataset == "model":
        if not manifest.dataset:
            raise SystemExit(f"{folder.manifest_path} names no dataset: pass --dataset (toys, vehicles) or your "
                             "--images and --labels")
        args.dataset = manifest.dataset
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    if args.dataset in RENDERED_KINDS:
        train, test = _load_data(args, split="train"), _load_data(args, split="test")
        heldout = {"test": test.images}
        if args.upload_renders:
            log(f"rendering {len(test)} held-out images at {args.dataset} upload size ...")
            heldout["upload"] = ed.preprocess(upload_renders(args.dataset, test.labels, args.resolution)).cpu()
    else:  # your own folder: the model saw all of it; a seeded fifth stands in for held-out images
        data = _load_data(args, split="all")
        perm = spread_rows(len(data), len(data), args.seed)
        n = max(2, len(data) // 5)
        train, test = data.subset(perm[n:]), data.subset(perm[:n])
        heldout = {"test": test.images}
        log(f"{args.dataset}: no held-out split; {n} of the training images stand in for held-out images")
    stats, config = calibrate_domain(ed, train, heldout, dataset=args.dataset, score=args.score, quantile=args.quantile,
                                     margin=args.margin, components=args.components, ood_images=args.ood_images,
                                     seed=args.seed, log=log)
    if not getattr(args, "quiet", False):
        print(json.dumps(config.to_json()["measured"], indent=2))
    if args.dry_run:
        print(f"--dry-run: {folder.domain_dir} unchanged", file=sys.stderr)
        return
    save_domain(folder.domain_dir, stats, config, ed.info.attributes)
    changes = {}
    if not manifest.description and args.dataset in DESCRIPTIONS:
        changes["description"] = DESCRIPTIONS[args.dataset]
    if not folder.example_files():
        changes.update(write_examples(folder, test.subset(spread_rows(len(test), 8, args.seed))))
    if changes:
        folder.write_manifest(dataclasses.replace(manifest, **changes))
    print(f"wrote {folder.domain_dir / 'stats.safetensors'} and {folder.domain_dir / 'model.json'}"
          + (f"; {', '.join(changes)} in {folder.manifest_path}" if changes else ""), file=sys.stderr)


def cmd_curve(args: argparse.Namespace) -> None:
    """Random-x_T attribute accuracy of each stage-1 EMA snapshot: the learning curve of the model card."""
    import torch

    from diffusegae.checkpoint import load_module
    from diffusegae.evaluation.classifier import load_classifier
    from diffusegae.evaluation.metrics import random_xT_retention, spread_rows
    from diffusegae.models.autoencoder import DiffusionAutoencoder

    if args.threads:
        torch.set_num_threads(args.threads)
    data = _load_data(args, split="test")
    data = data.subset(spread_rows(len(data), args.num_images))
    clf = load_classifier(args.classifier)
    rows = []
    for snap in sorted(args.snapshots.glob("ema_*.safetensors")):
        ae = load_module(snap, AutoencoderConfig, DiffusionAutoencoder)
        step = int(snap.stem.split("_")[1])
        acc = random_xT_retention(ae, clf, data, steps=args.steps)
        rows.append({"step": step, **acc})
        print(json.dumps(rows[-1]), flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


def build_parser(*extensions: Callable[[argparse._SubParsersAction], None]) -> argparse.ArgumentParser:
    """The library's commands; each extension adds more subcommands (the service's, from `server.cli`)."""
    parser = argparse.ArgumentParser(prog="diffusegae", description="DiffuseGAE: attribute editing with a diffusion "
                                     "autoencoder and a group-supervised autoencoder.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train one stage").add_subparsers(dest="stage", required=True)
    p = train.add_parser("autoencoder", help="stage 1: semantic encoder + conditional UNet")
    _add_train_data_args(p)
    _add_loop_args(p, steps=20000, lr=1e-4, batch=32, ema=0.999)
    p.add_argument("--snapshot-every", type=int, default=0, help="keep EMA snapshots for a learning curve")
    p.add_argument("--high-noise-frac", type=float, default=0.0,
                   help="fraction of each batch with t drawn from --high-noise-range")
    p.add_argument("--high-noise-range", type=int, nargs=2, metavar=("LO", "HI"), default=None,
                   help="the timesteps [LO, HI) of that fraction (default: the upper half of the schedule)")
    p.add_argument("--init-from", type=Path, default=None,
                   help="start a new run from these stage-1 weights (a model folder or its .safetensors)")
    p.set_defaults(func=cmd_train_autoencoder)

    p = train.add_parser("gae", help="stage 2: group autoencoder on cached latents of the stage-1 encoder")
    _add_train_data_args(p)
    _add_loop_args(p, steps=20000, lr=4e-5, batch=256, ema=0.999)
    p.add_argument("--default-steps", type=int, default=20, help="sampling steps the service uses by default")
    p.add_argument("--default-sampler", default="ddim")
    p.add_argument("--no-domain", dest="domain", action="store_false",
                   help="skip the domain check's calibration at the end (diffusegae calibrate-domain does it later)")
    p.add_argument("--domain-score", default=DOMAIN_DEFAULTS["score"], choices=DOMAIN_SCORES,
                   help="what decides the domain check's verdict (diffusegae calibrate-domain --score)")
    p.add_argument("--domain-ood-images", type=int, default=DOMAIN_DEFAULTS["ood_images"],
                   help="images per out-of-domain set the calibration measures")
    p.set_defaults(func=cmd_train_gae)

    p = train.add_parser("joint", help="stage 3: fine-tune autoencoder + GAE together")
    _add_train_data_args(p)
    _add_loop_args(p, steps=2000, lr=1e-5, batch=0, ema=0.999)
    p.add_argument("--groups", type=int, default=8, help="groups per batch (each k+1 images)")
    p.add_argument("--gamma", type=float, default=1.0, help="weight of L_GAE")
    p.set_defaults(func=cmd_train_joint)

    p = train.add_parser("classifier", help="attribute classifier on rendered images (an evaluation instrument)")
    _add_data_args(p)
    p.add_argument("--out", type=Path, required=True, help="weight file, e.g. models/toys-32/eval/classifier.safetensors")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.set_defaults(func=cmd_train_classifier)

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

    def model_args(p: argparse.ArgumentParser) -> None:
        _add_model_args(p)
        p.add_argument("--runtime", choices=["torch", "onnx"], default="torch",
                       help="what runs the UNet and the encoder: onnx = ONNX Runtime on the CPU (README, \"Inference runtime\")")
        p.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model's)")
        p.add_argument("--sampler", default=None, help="ddim or dpmpp_2m (default: the model's)")

    p = sub.add_parser("encode", help="images -> z_sem, z_dis, x_T (one .safetensors per image)")
    model_args(p)
    p.add_argument("images", type=Path, nargs="+")
    p.add_argument("--out", type=Path, default=Path("latents"))
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("recombine", help="take attributes from donor images")
    model_args(p)
    p.add_argument("--base", type=Path, required=True)
    p.add_argument("--attr", action="append", default=[], metavar="NAME=IMAGE[:WEIGHT]")
    p.add_argument("--seed", type=int, default=None, help="random x_T from this seed instead of the base's inferred one")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_recombine)

    p = sub.add_parser("evaluate", help="metrics JSON + PNG figures on held-out data")
    model_args(p)
    _add_data_args(p)
    p.add_argument("--classifier", type=Path, default=None)
    p.add_argument("--out", type=Path, default=None,
                   help="folder for metrics.json and the figures (default: MODEL/eval while it holds no results, "
                        "else MODEL/eval-new)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing results (without --out: the model's own MODEL/eval)")
    p.add_argument("--steps-list", type=int, nargs="+", default=None,
                   help="step counts of the reconstruction table (default: 10 20 50 100 and the model's default_steps)")
    p.add_argument("--recon-images", type=int, default=128)
    p.add_argument("--pairs", type=int, default=100)
    p.add_argument("--edit-steps", type=int, default=None,
                   help="steps of the swaps, random-x_T decodes and figures (default: the model's default_steps)")
    p.set_defaults(func=cmd_evaluate, resolution=None)  # the model's data at the model's resolution

    p = sub.add_parser("calibrate", help="pick the model's default sampling steps and sampler (writes model.json)",
                       description="Tries the candidate step counts from the fewest up, every sampler at each, and "
                       "writes the first setting whose one-attribute swaps stay within --tolerance (mean MSE, images "
                       "in [0, 1]) of the same swaps at 100 DDIM steps and, with the attribute classifier, whose swap "
                       "accuracy per attribute is at most --accuracy-tolerance below the reference's.")
    _add_model_args(p)
    _add_data_args(p)
    p.set_defaults(resolution=None)  # the model's
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="mean edit MSE against 100 DDIM steps (default 1e-4: RMS 0.01, 2.6 grey levels of 255)")
    p.add_argument("--accuracy-tolerance", type=float, default=0.02,
                   help="how far each attribute's swap accuracy may fall below the reference's")
    p.add_argument("--classifier", type=Path, default=None, help="default: MODEL/eval/classifier.safetensors if there")
    p.add_argument("--samplers", nargs="+", default=None, help="default: all (ddim dpmpp_2m)")
    p.add_argument("--steps-list", type=int, nargs="+", default=None,
                   help="candidate step counts (default 1-10, 12, 15, 20, 25, 30, 40, 50)")
    p.add_argument("--reference-steps", type=int, default=100)
    p.add_argument("--num-images", type=int, default=64, help="held-out images (a seeded spread of the test split)")
    p.add_argument("--pairs", type=int, default=64, help="base/donor pairs among them, each edited once per attribute")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="also write every measurement here (JSON)")
    p.add_argument("--dry-run", action="store_true", help="measure and print, but leave model.json as it is")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("calibrate-domain", help="domain statistics and thresholds: which uploads the model knows "
                       "(writes MODEL/domain)",
                       description="Fits the training distribution's statistics, sets the thresholds on half of the "
                       "held-out images (as rendered, and rendered larger then preprocessed like an upload), and "
                       "measures the in-domain rate on the other half and the flagged rate on generated "
                       "out-of-domain images (solid colours, gradients, noise, text, shapes, photo-like JPEGs, the "
                       "other shipped dataset). Also fills model.json's description and examples when empty.")
    _add_model_args(p)
    _add_data_args(p)
    p.set_defaults(resolution=None, dataset="model")  # the model's resolution and model.json "dataset"
    d = DOMAIN_DEFAULTS
    p.add_argument("--score", default=d["score"], choices=DOMAIN_SCORES,
                   help="what decides: the GAE round-trip error (default), the z_sem Mahalanobis distance, or the "
                   "round trip and every z_dis chunk's cycle error (out of domain when any is out of range)")
    p.add_argument("--quantile", type=float, default=d["quantile"], help="of held-out in-domain scores")
    p.add_argument("--margin", type=float, default=d["margin"], help="thresholds = margin x the quantile")
    p.add_argument("--components", type=int, default=d["components"], help="principal directions of the z_sem Gaussian")
    p.add_argument("--ood-images", type=int, default=d["ood_images"], help="images per out-of-domain set")
    p.add_argument("--no-upload-renders", dest="upload_renders", action="store_false",
                   help="skip the held-out set rendered larger and preprocessed like an upload")
    p.add_argument("--seed", type=int, default=d["seed"])
    p.add_argument("--dry-run", action="store_true", help="measure and print, but write nothing")
    p.set_defaults(func=cmd_calibrate_domain)

    p = sub.add_parser("curve", help="random-x_T attribute accuracy of each stage-1 snapshot")
    _add_data_args(p)
    p.add_argument("--snapshots", type=Path, required=True, help="e.g. models/toys-32/runs/autoencoder")
    p.add_argument("--classifier", type=Path, required=True)
    p.add_argument("--num-images", type=int, default=128)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", type=Path, default=None)
    p.set_defaults(func=cmd_curve)

    for extend in extensions:
        extend(sub)
    return parser


def run(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> None:
    """Parse and run one command; known data and checkpoint errors end it with one line, not a trace."""
    args = parser.parse_args(argv)
    _resolve_dataset(args)  # before the imports below (torch): a wrong command line is refused at once

    from diffusegae.checkpoint import CheckpointError
    from diffusegae.data.folder import DatasetError

    try:
        args.func(args)
    except (CheckpointError, DatasetError) as e:
        raise SystemExit(f"error: {e}") from None


def main(argv: list[str] | None = None) -> None:
    run(build_parser(), argv)


if __name__ == "__main__":
    main(sys.argv[1:])
