"""Strict swap measurements: what a person would name at a glance, with a pair count and a 95% interval on each rate.

The loose reading (`metrics.swap_accuracy`, the card's before) takes the classifier's most likely value. A decode
that shows the donor's surface on the backdrop and the base's on the ground, or the donor's colour in the base's
pattern, is then read as whichever value the classifier leans to. The strict reading:

- a value is *read* only when the classifier gives it probability >= `threshold` (0.9 by default);
- an attribute whose values are made of facets (the vehicles' background: surface kind x colour) is read only when
  each facet is, on the facet's own probability (the sum over the values that share it): the donor's surface kind
  *and* its colour for "moved", the base's kind and colour for "kept". Each facet's rate is reported too;
- bases and donors differ in every attribute and in every facet (a base and a donor of the same surface kind in two
  colours would let the base's kind pass for the donor's).

Single swaps take one attribute from a donor; multi-attribute swaps (paper Fig. 6) take two attributes from two
different donors and keep the third. Each is decoded with the base's inferred x_T (replacement) and with a random
x_T (recombination). Every rate is `{"rate", "hits", "n", "ci95"}` (Wilson score interval).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from diffusegae.data import vehicles
from diffusegae.data.dataset import LabeledImages, default_cache_dir, images_from_uint8, load_vehicles, render_vehicles
from diffusegae.data.groups import distinct_rows
from diffusegae.editing import Editor, Latents, recombine
from diffusegae.evaluation.classifier import AttributeClassifier

DEFAULT_THRESHOLD = 0.9

Facets = Mapping[str, Mapping[str, torch.Tensor]]  # attribute -> facet name -> (n_values,) facet index per value


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a rate hits / n (95% for z = 1.96); (0, 1) when n = 0."""
    if n == 0:
        return 0.0, 1.0
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(hits: int, n: int) -> dict:
    lo, hi = wilson(hits, n)
    return {"rate": round(hits / n, 4) if n else None, "hits": int(hits), "n": int(n), "ci95": [round(lo, 4), round(hi, 4)]}


def rate_of(ok: torch.Tensor) -> dict:
    return rate(int(ok.sum().item()), ok.numel())


def facets_of(attributes: tuple[str, ...], values: tuple[tuple[str, ...], ...]) -> dict[str, dict[str, torch.Tensor]]:
    """The facets the data's value names reveal: the vehicles' background ("red marble") is a surface kind and a
    colour. Other attributes and datasets have none."""
    names = tuple(vehicles.background_name(b) for b in range(vehicles.NUM_VALUES[1]))
    out = {}
    for attr, vals in zip(attributes, values):
        if tuple(vals) == names:
            kind, colour = vehicles.surface_kind_and_colour(torch.arange(len(names)))
            out[attr] = {"kind": kind, "colour": colour}
    return out


def facet_labels(labels: torch.Tensor, attributes: tuple[str, ...], facets: Facets) -> torch.Tensor:
    """(N, k) labels -> (N, k + facets) with one more column per facet: what pairs must differ in."""
    cols = [labels]
    for attr, fs in facets.items():
        j = attributes.index(attr)
        cols += [fmap[labels[:, j]][:, None] for fmap in fs.values()]
    return torch.cat(cols, 1)


@dataclass
class Reading:
    """What the classifier reads in N images: per attribute the softmax (N, n_j)."""

    probs: list[torch.Tensor]
    attributes: tuple[str, ...]
    facets: Facets
    threshold: float

    def loose(self, j: int, want: torch.Tensor) -> torch.Tensor:
        """(N,) bool: the most likely value is `want` (N,) (the card's reading before)."""
        return self.probs[j].argmax(1) == want

    def facet_reads(self, j: int, want: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per facet of attribute j, (N,) bool: that facet of `want` has probability >= threshold."""
        p = self.probs[j]
        out = {}
        for name, fmap in self.facets.get(self.attributes[j], {}).items():
            onehot = torch.nn.functional.one_hot(fmap, int(fmap.max()) + 1).to(p)  # (n_j, F)
            out[name] = (p @ onehot).gather(1, fmap[want][:, None])[:, 0] >= self.threshold
        return out

    def strict(self, j: int, want: torch.Tensor) -> torch.Tensor:
        """(N,) bool: `want` is read strictly (every facet of it, or the value itself, at >= threshold)."""
        facets = self.facet_reads(j, want)
        if facets:
            return torch.stack(list(facets.values())).all(0)
        return self.probs[j].gather(1, want[:, None])[:, 0] >= self.threshold


def read(clf: AttributeClassifier, x: torch.Tensor, attributes: tuple[str, ...], facets: Facets,
         threshold: float) -> Reading:
    return Reading(clf.probabilities(x), attributes, facets, threshold)


def clean_accuracy(clf: AttributeClassifier, data: LabeledImages, facets: Facets, threshold: float) -> dict:
    """The instrument on the data's own images: per attribute (and facet) the share read right, loosely (most
    likely value) and strictly."""
    r = read(clf, data.images, data.attributes, facets, threshold)
    out: dict = {"images": len(data)}
    for j, a in enumerate(data.attributes):
        want = data.labels[:, j]
        out[a] = {"loose": rate_of(r.loose(j, want)), "strict": rate_of(r.strict(j, want))}
        for f, ok in r.facet_reads(j, want).items():
            fmap = facets[a][f]
            loose = (r.probs[j] @ torch.nn.functional.one_hot(fmap, int(fmap.max()) + 1).to(r.probs[j])).argmax(1)
            out[f"{a}.{f}"] = {"loose": rate_of(loose == fmap[want]), "strict": rate_of(ok)}
    return out


def mixture_check(clf: AttributeClassifier, data: LabeledImages, facets: Facets, threshold: float, *, n: int = 256,
                  top: float = 0.4) -> dict:
    """How strict the instrument is: the top `top` of one image over the rest of another (the backdrop of one
    surface over the ground of another, as a decode that keeps the base's ground looks), for n pairs that differ in
    every attribute and facet. Per facet: the share read strictly as either image's, which a person would not
    (a rate near 0 is strict; the most likely value, the loose reading, is one of the two nearly always)."""
    rows = draw_rows(data, n, 2, facets, seed=2)
    if not facets or rows.shape[0] == 0:
        return {}
    a, b = rows[:, 0], rows[:, 1]
    x = data.images[b].clone()
    cut = int(round(top * x.shape[-2]))
    x[:, :, :cut] = data.images[a][:, :, :cut]
    r = read(clf, x, data.attributes, facets, threshold)
    out: dict = {"pairs": int(rows.shape[0]), "top_rows": cut}
    for attr in facets:
        j = data.attributes.index(attr)
        fa, fb = r.facet_reads(j, data.labels[a, j]), r.facet_reads(j, data.labels[b, j])
        for f in fa:
            out[f"{attr}.{f}"] = rate_of(fa[f] | fb[f])
    return out


def _random_x_T(lat: Latents, seed: int | None) -> torch.Tensor:
    """The base's inferred x_T (seed None) or one seeded random x_T per row of the evaluation set."""
    return lat.x_T if seed is None else torch.randn(lat.x_T.shape, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def _decode_and_read(editor: Editor, clf: AttributeClassifier, data: LabeledImages, lat: Latents, bases: torch.Tensor,
                     sources: dict[str, torch.Tensor], x_T: torch.Tensor, *, steps: int, facets: Facets,
                     threshold: float, batch: int) -> Reading:
    """Decode each base with the named attributes' chunks taken from `sources` ({attribute: (P, D) codes}) -> read."""
    probs: list[list[torch.Tensor]] = []
    for i in range(0, bases.shape[0], batch):
        b = bases[i: i + batch]
        z = recombine(lat.z_dis[b], {a: (src[i: i + batch], 1.0) for a, src in sources.items()}, editor.slices)
        probs.append(clf.probabilities(editor.decode(z, x_T[b], steps=steps)))
    return Reading([torch.cat(col) for col in zip(*probs)], data.attributes, facets, threshold)


def _kept(r: Reading, labels: torch.Tensor, bases: torch.Tensor, others: list[int]) -> tuple[torch.Tensor, dict]:
    """Strictly kept: the base's value of every attribute in `others`; and per attribute (and facet)."""
    each, ok = {}, torch.ones(bases.shape[0], dtype=torch.bool)
    for j in others:
        want = labels[bases, j]
        kept = r.strict(j, want)
        ok &= kept
        each[r.attributes[j]] = rate_of(kept)
        for f, fok in r.facet_reads(j, want).items():
            each[f"{r.attributes[j]}.{f}"] = rate_of(fok)
    return ok, each


def draw_rows(data: LabeledImages, n: int, k: int, facets: Facets, seed: int = 0) -> torch.Tensor:
    """Up to n seeded k-tuples of rows of `data` (n, k) that differ pairwise in every attribute and facet."""
    return distinct_rows(facet_labels(data.labels, data.attributes, facets), n, k, seed)


def value_codes(editor: Editor, data: LabeledImages, attribute: str, rows: torch.Tensor) -> torch.Tensor:
    """(P, D) codes whose `attribute` chunk is the prototype of each row's value of it (Editor.value_code)."""
    j = data.attributes.index(attribute)
    return torch.stack([editor.value_code(attribute, data.values[j][int(v)]) for v in data.labels[rows, j]])


def swaps(editor: Editor, clf: AttributeClassifier, data: LabeledImages, lat: Latents, rows: torch.Tensor, *,
          steps: int, facets: Facets, threshold: float = DEFAULT_THRESHOLD, seed: int | None = None,
          batch: int = 64, by_value: bool = False) -> dict:
    """One attribute from a donor (weight 1), decoded with the base's inferred x_T or (given `seed`) a random one;
    `by_value`: from the prototype of the donor's value instead (an edit to a named value, no donor image).

    Per attribute: "moved" (the donor's value read strictly; per facet too), "kept" (the base's values of the
    others), "all" (both), "loose" (the same three, read the card's old way), each with counts and a 95% interval.
    `rows` (P, 2): (base, donor) rows of `data` (`draw_rows`); `lat` holds the latents of every row of `data`.
    """
    bases, donors = rows[:, 0], rows[:, 1]
    x_T = _random_x_T(lat, seed)
    out: dict = {"pairs": int(rows.shape[0])}
    k = len(data.attributes)
    for j, name in enumerate(data.attributes):
        source = value_codes(editor, data, name, donors) if by_value else lat.z_dis[donors]
        r = _decode_and_read(editor, clf, data, lat, bases, {name: source}, x_T, steps=steps, facets=facets,
                             threshold=threshold, batch=batch)
        want = data.labels[donors, j]
        moved = r.strict(j, want)
        others = [i for i in range(k) if i != j]
        kept, kept_each = _kept(r, data.labels, bases, others)
        loose_moved = r.loose(j, want)
        loose_kept = torch.stack([r.loose(i, data.labels[bases, i]) for i in others]).all(0)
        out[name] = {"moved": rate_of(moved), "kept": rate_of(kept), "all": rate_of(moved & kept),
                     **{f"moved_{f}": rate_of(ok) for f, ok in r.facet_reads(j, want).items()},
                     "kept_each": kept_each,
                     "loose": {"moved": rate_of(loose_moved), "kept": rate_of(loose_kept),
                               "all": rate_of(loose_moved & loose_kept)}}
    return out


@torch.no_grad()
def direction_swaps(editor: Editor, clf: AttributeClassifier, data: LabeledImages, lat: Latents, rows: torch.Tensor,
                    alpha: float, *, steps: int, facets: Facets, threshold: float = DEFAULT_THRESHOLD,
                    seed: int | None = None, batch: int = 64) -> dict:
    """Diff-AE's direction edit (method diffae) read as `swaps` reads a donor swap: each base's z_sem moved towards
    its donor's value of one attribute with amplitude `alpha` (Editor.diffae_code), decoded with the base's inferred
    x_T or a random one. Per attribute "moved", "kept", "all" (strict), with counts and 95% intervals."""
    bases, donors = rows[:, 0], rows[:, 1]
    x_T = _random_x_T(lat, seed)
    out: dict = {"pairs": int(rows.shape[0]), "alpha": alpha}
    k = len(data.attributes)
    for j, name in enumerate(data.attributes):
        probs: list[list[torch.Tensor]] = []
        for i in range(0, bases.shape[0], batch):
            b, d = bases[i: i + batch], donors[i: i + batch]
            cond = torch.cat([editor.diffae_code(lat.z_sem[bi: bi + 1], {name: (data.values[j][int(data.labels[di, j])],
                                                                                 alpha)})
                              for bi, di in zip(b.tolist(), d.tolist())])
            probs.append(clf.probabilities(editor.decode_z_sem(cond, x_T[b], steps=steps)))
        r = Reading([torch.cat(col) for col in zip(*probs)], data.attributes, facets, threshold)
        moved = r.strict(j, data.labels[donors, j])
        kept, _ = _kept(r, data.labels, bases, [i for i in range(k) if i != j])
        out[name] = {"moved": rate_of(moved), "kept": rate_of(kept), "all": rate_of(moved & kept)}
    return out


def multi_swaps(editor: Editor, clf: AttributeClassifier, data: LabeledImages, lat: Latents, rows: torch.Tensor, *,
                steps: int, facets: Facets, threshold: float = DEFAULT_THRESHOLD, seed: int | None = None,
                batch: int = 64) -> dict:
    """Paper Fig. 6: two attributes from two different donors, the rest kept from the base, for every pair of
    attributes. Base and donors differ pairwise in every attribute and facet.

    Per combination "a+b": "moved" per donor attribute (strict; per facet too), "both_moved", "kept" (the base's
    value of the rest), "all", and "loose" (all, read the card's old way). `rows` (T, 3): (base, donor of the first
    attribute, donor of the second) rows of `data` (`draw_rows`).
    """
    bases = rows[:, 0]
    x_T = _random_x_T(lat, seed)
    out: dict = {"triples": int(rows.shape[0])}
    if rows.shape[0] == 0:
        return out
    names = data.attributes
    for j1, j2 in itertools.combinations(range(len(names)), 2):
        r = _decode_and_read(editor, clf, data, lat, bases, {names[j1]: lat.z_dis[rows[:, 1]],
                                                             names[j2]: lat.z_dis[rows[:, 2]]}, x_T,
                             steps=steps, facets=facets, threshold=threshold, batch=batch)
        moved, entry, loose = {}, {}, []
        for j, donor in ((j1, rows[:, 1]), (j2, rows[:, 2])):
            want = data.labels[donor, j]
            moved[names[j]] = r.strict(j, want)
            entry[names[j]] = rate_of(moved[names[j]])
            entry.update({f"{names[j]}.{f}": rate_of(ok) for f, ok in r.facet_reads(j, want).items()})
            loose.append(r.loose(j, want))
        both = moved[names[j1]] & moved[names[j2]]
        rest = [i for i in range(len(names)) if i not in (j1, j2)]
        kept, kept_each = _kept(r, data.labels, bases, rest)
        loose += [r.loose(i, data.labels[bases, i]) for i in rest]
        out[f"{names[j1]}+{names[j2]}"] = {"moved": entry, "both_moved": rate_of(both), "kept": rate_of(kept),
                                           "kept_each": kept_each, "all": rate_of(both & kept),
                                           "loose": {"all": rate_of(torch.stack(loose).all(0))}}
    return out


def held_out_draw(resolution: int, draw: int, *, workers: int | None = None, cache_dir: Path | None = None
                  ) -> LabeledImages:
    """The vehicles' held-out rows photographed under nuisance draw `draw` (light, exposure, camera jitter, texture
    offset, grain): the same label combinations as the test split, new photographs. Draws 0-3 are what the shipped
    model was trained on; a higher one no stage saw. Only the 666 held-out rows are rendered (about 1.5 min on one
    core), once, then read from the cache."""
    test = load_vehicles(resolution, "test", cache_dir=cache_dir)
    cache = (cache_dir or default_cache_dir()) / f"vehicles-v{vehicles.RENDER_VERSION}-{resolution}-test-draw{draw}.npy"
    if cache.is_file():
        arr = np.load(cache)
    else:
        arr = render_vehicles(test.labels, resolution, workers, seed=draw)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, arr)
        tmp.replace(cache)
    return LabeledImages(images_from_uint8(arr), test.labels, test.attributes, test.values)
