"""`diffusegae train autoencoder | gae | joint | classifier`: the three stages and the evaluation instrument."""

from __future__ import annotations

import argparse
from pathlib import Path

from diffusegae.commands.calibrate import DOMAIN_DEFAULTS, DOMAIN_SCORES, calibrate_domain_of, fit_edits_of
from diffusegae.commands.common import (
    add_data_args,
    add_loop_args,
    add_train_data_args,
    default_model,
    files_of,
    load_data,
    loop_config,
    parse_overrides,
    report_written,
    runtime_of,
)
from diffusegae.config import AutoencoderConfig


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
        cfg = AutoencoderConfig(resolution=args.resolution, **parse_overrides(AutoencoderConfig, args.set))
    rt = runtime_of(args)
    data = load_data(args)
    before = files_of(args.out)
    train_autoencoder(cfg, data, args.out, loop_config(args), rt, batch_size=args.batch_size, seed=args.seed,
                      resume=args.resume, snapshot_every=args.snapshot_every, high_noise_frac=args.high_noise_frac,
                      high_noise_range=tuple(args.high_noise_range) if args.high_noise_range else None,
                      init_from=init_from)
    if rt.is_main:
        report_written(args.out, before)
    teardown_runtime()


def cmd_train_gae(args: argparse.Namespace) -> None:
    from diffusegae.checkpoint import load_json
    from diffusegae.config import GAEConfig, default_chunk_sizes, from_json_dict
    from diffusegae.editing import Editor
    from diffusegae.model_folder import ModelFolder, manifest_for
    from diffusegae.training.common import teardown_runtime
    from diffusegae.training.gae import train_gae

    rt = runtime_of(args)
    data = load_data(args)
    folder = ModelFolder(args.out)
    ae = folder.load_autoencoder()
    cfg_path = folder.gae_weights.with_suffix(".json")
    if args.resume and cfg_path.is_file():
        cfg = from_json_dict(GAEConfig, load_json(cfg_path))
    else:
        over = parse_overrides(GAEConfig, args.set)
        over.setdefault("chunk_sizes", default_chunk_sizes(len(data.attributes)))
        cfg = GAEConfig(attributes=data.attributes, z_sem_dim=ae.cfg.z_sem_dim, **over)
    before = files_of(args.out)
    train_gae(cfg, ae, data, args.out, loop_config(args), rt, batch_size=args.batch_size, seed=args.seed, resume=args.resume)
    if rt.is_main:
        folder.write_manifest(manifest_for(args.out.name, data.attributes, data.values, default_steps=args.default_steps,
                                           default_sampler=args.default_sampler, dataset=args.dataset))
        if args.domain:  # the domain check is part of a trained model: thresholds from held-out data, now
            calibrate_domain_of(args, args.out, score=args.domain_score, ood_images=args.domain_ood_images)
        fit_edits_of(args, args.out, Editor.load(args.out, "cpu"))  # value prototypes: edits to a named value
        report_written(args.out, before)
    teardown_runtime()


def cmd_train_quick(args: argparse.Namespace) -> None:
    """A new GAE (and domain check, prototypes) on the frozen autoencoder of --base, on your own images."""
    from diffusegae.editing import read_info
    from diffusegae.training.quick import QuickGAE, gae_on_base

    if args.out.exists() and any(args.out.iterdir()):
        raise SystemExit(f"{args.out} is not empty: give a new folder")
    args.resolution = read_info(args.base).resolution  # the images at the autoencoder's resolution
    data = load_data(args, split="all")
    cfg = QuickGAE(steps=args.steps, lr=args.lr, batch_size=args.batch_size, seed=args.seed, hidden=args.hidden,
                   bottleneck=args.bottleneck)
    gae_on_base(args.base, data, args.out, args.name or args.out.name, cfg,
                description=f"trained on {args.images or args.dataset}", log=lambda m: print(m, flush=True))
    print(f"wrote {args.out}; serve it with: diffusegae models add {args.out}")


def cmd_train_joint(args: argparse.Namespace) -> None:
    from diffusegae.model_folder import ModelFolder, load_parts
    from diffusegae.training.common import teardown_runtime
    from diffusegae.training.joint import joint_steps_of, train_joint

    if args.init_from is not None and args.resume:
        raise SystemExit("--init-from starts a new run from earlier weights; it cannot be combined with --resume")
    rt = runtime_of(args)
    data = load_data(args)
    source = ModelFolder(args.init_from or args.out)
    ae, gae = load_parts(source)
    before = files_of(args.out)
    train_joint(ae, gae, data, args.out, loop_config(args), rt, groups_per_batch=args.groups, gamma=args.gamma,
                seed=args.seed, resume=args.resume, init_step=joint_steps_of(source) if args.init_from else 0)
    if rt.is_main:
        report_written(args.out, before)
    teardown_runtime()


def cmd_train_classifier(args: argparse.Namespace) -> None:
    import torch

    from diffusegae.evaluation.classifier import save_classifier, train_classifier

    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_data(args, split="all")
    clf = train_classifier(data.images, data.labels, data.num_values, steps=args.steps, batch_size=args.batch_size,
                           seed=args.seed)
    save_classifier(args.out, clf)
    print(f"wrote {args.out}")


def add(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train one stage").add_subparsers(dest="stage", required=True)
    p = train.add_parser("autoencoder", help="stage 1: semantic encoder + conditional UNet")
    add_train_data_args(p)
    add_loop_args(p, steps=20000, lr=1e-4, batch=32, ema=0.999)
    p.add_argument("--snapshot-every", type=int, default=0, help="keep EMA snapshots for a learning curve")
    p.add_argument("--high-noise-frac", type=float, default=0.0,
                   help="fraction of each batch with t drawn from --high-noise-range")
    p.add_argument("--high-noise-range", type=int, nargs=2, metavar=("LO", "HI"), default=None,
                   help="the timesteps [LO, HI) of that fraction (default: the upper half of the schedule)")
    p.add_argument("--init-from", type=Path, default=None,
                   help="start a new run from these stage-1 weights (a model folder or its .safetensors)")
    p.set_defaults(func=cmd_train_autoencoder)

    p = train.add_parser("gae", help="stage 2: group autoencoder on cached latents of the stage-1 encoder")
    add_train_data_args(p)
    add_loop_args(p, steps=20000, lr=4e-5, batch=256, ema=0.999)
    p.add_argument("--default-steps", type=int, default=20, help="sampling steps the service uses by default")
    p.add_argument("--default-sampler", default="ddim")
    p.add_argument("--no-domain", dest="domain", action="store_false",
                   help="skip the domain check's calibration at the end (diffusegae calibrate-domain does it later)")
    p.add_argument("--domain-score", default=DOMAIN_DEFAULTS["score"], choices=DOMAIN_SCORES,
                   help="what decides the domain check's verdict (diffusegae calibrate-domain --score)")
    p.add_argument("--domain-ood-images", type=int, default=DOMAIN_DEFAULTS["ood_images"],
                   help="images per out-of-domain set the calibration measures")
    p.set_defaults(func=cmd_train_gae)

    p = train.add_parser("quick", help="the quick path: a GAE for your own labelled images on the frozen "
                         "autoencoder of a model you have (then its domain check and value prototypes)",
                         description="Trains only the GAE (the paper: 'quick experiments on different GAE with the same "
                         "diffusion autoencoder') on --images/--labels (or a rendered --dataset) at the base model's "
                         "resolution, and writes a complete model folder: serve it with diffusegae models add.")
    add_data_args(p)
    p.add_argument("--base", type=Path, default=default_model(), help="the model whose autoencoder is reused")
    p.add_argument("--out", type=Path, required=True, help="a new model folder")
    p.add_argument("--name", default=None, help="the model's name (default: the folder's)")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hidden", type=int, default=1024, help="the GAE's hidden width (smaller: faster on a CPU)")
    p.add_argument("--bottleneck", type=int, default=256)
    p.set_defaults(func=cmd_train_quick)

    p = train.add_parser("joint", help="stage 3: fine-tune autoencoder + GAE together")
    add_train_data_args(p)
    add_loop_args(p, steps=2000, lr=1e-5, batch=0, ema=0.999)
    p.add_argument("--groups", type=int, default=8, help="groups per batch (each k+1 images)")
    p.add_argument("--gamma", type=float, default=1.0, help="weight of L_GAE")
    p.add_argument("--init-from", type=Path, default=None,
                   help="start a new run from the autoencoder/ and gae/ of this folder (e.g. an earlier run's "
                        "EMA weights); the step count continues from theirs when they come from stage 3")
    p.set_defaults(func=cmd_train_joint)

    p = train.add_parser("classifier", help="attribute classifier on rendered images (an evaluation instrument)")
    add_data_args(p)
    p.add_argument("--out", type=Path, required=True, help="weight file, e.g. models/toys-32/eval/classifier.safetensors")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.set_defaults(func=cmd_train_classifier)
