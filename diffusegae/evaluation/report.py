"""`diffusegae evaluate`: every measurement of the model card, plus the PNG figures.

- reconstruction MSE (images in [0, 1]) with the inferred x_T, per sampler and step count;
- the perplexity matrix of linear probes on z_dis chunks (PAPER.md section 6);
- attribute-swap accuracy judged by the attribute classifier, decoding with the base's inferred
  x_T (faithful replacement) and with a random x_T (recombination): one attribute from a donor, and two from two
  donors (paper Fig. 6), read strictly (`evaluation.strict`: the donor's surface kind *and* colour, each rate with
  its pair count and a 95% interval) and the card's old, loose way; on the held-out photographs and, given
  `unseen`, on new photographs of the same combinations under a nuisance draw no stage saw;
- the classifier's own accuracy on those photographs (per attribute and facet), so that its reading can be trusted;
- how well a random-x_T decode keeps the input's attributes (is z_sem what decides the picture?).

Each stage shows a tqdm bar (on stderr) with its own estimate of the time left. The sampler stages count
images x sampler steps (an encode inverts `steps` steps, a decode samples them), so a batch at 100 steps
moves the bar as far as it costs; the bars are driven by thin wrappers around the editor and the classifier
that the measurements call, so the measurements themselves are unchanged.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from diffusegae.data.dataset import LabeledImages
from diffusegae.diffusion.samplers import SAMPLERS
from diffusegae.editing import Editor
from diffusegae.evaluation.classifier import AttributeClassifier
from diffusegae.evaluation.figures import heatmap, interpolation_strips, random_xT_variations, swap_grid
from diffusegae.evaluation.metrics import (
    batches,
    encode_latents,
    random_xT_mse,
    random_xT_retention,
    reconstruction,
    spread_rows,
)
from diffusegae.evaluation.probes import perplexity_matrix
from diffusegae.evaluation.strict import (
    DEFAULT_THRESHOLD,
    clean_accuracy,
    draw_rows,
    facets_of,
    mixture_check,
    multi_swaps,
    swaps,
)

Log = Callable[[str], None]

FIGURE_PAIRS = 5  # swap grids: 5 bases x 5 donors per attribute
FIGURE_FRAMES = 7  # interpolation strips: frames per row
FIGURE_VARIATION_ROWS, FIGURE_SEEDS = 4, 6  # random-x_T variations: images x random codes


class _TickingEditor:
    """The editor, but every encode/decode moves `bar` by images x sampler steps (z_dis_of by images)."""

    def __init__(self, editor: Editor, bar: tqdm) -> None:
        self._editor, self._bar = editor, bar

    def __getattr__(self, name: str) -> Any:
        return getattr(self._editor, name)

    def _steps(self, kw: dict) -> int:
        return kw.get("steps") or self._editor.info.default_steps

    def encode(self, x0: torch.Tensor, **kw):
        out = self._editor.encode(x0, **kw)
        self._bar.update(x0.shape[0] * self._steps(kw))
        return out

    def decode(self, z_dis: torch.Tensor, x_T: torch.Tensor, **kw) -> torch.Tensor:
        out = self._editor.decode(z_dis, x_T, **kw)
        self._bar.update(z_dis.shape[0] * self._steps(kw))
        return out

    def z_dis_of(self, x0: torch.Tensor) -> torch.Tensor:
        out = self._editor.z_dis_of(x0)
        self._bar.update(x0.shape[0])
        return out


class _TickingClassifier:
    """The classifier, but each prediction (one decoded batch) moves `bar` by images x `steps`."""

    def __init__(self, clf: AttributeClassifier, bar: tqdm, steps: int) -> None:
        self._clf, self._bar, self._steps = clf, bar, steps

    def __getattr__(self, name: str) -> Any:
        return getattr(self._clf, name)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        out = self._clf.predict(x)
        self._bar.update(x.shape[0] * self._steps)
        return out


def _bar(enabled: bool, desc: str, total: int, unit: str = "img-step") -> tqdm:
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, dynamic_ncols=True, file=sys.stderr,
                disable=not enabled, leave=True)


def evaluate(editor: Editor, data: LabeledImages, out: Path, *, clf: AttributeClassifier | None,
             steps_list: list[int], samplers: list[str] | None = None, recon_images: int = 128,
             swap_pairs_n: int = 100, edit_steps: int = 20, probe_data: LabeledImages | None = None,
             log: Log = print, progress: bool = True, triples_n: int | None = None,
             threshold: float = DEFAULT_THRESHOLD, unseen: tuple[int, LabeledImages] | None = None) -> dict:
    """Run every measurement and write the figures into `out`.

    Reconstruction, swaps and figures use `data` (held-out images); the perplexity matrix uses
    `probe_data` (default: `data`) with the paper's 80/20 split, since a linear probe over 111
    backgrounds needs more than a few examples of each. `progress`: a tqdm bar per stage on stderr.
    `triples_n`: base/donor/donor triples of the multi-attribute swaps (default: `swap_pairs_n`); `threshold`:
    the strict reading's probability; `unseen`: (draw, the held-out rows photographed under that nuisance draw),
    whose swaps are measured too.
    """
    out.mkdir(parents=True, exist_ok=True)
    samplers = samplers or list(SAMPLERS)
    result: dict = {"images": len(data), "edit_steps": edit_steps}
    n_recon = min(recon_images, len(data))
    log(f"reconstruction on {n_recon} images ...")
    with _bar(progress, "reconstruction", 2 * n_recon * len(samplers) * sum(steps_list)) as bar:
        result["reconstruction_mse"] = reconstruction(_TickingEditor(editor, bar),
                                                      data.images[spread_rows(len(data), recon_images)],
                                                      steps_list, samplers)
    with _bar(progress, "random x_T reconstruction", n_recon * (sum(steps_list) + len(steps_list))) as bar:
        result["random_xT_mse"] = random_xT_mse(_TickingEditor(editor, bar),
                                                data.images[spread_rows(len(data), recon_images)], steps_list)
    log("encoding the evaluation set ...")
    with _bar(progress, "encoding", len(data) * edit_steps) as bar:
        lat = encode_latents(_TickingEditor(editor, bar), data.images, steps=edit_steps)
    probe_data = probe_data or data
    log(f"perplexity matrix on {len(probe_data)} images ...")
    with _bar(progress, "probe latents", len(probe_data), unit="img") as bar:
        ticking = _TickingEditor(editor, bar)
        z_probe = torch.cat([ticking.z_dis_of(probe_data.images[sl]) for sl in batches(len(probe_data), 256)])
    rows = []
    with _bar(progress, "linear probes", len(editor.slices), unit="chunk") as bar:
        for name, sl in editor.slices.items():  # one row (chunk) at a time, for the bar
            rows.append(perplexity_matrix(z_probe, probe_data.labels, {name: sl}, probe_data.num_values))
            bar.update(1)
    pm = torch.cat(rows)
    attrs = list(data.attributes)
    result["perplexity"] = {"rows_chunks_cols_attributes": attrs, "images": len(probe_data),
                            "matrix": [[round(v, 4) for v in r] for r in pm.tolist()],
                            "chance": [round(1 / n, 4) for n in data.num_values]}
    heatmap(pm, attrs, attrs).save(out / "perplexity.png")
    if clf is not None:
        facets = facets_of(data.attributes, data.values)
        result["pair_rule"] = ("base and donors differ pairwise in every attribute"
                               + "".join(f" and in the {a}'s {' and '.join(fs)}" for a, fs in facets.items()))
        result["strict_rule"] = (f"a value is read when the classifier gives it probability >= {threshold}"
                                 + "".join(f"; the {a} when its {' and '.join(fs)} each are (summed over the values "
                                           "that share it)" for a, fs in facets.items())
                                 + "; swap_accuracy (loose: the most likely value) reads the same decodes")
        result["classifier"] = {"threshold": threshold, "facets": {a: list(fs) for a, fs in facets.items()},
                                "clean": {"held_out": clean_accuracy(clf, data, facets, threshold)},
                                "mixtures_read_as_one": mixture_check(clf, data, facets, threshold)}
        sets = [("held_out", data, lat)]
        if unseen is not None:
            draw, photos = unseen
            result["classifier"]["clean"][f"draw_{draw}"] = clean_accuracy(clf, photos, facets, threshold)
            log(f"encoding the held-out rows under nuisance draw {draw} ...")
            with _bar(progress, f"encoding (draw {draw})", len(photos) * edit_steps) as bar:
                sets.append((f"draw_{draw}", photos, encode_latents(_TickingEditor(editor, bar), photos.images,
                                                                    steps=edit_steps)))
        strict: dict = {}
        for tag, images, latents in sets:
            where = "" if tag == "held_out" else f" ({tag.replace('_', ' ')})"
            pairs = draw_rows(images, swap_pairs_n, 2, facets, seed=0)
            triples = draw_rows(images, swap_pairs_n if triples_n is None else triples_n, 3, facets, seed=1)
            n_combos = len(attrs) * (len(attrs) - 1) // 2
            entry: dict = {"images": len(images), **({"draw": unseen[0]} if where else {})}
            log(f"attribute swaps{where} ...")
            with _bar(progress, f"attribute swaps{where}", 2 * len(pairs) * len(attrs) * edit_steps) as bar:
                ticking = _TickingEditor(editor, bar)
                entry["swaps"] = {kind: swaps(ticking, clf, images, latents, pairs, steps=edit_steps, facets=facets,
                                              threshold=threshold, seed=seed)
                                  for kind, seed in (("inferred_xT", None), ("random_xT", 0))}
            if editor.prototypes is not None and tag == "held_out":
                log("edits to a named value (the donors' values' prototypes) ...")
                with _bar(progress, "value edits", len(pairs) * len(attrs) * edit_steps) as bar:
                    entry["value_edits"] = {"inferred_xT": swaps(_TickingEditor(editor, bar), clf, images, latents,
                                                                 pairs, steps=edit_steps, facets=facets,
                                                                 threshold=threshold, by_value=True)}
            log(f"multi-attribute swaps{where} ...")
            with _bar(progress, f"multi-attribute swaps{where}", 2 * len(triples) * n_combos * edit_steps) as bar:
                ticking = _TickingEditor(editor, bar)
                entry["multi_swaps"] = {kind: multi_swaps(ticking, clf, images, latents, triples, steps=edit_steps,
                                                          facets=facets, threshold=threshold, seed=seed)
                                        for kind, seed in (("inferred_xT", None), ("random_xT", 0))}
            strict[tag] = entry
        held = strict["held_out"]["swaps"]  # the card's fields: the loose reading of the same decodes
        for key, kind in (("swap_accuracy", "inferred_xT"), ("swap_accuracy_random_xT", "random_xT")):
            result[key] = {a: {"swapped": held[kind][a]["loose"]["moved"]["rate"],
                               "kept": held[kind][a]["loose"]["kept"]["rate"],
                               "all": held[kind][a]["loose"]["all"]["rate"], "pairs": held[kind]["pairs"]}
                           for a in attrs}
        result["strict"] = strict
        log("random x_T decodes ...")
        subset = data.subset(spread_rows(len(data), swap_pairs_n))
        with _bar(progress, "random x_T decodes", len(subset) * edit_steps) as bar:
            result["random_xT_attribute_accuracy"] = random_xT_retention(
                editor.ae, _TickingClassifier(clf, bar, edit_steps), subset, steps=edit_steps,
                cond_fn=editor.gae.roundtrip)
    log("figures ...")
    pick = spread_rows(len(data), 2 * FIGURE_PAIRS)
    figure_rows = (len(attrs) * FIGURE_PAIRS * FIGURE_PAIRS + (len(attrs) + 1) * FIGURE_FRAMES
                   + FIGURE_VARIATION_ROWS * (1 + FIGURE_SEEDS))
    with _bar(progress, "figures", figure_rows * edit_steps) as bar:
        ticking = _TickingEditor(editor, bar)
        for a in attrs:
            swap_grid(ticking, data.images[pick], lat[pick], a, n=FIGURE_PAIRS, steps=edit_steps).save(out / f"swap_{a}.png")
        interpolation_strips(ticking, data.images[pick], lat[pick], frames=FIGURE_FRAMES,
                             steps=edit_steps).save(out / "interpolation.png")
        random_xT_variations(ticking, data.images[pick[:FIGURE_VARIATION_ROWS]], lat[pick[:FIGURE_VARIATION_ROWS]],
                             seeds=FIGURE_SEEDS, steps=edit_steps).save(out / "random_xT.png")
    return result
