"""`diffusegae calibrate | calibrate-domain | fit-edits`: the fitting stages that write a model folder after training."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from diffusegae.commands.common import add_data_args, add_model_args, classifier_of, data_of_model, editor_of, load_data


def cmd_calibrate(args: argparse.Namespace) -> None:
    """Fewest sampling steps (and the sampler) whose edits stay within tolerance of 100 DDIM steps -> model.json."""
    from diffusegae.fitting.steps import calibrate, write_choice
    from diffusegae.model_folder import ModelFolder

    folder = ModelFolder(args.model)
    before = folder.read_manifest()  # before the slow part: a missing or broken model.json is refused at once
    ed = editor_of(args)
    data_of_model(args, folder, ed)
    data = load_data(args, split="test")
    clf = classifier_of(args, folder, "swap accuracy is not checked")
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


DOMAIN_SCORES = ("roundtrip", "mahalanobis", "roundtrip+chunks")  # diffusegae.domain.SCORES, without importing torch
DOMAIN_DEFAULTS = {"score": "roundtrip", "quantile": 0.995, "margin": 1.5, "components": 32, "ood_images": 100}


def domain_data(args: argparse.Namespace, ed, *, upload_renders: bool = True) -> tuple:
    """The data args' training images, held-out images and the held-out sets the calibration measures (the test split
    as rendered and, with `upload_renders`, rendered larger then preprocessed like an upload) -> (train, test, sets)."""
    from diffusegae.data.dataset import RENDERED_KINDS
    from diffusegae.fitting.domain import stand_in_split
    from diffusegae.fitting.domain import upload_renders as renders_at_upload_size

    if args.dataset in RENDERED_KINDS:
        train, test = load_data(args, split="train"), load_data(args, split="test")
        heldout = {"test": test.images}
        if upload_renders:
            _log(f"rendering {len(test)} held-out images at {args.dataset} upload size ...")
            heldout["upload"] = ed.preprocess(renders_at_upload_size(args.dataset, test.labels, args.resolution)).cpu()
        return train, test, heldout
    train, test = stand_in_split(load_data(args, split="all"), getattr(args, "seed", 0))
    _log(f"{args.dataset}: no held-out split; {len(test)} of the training images stand in for held-out images")
    return train, test, {"test": test.images}


def calibrate_domain_of(args: argparse.Namespace, model: Path, *, score: str, ood_images: int,
                        upload_renders: bool = True, seed: int = 0, quantile: float = DOMAIN_DEFAULTS["quantile"],
                        margin: float = DOMAIN_DEFAULTS["margin"], components: int = DOMAIN_DEFAULTS["components"],
                        dry_run: bool = False) -> dict:
    """The domain check of the model folder `model` on the data that `args`' data arguments name (the model's own
    dataset unless they name another) -> what calibration measured. `train gae` calls it for the model it wrote."""
    from diffusegae.editing import Editor
    from diffusegae.fitting.domain import calibrate_domain, fit_model_domain
    from diffusegae.model_folder import ModelFolder

    folder = ModelFolder(model)
    manifest = folder.read_manifest()  # before the slow part: a missing or broken model.json is refused at once
    ed = Editor.load(model, args.device)
    if args.resolution is None:
        args.resolution = ed.info.resolution
    if args.dataset == "model":
        if not manifest.dataset:
            raise SystemExit(f"{folder.manifest_path} names no dataset: pass --dataset (toys, vehicles) or your "
                             "--images and --labels")
        args.dataset = manifest.dataset
    train, test, heldout = domain_data(args, ed, upload_renders=upload_renders)
    options = {"score": score, "quantile": quantile, "margin": margin, "components": components,
               "ood_images": ood_images}
    if dry_run:
        _, config = calibrate_domain(ed, train, heldout, dataset=args.dataset, seed=seed, log=_log, **options)
        _log(f"--dry-run: {folder.domain_dir} unchanged")
        return config.to_json()["measured"]
    config, changed = fit_model_domain(folder, ed, train, test, heldout, dataset=args.dataset, seed=seed, log=_log,
                                       **options)
    _log(f"wrote {folder.domain_dir / 'stats.safetensors'} and {folder.domain_dir / 'model.json'}"
         + (f"; {', '.join(changed)} in {folder.manifest_path}" if changed else ""))
    return config.to_json()["measured"]


def cmd_calibrate_domain(args: argparse.Namespace) -> None:
    """Domain statistics and thresholds of a model (MODEL/domain), measured on held-out and out-of-domain images."""
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    measured = calibrate_domain_of(args, args.model, score=args.score, ood_images=args.ood_images,
                                   upload_renders=args.upload_renders, seed=args.seed, quantile=args.quantile,
                                   margin=args.margin, components=args.components, dry_run=args.dry_run)
    print(json.dumps(measured, indent=2))


def fit_edits_of(args: argparse.Namespace, model: Path, ed=None) -> dict:
    """Fit what the edit methods need beside the GAE into MODEL/edits (value prototypes, Diff-AE's directions) ->
    what was fitted."""
    from diffusegae.fitting.directions import fit_directions, save_directions
    from diffusegae.fitting.prototypes import fit_prototypes, save_prototypes
    from diffusegae.model_folder import ModelFolder

    folder = ModelFolder(model)
    ed = ed or editor_of(args)
    data_of_model(args, folder, ed)
    data = load_data(args, split="train" if args.dataset != "folder" else "all")
    _log(f"value prototypes: z_dis of {len(data)} {args.dataset} images ...")
    protos, config = fit_prototypes(ed, data)
    save_prototypes(folder.edits_dir, protos, config)
    _log(f"wrote {folder.edits_dir}: prototypes of {sum(len(c) for c in config.counts.values())} values")
    _log("Diff-AE directions: one-vs-rest classifiers on norm(z_sem) ...")
    directions, fitted = fit_directions(ed, data)
    save_directions(folder.edits_dir, directions, fitted)
    _log(f"wrote {folder.edits_dir}: directions, accuracy on the fitting images {dict(fitted.accuracy)}")
    return {**config.to_json(), "directions": fitted.to_json()}


def cmd_fit_edits(args: argparse.Namespace) -> None:
    print(json.dumps(fit_edits_of(args, args.model)))


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="pick the model's default sampling steps and sampler (writes model.json)",
                       description="Tries the candidate step counts from the fewest up, every sampler at each, and "
                       "writes the first setting whose one-attribute swaps stay within --tolerance (mean MSE, images "
                       "in [0, 1]) of the same swaps at 100 DDIM steps and, with the attribute classifier, whose swap "
                       "accuracy per attribute is at most --accuracy-tolerance below the reference's.")
    add_model_args(p)
    add_data_args(p)
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

    p = sub.add_parser("fit-edits", help="fit what the edit methods need beside the GAE (writes MODEL/edits: each "
                       "attribute value's prototype z_dis chunk, for edits to a named value)",
                       description="Encodes the model's training images (encoder and GAE, no inversion) and keeps, for "
                       "each attribute value, the mean z_dis chunk of the images with that value: the target of an "
                       "edit that sets an attribute to a value without a donor image.")
    add_model_args(p)
    add_data_args(p)
    p.set_defaults(resolution=None, dataset=None, func=cmd_fit_edits)

    p = sub.add_parser("calibrate-domain", help="domain statistics and thresholds: which uploads the model knows "
                       "(writes MODEL/domain)",
                       description="Fits the training distribution's statistics, sets the thresholds on half of the "
                       "held-out images (as rendered, and rendered larger then preprocessed like an upload), and "
                       "measures the in-domain rate on the other half and the flagged rate on generated "
                       "out-of-domain images (solid colours, gradients, noise, text, shapes, photo-like JPEGs, the "
                       "other shipped dataset). Also fills model.json's description and examples when empty.")
    add_model_args(p)
    add_data_args(p)
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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dry-run", action="store_true", help="measure and print, but write nothing")
    p.set_defaults(func=cmd_calibrate_domain)
