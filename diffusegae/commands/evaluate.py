"""`diffusegae evaluate | curve`: what a model measures on held-out data."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffusegae.commands.common import add_data_args, add_editor_args, classifier_of, data_of_model, editor_of, load_data
from diffusegae.config import AutoencoderConfig

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


def _keep_classifier(args: argparse.Namespace, folder, out: Path) -> dict:
    """The instrument beside the numbers it gave: a --classifier from elsewhere is copied to OUT/classifier.safetensors
    (a different one there only with --overwrite). -> its name and sha256 for metrics.json."""
    import hashlib
    import shutil

    src = args.classifier or (folder.eval_dir / "classifier.safetensors")
    dest = out / "classifier.safetensors"
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    if args.classifier is None:
        return {"path": str(src), "sha256": digest}
    if src.resolve() != dest.resolve():
        if dest.is_file() and hashlib.sha256(dest.read_bytes()).hexdigest() != digest and not args.overwrite:
            print(f"{dest} is another classifier: kept as it is (--overwrite replaces it with {src})", file=sys.stderr)
            return {"path": str(src), "sha256": digest}
        shutil.copyfile(src, dest)
        print(f"copied the classifier {src} to {dest}", file=sys.stderr)
    return {"path": dest.name, "sha256": digest}


def cmd_evaluate(args: argparse.Namespace) -> None:
    from diffusegae.evaluation.report import evaluate
    from diffusegae.model_folder import ModelFolder

    folder = ModelFolder(args.model)
    out = _eval_out(args, folder)  # before the slow part: a refusal comes at once
    ed = editor_of(args)
    data_of_model(args, folder, ed)
    data = load_data(args, split="test")
    if args.draw is not None and (args.dataset != "vehicles" or args.draw < 1):
        raise SystemExit("--draw is a nuisance draw of the vehicles renders, 1 or more (0 is the held-out set itself)")
    clf = classifier_of(args, folder, "swap accuracy is skipped")
    default_steps = ed.info.default_steps  # what the service decodes with, measured by default
    steps_list = args.steps_list or sorted({10, 20, 50, 100, default_steps})
    unseen = None
    if args.draw is not None and clf is not None:
        from diffusegae.evaluation.strict import held_out_draw

        print(f"the held-out rows under nuisance draw {args.draw} (rendered once, then cached) ...", file=sys.stderr,
              flush=True)
        unseen = (args.draw, held_out_draw(args.resolution, args.draw, workers=args.threads or None))
    print(f"writing metrics.json and figures to {out}", file=sys.stderr, flush=True)
    before = set(_eval_results_in(out))
    result = evaluate(ed, data, out, clf=clf, steps_list=steps_list, recon_images=args.recon_images,
                      swap_pairs_n=args.pairs, edit_steps=args.edit_steps or default_steps,
                      probe_data=load_data(args, split="all"), log=lambda m: print(m, file=sys.stderr, flush=True),
                      triples_n=args.triples, threshold=args.strict_threshold, unseen=unseen)
    if clf is not None:
        result["classifier"]["file"] = _keep_classifier(args, folder, out)
    (out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    written = _eval_results_in(out)
    replaced = sum(p in before for p in written)
    print(f"wrote {len(written)} files to {out}: {', '.join(p.name for p in written)}"
          + (f" ({replaced} replaced)" if replaced else ""), file=sys.stderr)



def cmd_curve(args: argparse.Namespace) -> None:
    """Random-x_T attribute accuracy of each stage-1 EMA snapshot: the learning curve of the model card."""
    import torch

    from diffusegae.checkpoint import load_module
    from diffusegae.evaluation.classifier import load_classifier
    from diffusegae.evaluation.metrics import random_xT_retention, spread_rows
    from diffusegae.models.autoencoder import DiffusionAutoencoder

    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_data(args, split="test")
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


@dataclass
class _HeldOut:
    """What evaluate-values and evaluate-diffae read edits on: evaluate's held-out pairs, their latents and reader."""
    folder: Any
    editor: Any
    data: Any
    classifier: Any
    steps: int
    facets: Any
    latents: Any
    pairs: Any


def _held_out(args: argparse.Namespace, fitted: Callable[[Any], bool], missing: str) -> _HeldOut:
    """The model (SystemExit unless `fitted(editor)`, saying it has no `missing`), its held-out split, the attribute
    classifier, their latents at the edit steps and the pairs the full evaluation's strict swaps draw."""
    from diffusegae.evaluation.metrics import encode_latents
    from diffusegae.evaluation.strict import draw_rows, facets_of
    from diffusegae.model_folder import ModelFolder

    folder = ModelFolder(args.model)
    ed = editor_of(args)
    if not fitted(ed):
        raise SystemExit(f"{folder.root} has no {missing}: run diffusegae fit-edits --model {folder.root} first")
    data_of_model(args, folder, ed)
    data = load_data(args, split="test")
    clf = classifier_of(args, folder, "nothing to read the edits with")
    if clf is None:
        raise SystemExit(1)
    steps = args.edit_steps or ed.info.default_steps
    facets = facets_of(data.attributes, data.values)
    print(f"encoding {len(data)} held-out images at {steps} steps ...", file=sys.stderr, flush=True)
    lat = encode_latents(ed, data.images, steps=steps)
    return _HeldOut(folder, ed, data, clf, steps, facets, lat, draw_rows(data, args.pairs, 2, facets, seed=0))


def _write_eval(h: _HeldOut, name: str, result: dict) -> None:
    h.folder.eval_dir.mkdir(parents=True, exist_ok=True)
    (h.folder.eval_dir / name).write_text(json.dumps(result, indent=2) + "\n")


def cmd_evaluate_values(args: argparse.Namespace) -> None:
    """Edits to a named value, read strictly, on the held-out pairs the full evaluation's strict swaps use (the same
    rows, latents and steps: its donor swaps in metrics.json are the comparison) -> MODEL/eval/values.json."""
    from diffusegae.evaluation.strict import swaps

    h = _held_out(args, lambda ed: ed.prototypes is not None, "value prototypes")
    print(f"{len(h.pairs)} bases, each attribute set to its donor's value by name ...", file=sys.stderr, flush=True)
    result = {"images": len(h.data), "edit_steps": h.steps, "threshold": args.strict_threshold,
              "rule": "the strict reading of metrics.json (strict_rule), on its pairs: the base with one attribute set "
                      "to the donor's value through that value's prototype chunk (weight 1, inferred x_T)",
              "inferred_xT": swaps(h.editor, h.classifier, h.data, h.latents, h.pairs, steps=h.steps, facets=h.facets,
                                   threshold=args.strict_threshold, by_value=True)}
    _write_eval(h, "values.json", result)
    print(json.dumps({a: result["inferred_xT"][a]["all"] for a in h.data.attributes}, indent=2))


def cmd_evaluate_diffae(args: argparse.Namespace) -> None:
    """Diff-AE's direction edits at each amplitude of `--alphas`, read strictly on the held-out pairs of evaluate
    (as evaluate-values reads edits to a named value) -> MODEL/eval/diffae.json."""
    from diffusegae.evaluation.strict import direction_swaps

    h = _held_out(args, lambda ed: ed.directions is not None, "Diff-AE directions")
    result = {"images": len(h.data), "edit_steps": h.steps, "threshold": args.strict_threshold,
              "rule": "the strict reading of metrics.json (strict_rule), on its pairs: the base's z_sem moved towards "
                      "the donor's value of one attribute along Diff-AE's direction (amplitude alpha), decoded with "
                      "the base's inferred x_T and with a seeded random one"}
    for which, seed in (("inferred_xT", None), ("random_xT", 0)):
        result[which] = []
        for alpha in args.alphas:
            print(f"{len(h.pairs)} bases, each attribute moved towards its donor's value, alpha {alpha}, {which} ...",
                  file=sys.stderr, flush=True)
            result[which].append(direction_swaps(h.editor, h.classifier, h.data, h.latents, h.pairs, alpha,
                                                 steps=h.steps, facets=h.facets, threshold=args.strict_threshold,
                                                 seed=seed))
    _write_eval(h, "diffae.json", result)
    print(json.dumps({w: {r["alpha"]: {a: r[a]["all"]["rate"] for a in h.data.attributes} for r in result[w]}
                      for w in ("inferred_xT", "random_xT")}, indent=2))


def _held_out_args(p: argparse.ArgumentParser) -> None:
    """The arguments of `_held_out`."""
    add_editor_args(p)
    add_data_args(p)
    p.add_argument("--classifier", type=Path, default=None)
    p.add_argument("--pairs", type=int, default=256, help="as the evaluation that wrote metrics.json")
    p.add_argument("--edit-steps", type=int, default=None)
    p.add_argument("--strict-threshold", type=float, default=0.9)


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="metrics JSON + PNG figures on held-out data")
    add_editor_args(p)
    add_data_args(p)
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
    p.add_argument("--triples", type=int, default=None,
                   help="base/donor/donor triples of the multi-attribute swaps (paper Fig. 6; default: --pairs)")
    p.add_argument("--draw", type=int, default=None, metavar="D",
                   help="vehicles: also measure the swaps on the held-out rows photographed under nuisance draw D "
                        "(light, exposure, jitter, texture offset, grain); D >= 4 is one no stage of the shipped model saw")
    p.add_argument("--strict-threshold", type=float, default=0.9,
                   help="the strict reading: a value (and each facet of it, e.g. surface kind and colour) counts as "
                        "read at this classifier probability or more")
    p.set_defaults(func=cmd_evaluate, resolution=None)  # the model's data at the model's resolution

    p = sub.add_parser("evaluate-values", help="edits to a named value, read strictly on the held-out pairs of "
                       "evaluate (writes MODEL/eval/values.json)")
    _held_out_args(p)
    p.set_defaults(func=cmd_evaluate_values, resolution=None)
    p = sub.add_parser("evaluate-diffae", help="Diff-AE's direction edits at several amplitudes, read strictly on the "
                       "held-out pairs of evaluate (writes MODEL/eval/diffae.json)")
    _held_out_args(p)
    p.add_argument("--alphas", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.5, 0.8],
                   help="amplitudes (Diff-AE's demo: -0.5..0.5)")
    p.set_defaults(func=cmd_evaluate_diffae, resolution=None)

    p = sub.add_parser("curve", help="random-x_T attribute accuracy of each stage-1 snapshot")
    add_data_args(p)
    p.add_argument("--snapshots", type=Path, required=True, help="e.g. models/toys-32/runs/autoencoder")
    p.add_argument("--classifier", type=Path, required=True)
    p.add_argument("--num-images", type=int, default=128)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", type=Path, default=None)
    p.set_defaults(func=cmd_curve)
