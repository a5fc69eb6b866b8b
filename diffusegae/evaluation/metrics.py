"""Measurements on decoded images (`evaluation.report.evaluate` runs them all):

- reconstruction MSE (images in [0, 1]) with the inferred x_T, per sampler and step count;
- attribute-swap accuracy judged by the attribute classifier, decoding with the base's inferred
  x_T (faithful replacement) and with a random x_T (recombination);
- how well a random-x_T decode keeps the input's attributes (is z_sem what decides the picture?).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from diffusegae.data.dataset import LabeledImages
from diffusegae.data.groups import distinct_rows
from diffusegae.diffusion.samplers import ddim_sample
from diffusegae.editing import Editor, Latents, recombine
from diffusegae.evaluation.classifier import AttributeClassifier
from diffusegae.models.autoencoder import DiffusionAutoencoder


def batches(n: int, size: int):
    for i in range(0, n, size):
        yield slice(i, min(n, i + size))


def mse01(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean squared error of images in [-1, 1], measured in [0, 1] units."""
    return ((a.clamp(-1, 1) - b.clamp(-1, 1)) / 2).pow(2).mean().item()


@torch.no_grad()
def reconstruction(editor: Editor, x0: torch.Tensor, steps_list: list[int], samplers: list[str],
                   batch: int = 64) -> dict[str, dict[str, float]]:
    """Invert each image with its own z_sem, decode it back, and report the MSE per (sampler, steps)."""
    out: dict[str, dict[str, float]] = {}
    for name in samplers:
        out[name] = {}
        for steps in steps_list:
            errs = []
            for sl in batches(x0.shape[0], batch):
                lat = editor.encode(x0[sl], steps=steps, sampler=name)
                rec = editor.decode(lat.z_dis, lat.x_T, steps=steps, sampler=name)
                errs.append(mse01(rec, x0[sl]) * (sl.stop - sl.start))
            out[name][str(steps)] = sum(errs) / x0.shape[0]
    return out


def random_xT_mse(editor: Editor, x0: torch.Tensor, steps_list: list[int], seed: int = 0,
                  batch: int = 64) -> dict[str, float]:
    """Each image's own z_dis decoded with a seeded random x_T instead of its inferred one: MSE against the image
    per steps (default sampler). Next to the reconstruction MSE it says how much of the picture x_T carries."""
    out = {}
    for steps in steps_list:
        errs = []
        for sl in batches(x0.shape[0], batch):
            z_dis = editor.z_dis_of(x0[sl])
            x_T = editor.random_x_T(range(seed + sl.start, seed + sl.stop))
            errs.append(mse01(editor.decode(z_dis, x_T, steps=steps), x0[sl]) * (sl.stop - sl.start))
        out[str(steps)] = sum(errs) / x0.shape[0]
    return out


@torch.no_grad()
def random_xT_predictions(ae: DiffusionAutoencoder, clf: AttributeClassifier, images: torch.Tensor, *,
                          steps: int = 20, seed: int = 0, batch: int = 64,
                          cond_fn: Callable | None = None) -> torch.Tensor:
    """Images (N, 3, R, R) -> what the classifier reads (N, A) in decodes of their z_sem (or cond_fn(z_sem)) from
    a seeded random x_T at `steps` DDIM steps."""
    gen = torch.Generator().manual_seed(seed)
    ts = ae.schedule.timesteps(steps)
    preds = []
    for sl in batches(images.shape[0], batch):
        x0 = images[sl]
        z = ae.encode(x0)
        cond = cond_fn(z) if cond_fn else z
        x_T = torch.randn(x0.shape, generator=gen)
        preds.append(clf.predict(ddim_sample(ae.eps, x_T, ts, ae.schedule, cond=cond)))
    return torch.cat(preds)


def random_xT_retention(ae: DiffusionAutoencoder, clf: AttributeClassifier, data: LabeledImages, *, steps: int = 20,
                        seed: int = 0, batch: int = 64, cond_fn: Callable | None = None) -> dict[str, float]:
    """Decode z_sem (or cond_fn(z_sem)) with a random x_T; share of attributes the classifier still reads right."""
    pred = random_xT_predictions(ae, clf, data.images, steps=steps, seed=seed, batch=batch, cond_fn=cond_fn)
    acc = (pred == data.labels).float().mean(0)
    return {a: round(acc[j].item(), 4) for j, a in enumerate(data.attributes)} | {
        "all": round((pred == data.labels).all(1).float().mean().item(), 4)}


def spread_rows(n_rows: int, n: int, seed: int = 0) -> torch.Tensor:
    """n seeded random row indices of n_rows: a subset that covers every attribute, unlike the sorted head."""
    return torch.randperm(n_rows, generator=torch.Generator().manual_seed(seed))[:n]


def swap_pairs(labels: torch.Tensor, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n (base, donor) row pairs that differ in every attribute (data.groups.distinct_rows); fewer where the data hold
    fewer, and a ValueError where they hold none (e.g. an attribute with one value)."""
    rows = distinct_rows(labels, n, 2, seed)
    if rows.shape[0] == 0:
        raise ValueError("no two rows differ in every attribute: swaps cannot be measured on this data")
    return rows[:, 0], rows[:, 1]


@torch.no_grad()
def swap_accuracy(editor: Editor, clf: AttributeClassifier, data: LabeledImages, lat: Latents, *, pairs: int = 100,
                  steps: int = 20, batch: int = 64, seed: int | None = None) -> dict[str, dict[str, float]]:
    """For each attribute: take its chunk from a donor (weight 1), decode with the base's inferred x_T
    (faithful replacement) or, given a seed, with a random x_T (recombination).

    Success = the classifier reads the donor's value for that attribute and the base's for all the
    others. `lat` holds the latents of every row of `data`. This is the loose reading (the most likely value, on
    pairs that may share a surface kind or colour); `evaluate` now measures with `evaluation.strict`, which reports
    this reading of the same decodes beside the strict one.
    """
    bases, donors = swap_pairs(data.labels, pairs)
    x_T = lat.x_T if seed is None else torch.randn(lat.x_T.shape, generator=torch.Generator().manual_seed(seed))
    out = {}
    for j, name in enumerate(data.attributes):
        hits = {"swapped": 0, "kept": 0, "all": 0}
        for sl in batches(pairs, batch):
            b, d = bases[sl], donors[sl]
            z = recombine(lat.z_dis[b], {name: (lat.z_dis[d], 1.0)}, editor.slices)
            pred = clf.predict(editor.decode(z, x_T[b], steps=steps))
            want = data.labels[b].clone()
            want[:, j] = data.labels[d, j]
            right = pred == want
            others = torch.ones(len(data.attributes), dtype=torch.bool)
            others[j] = False
            hits["swapped"] += right[:, j].sum().item()
            hits["kept"] += right[:, others].all(1).sum().item()
            hits["all"] += right.all(1).sum().item()
        out[name] = {k: round(v / pairs, 4) for k, v in hits.items()}
    return out


@torch.no_grad()
def encode_latents(editor: Editor, x0: torch.Tensor, *, steps: int, batch: int = 128) -> Latents:
    parts = [editor.encode(x0[sl], steps=steps) for sl in batches(x0.shape[0], batch)]
    return Latents(*(torch.cat([getattr(p, f) for p in parts]) for f in ("z_sem", "z_dis", "x_T")))
