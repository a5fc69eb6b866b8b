"""Value prototypes: what an attribute's z_dis chunk looks like for each of its values, so that an edit can set an
attribute to a named value ("make it a bus", "pose 3") without a donor image.

A value's prototype is the mean chunk, over the training images with that value, of z_dis = E_GAE(z_sem) (the
encoder and the GAE only: no inversion). The GAE is trained so that a chunk holds its attribute and nothing else
(PAPER.md, section 2), so the mean over images that differ in every other attribute keeps the value and averages
the rest away. Saved in MODEL/edits/:

    prototypes.safetensors   one tensor per attribute: (values, chunk size), rows in model.json's value order
    prototypes.json          PrototypeConfig: how many images made each row, and from which split
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from diffusegae.checkpoint import CheckpointError
from diffusegae.fitting.tables import load_table, save_table

PROTOTYPES, CONFIG = "prototypes.safetensors", "prototypes.json"
VERSION = 1


@dataclass(frozen=True)
class PrototypeConfig:
    images: int  # training images the means were taken over
    split: str  # which part of the dataset ("train")
    counts: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # per attribute, images per value
    version: int = VERSION

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "counts": {a: list(c) for a, c in self.counts.items()}}


@torch.no_grad()
def fit_prototypes(ed, data, batch_size: int = 128) -> tuple[dict[str, torch.Tensor], PrototypeConfig]:
    """Each value's mean z_dis chunk over `data` (LabeledImages of the model's attributes and value names).

    -> ({attribute: (values, chunk)} in the model's value order, config). Every value needs at least one image."""
    if set(data.attributes) != set(ed.info.attributes):
        raise CheckpointError(f"the data's attributes {list(data.attributes)} are not the model's "
                              f"{list(ed.info.attributes)}")
    z = torch.cat([ed.z_dis_of(data.images[i:i + batch_size]).float().cpu()
                   for i in range(0, len(data), batch_size)])  # (N, D)
    protos, counts = {}, {}
    for attr, names in zip(ed.info.attributes, ed.info.values):
        col = data.attributes.index(attr)
        index = {name: i for i, name in enumerate(data.values[col])}
        missing = [n for n in names if n not in index]
        if missing:
            raise CheckpointError(f"{attr}: the data has no images of value(s) {missing[:5]}")
        chunk = z[:, ed.slices[attr]]
        rows, n = [], []
        for name in names:
            mask = data.labels[:, col] == index[name]
            if not mask.any():
                raise CheckpointError(f"{attr}: no image has the value {name!r}; its prototype would be empty")
            rows.append(chunk[mask].mean(0))
            n.append(int(mask.sum()))
        protos[attr], counts[attr] = torch.stack(rows), tuple(n)  # (V, chunk)
    return protos, PrototypeConfig(images=len(data), split="train", counts=counts)


def save_prototypes(folder: Path, protos: Mapping[str, torch.Tensor], config: PrototypeConfig) -> None:
    save_table(folder, PROTOTYPES, CONFIG, protos, config.to_json())


def load_prototypes(folder: Path, attributes: Mapping[str, int], values: Mapping[str, int]) -> dict[str, torch.Tensor] | None:
    """MODEL/edits' prototypes, checked against the model (`attributes`: chunk size, `values`: value count, per
    attribute); None when the model has none (never fitted)."""
    return load_table(folder, PROTOTYPES, CONFIG, PrototypeConfig, VERSION,
                      {a: (values[a], size) for a, size in attributes.items()}, "prototypes")
