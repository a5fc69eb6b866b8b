"""`diffusegae calibrate`: the fewest sampling steps (and the sampler) a model needs for its edits.

An edit here is what the service does most: invert the base image at S steps, take one attribute's z_dis chunk
from a donor (weight 1), decode with the base's inferred x_T at S steps. Its error is the MSE (images in [0, 1])
against the same edit made at the reference setting, 100 DDIM steps. A setting passes when

- the mean edit error is within `tolerance` (default 1e-4: an RMS difference of 0.01, 2.6 grey levels of 255,
  below the paper's own 100-step reconstruction error, MSE 8.56e-5, PAPER.md section 6), and
- given the attribute classifier, each attribute's swap accuracy (the share of edits where the classifier reads
  the donor's value for the swapped attribute and the base's for the others, as in `metrics.swap_accuracy`) is
  at most `accuracy_tolerance` (default 0.02) below the reference's.

The candidates are tried from the fewest steps up, every sampler at each count; the first count where some sampler
passes wins, the sampler with the smaller edit error among those that pass. When nothing passes, the reference
itself is chosen. Base/donor pairs differ in every attribute (`metrics.swap_pairs`); each pair is edited once per
attribute, as `swap_accuracy` does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from diffusegae.data.dataset import LabeledImages
from diffusegae.diffusion.samplers import SAMPLERS, Sampler
from diffusegae.editing import Editor, recombine
from diffusegae.evaluation.classifier import AttributeClassifier
from diffusegae.evaluation.metrics import batches, mse01, spread_rows, swap_pairs
from diffusegae.model_folder import ModelFolder

DEFAULT_TOLERANCE = 1e-4  # mean edit MSE against the reference, images in [0, 1]
DEFAULT_ACCURACY_TOLERANCE = 0.02  # swap accuracy may fall this far below the reference's, per attribute
DEFAULT_CANDIDATES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 25, 30, 40, 50)
REFERENCE = ("ddim", 100)  # sampler, steps

Log = Callable[[str], None]


@dataclass(frozen=True)
class EditSet:
    """Images with their labels, and the one-attribute edits made from them: edit e gives the image
    `bases[e]` attribute `attrs[e]` of the image `donors[e]` (rows of `x0`)."""

    x0: torch.Tensor  # (N, 3, R, R) in [-1, 1]
    labels: torch.Tensor  # (N, k)
    bases: torch.Tensor  # (E,)
    donors: torch.Tensor  # (E,)
    attrs: torch.Tensor  # (E,) attribute index


def edit_set(data: LabeledImages, *, images: int, pairs: int, seed: int = 0) -> EditSet:
    """`images` seeded held-out rows (`spread_rows`) and `pairs` base/donor pairs among them, each pair edited
    once per attribute (pairs x k edits, grouped by attribute)."""
    sub = data.subset(spread_rows(len(data), min(images, len(data)), seed))
    b, d = swap_pairs(sub.labels, pairs, seed)
    k = len(data.attributes)
    return EditSet(sub.images, sub.labels, b.repeat(k), d.repeat(k), torch.arange(k).repeat_interleave(pairs))


@dataclass
class Measured:
    sampler: str
    steps: int
    spacing: str | None
    recon_mse: float  # invert-then-decode of every image, against the image
    edits: torch.Tensor  # (E, 3, R, R) decoded edits in [-1, 1]


@torch.no_grad()
def measure(editor: Editor, es: EditSet, *, sampler: str, steps: int, spacing: str | None = None,
            from_clean: bool | None = None, fns: Sampler | None = None, batch: int = 64) -> Measured:
    """Invert every image at `steps` (timesteps of `spacing`, default the library's, from the clean image: as
    `Editor.encode` and `Editor.decode` do), decode them back (the reconstruction error) and decode every edit
    with its base's inferred x_T. `from_clean` None: True except with "linspace" timesteps, which invert from the
    image taken as x_0, as before issue 15. `fns` (sample, invert) replaces the sampler's functions."""
    ts = editor.ae.schedule.timesteps(steps, spacing)
    from_clean = spacing != "linspace" if from_clean is None else from_clean
    sample, invert = fns or SAMPLERS[sampler]
    eps, schedule = editor.ae.eps, editor.ae.schedule
    n = es.x0.shape[0]
    z_dis = torch.cat([editor.z_dis_of(es.x0[sl]) for sl in batches(n, batch)])
    x_T = torch.zeros_like(es.x0)
    err = 0.0
    for sl in batches(n, batch):
        x0, cond = es.x0[sl].to(editor.device), editor.condition(z_dis[sl])
        x_T[sl] = invert(eps, x0, ts, schedule, cond=cond, from_clean=from_clean).cpu()
        rec = sample(eps, x_T[sl].to(editor.device), ts, schedule, cond=cond)
        err += mse01(rec.cpu(), es.x0[sl]) * (sl.stop - sl.start)
    names = list(editor.slices)
    out = []
    for sl in batches(es.bases.numel(), batch):
        b, d, a = es.bases[sl], es.donors[sl], es.attrs[sl]
        z = z_dis[b].clone()
        for j in a.unique().tolist():  # one recombine per attribute present in this batch
            m = a == j
            z[m] = recombine(z_dis[b[m]], {names[j]: (z_dis[d[m]], 1.0)}, editor.slices)
        out.append(sample(eps, x_T[b].to(editor.device), ts, schedule, cond=editor.condition(z)).cpu())
    return Measured(sampler, steps, spacing, err / n, torch.cat(out))


def edit_error(a: Measured, b: Measured) -> float:
    return mse01(a.edits, b.edits)


@torch.no_grad()
def swap_accuracies(clf: AttributeClassifier, es: EditSet, m: Measured) -> list[float]:
    """Per attribute: share of its edits the classifier reads right in every attribute (swap_accuracy's "all")."""
    want = es.labels[es.bases].clone()
    want[torch.arange(es.attrs.numel()), es.attrs] = es.labels[es.donors, es.attrs]
    right = (clf.predict(m.edits) == want).all(1).float()
    return [right[es.attrs == j].mean().item() for j in range(es.labels.shape[1])]


def calibrate(editor: Editor, data: LabeledImages, *, tolerance: float = DEFAULT_TOLERANCE,
              accuracy_tolerance: float = DEFAULT_ACCURACY_TOLERANCE, clf: AttributeClassifier | None = None,
              samplers: Sequence[str] | None = None, candidates: Sequence[int] | None = None,
              reference_steps: int = REFERENCE[1], images: int = 64, pairs: int = 64, seed: int = 0,
              log: Log | None = None) -> dict:
    """Measure the candidates against the reference (see the module docstring); returns the choice and every
    measurement as a JSON-able dict."""
    log = log or (lambda m: None)
    samplers = list(samplers or SAMPLERS)
    unknown = [s for s in samplers if s not in SAMPLERS]
    if unknown:
        raise ValueError(f"unknown sampler(s) {unknown}; choose from {list(SAMPLERS)}")
    es = edit_set(data, images=images, pairs=pairs, seed=seed)
    attributes = list(data.attributes)
    spacing = editor.info.spacing  # the model's, which the choice is written with
    ref = measure(editor, es, sampler=REFERENCE[0], steps=reference_steps, spacing=spacing)
    ref_acc = swap_accuracies(clf, es, ref) if clf is not None else None
    reference = {"sampler": REFERENCE[0], "steps": reference_steps, "recon_mse": ref.recon_mse}
    if ref_acc is not None:
        reference["swap_accuracy"] = dict(zip(attributes, ref_acc))
    log(f"reference {REFERENCE[0]} {reference_steps} steps: reconstruction MSE {ref.recon_mse:.2e}"
        + (f", swap accuracy {_fmt_acc(ref_acc)}" if ref_acc is not None else ""))
    rows, choice = [], None
    for steps in sorted(set(candidates or DEFAULT_CANDIDATES)):
        if steps >= reference_steps:
            break
        passed = []
        for name in samplers:
            m = measure(editor, es, sampler=name, steps=steps, spacing=spacing)
            row = {"sampler": name, "steps": steps, "edit_mse": edit_error(m, ref), "recon_mse": m.recon_mse}
            ok = row["edit_mse"] <= tolerance
            if ref_acc is not None:
                acc = swap_accuracies(clf, es, m)
                row["swap_accuracy"] = dict(zip(attributes, acc))
                ok = ok and all(a >= r - accuracy_tolerance for a, r in zip(acc, ref_acc))
            row["passes"] = ok
            rows.append(row)
            log(f"{name:9s} {steps:3d} steps: edit MSE {row['edit_mse']:.2e}, reconstruction MSE {m.recon_mse:.2e}"
                + (f", swap accuracy {_fmt_acc(acc)}" if ref_acc is not None else "") + (" -> passes" if ok else ""))
            if ok:
                passed.append(row)
        if passed:
            best = min(passed, key=lambda r: r["edit_mse"])
            choice = {"steps": steps, "sampler": best["sampler"], "spacing": spacing, "edit_mse": best["edit_mse"]}
            break
    if choice is None:
        choice = {"steps": reference_steps, "sampler": REFERENCE[0], "spacing": spacing, "edit_mse": 0.0}
        log(f"no candidate within tolerance: the reference ({REFERENCE[0]}, {reference_steps} steps) is the default")
    return {"choice": choice, "tolerance": tolerance,
            "accuracy_tolerance": accuracy_tolerance if ref_acc is not None else None,
            "images": int(es.x0.shape[0]), "edits": int(es.bases.numel()), "pairs": pairs,
            "reference": reference, "rows": rows}


def write_choice(folder: ModelFolder, choice: dict) -> None:
    """Set the manifest's default_steps, default_sampler and the spacing they were measured with; everything else
    in model.json stays."""
    manifest = folder.read_manifest()
    folder.write_manifest(dataclasses.replace(manifest, default_steps=int(choice["steps"]),
                                              default_sampler=str(choice["sampler"]),
                                              spacing=str(choice.get("spacing") or manifest.spacing)))


def _fmt_acc(acc: Sequence[float]) -> str:
    return " / ".join(f"{a:.3f}" for a in acc)
