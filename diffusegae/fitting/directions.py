"""Diff-AE's attribute directions (`../shared/seeds/001_*.txt`, attribute manipulation): a linear classifier on the
z-normalised z_sem of the training images, per value of each attribute, one against the rest; an edit moves z_sem
along the unit weight vector of the value it asks for, with an amplitude:

    z_sem' = denorm(norm(z_sem) + alpha * sqrt(512) * w_v / |w_v|)

(z_sem has 512 dimensions in our models and Diff-AE's; as its manipulation does: its demo offers alpha in
-0.5..0.5 and warns of artefacts beyond). Diff-AE's
attributes are binary (CelebA-HQ); ours have several values, so each value has its own one-vs-rest classifier and
several attributes' moves add up. The normalisation is the GAE's (its z_sem mean and std over the training images).
The edited z_sem conditions the decoder directly: the GAE is not involved. Saved in MODEL/edits/:

    directions.safetensors   one tensor per attribute: (values, z_sem) unit weight vectors, model.json's value order
    directions.json          DirectionConfig: images, steps, each attribute's accuracy on the fitting images
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from diffusegae.checkpoint import CheckpointError
from diffusegae.fitting.tables import load_table, save_table

DIRECTIONS, CONFIG = "directions.safetensors", "directions.json"
VERSION = 1


@dataclass(frozen=True)
class DirectionConfig:
    images: int  # training images the classifiers were fitted on
    steps: int  # full-batch Adam steps
    accuracy: Mapping[str, float] = field(default_factory=dict)  # per attribute: argmax over its classifiers
    version: int = VERSION

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "accuracy": dict(self.accuracy)}


@torch.no_grad()
def z_sem_of(ed, images: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
    """The encoder's z_sem of images (N, 3, R, R) -> (N, 512), on the CPU."""
    return torch.cat([ed.runtime.encode(images[i:i + batch_size].to(ed.device)).float().cpu()
                      for i in range(0, images.shape[0], batch_size)])


def fit_directions(ed, data, steps: int = 300, lr: float = 0.05,
                   weight_decay: float = 1e-4) -> tuple[dict[str, torch.Tensor], DirectionConfig]:
    """Per attribute of the model, one-vs-rest logistic regressions on norm(z_sem) of `data` (LabeledImages with
    the model's attributes and value names), each value's positives weighted up to balance its negatives.

    -> ({attribute: (values, 512) unit weight vectors} in the model's value order, config)."""
    if set(data.attributes) != set(ed.info.attributes):
        raise CheckpointError(f"the data's attributes {list(data.attributes)} are not the model's "
                              f"{list(ed.info.attributes)}")
    with torch.no_grad():
        zn = ed.gae.normalize(z_sem_of(ed, data.images).to(ed.device)).float().cpu()  # (N, 512)
    out, accuracy = {}, {}
    for attr, names in zip(ed.info.attributes, ed.info.values):
        col = data.attributes.index(attr)
        index = {name: i for i, name in enumerate(data.values[col])}
        missing = [n for n in names if n not in index]
        if missing:
            raise CheckpointError(f"{attr}: the data has no images of value(s) {missing[:5]}")
        target = torch.stack([data.labels[:, col] == index[n] for n in names], dim=1).float()  # (N, V)
        positives = target.sum(0).clamp_min(1)
        pos_weight = (target.shape[0] - positives) / positives  # (V,)
        with torch.enable_grad():
            generator = torch.Generator().manual_seed(0)
            weight = (torch.randn(len(names), zn.shape[1], generator=generator) * 0.01).requires_grad_()
            bias = torch.zeros(len(names), requires_grad=True)
            opt = torch.optim.Adam([weight, bias], lr=lr, weight_decay=weight_decay)
            for _ in range(steps):
                loss = F.binary_cross_entropy_with_logits(zn @ weight.T + bias, target, pos_weight=pos_weight)
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            accuracy[attr] = round(float(((zn @ weight.T + bias).argmax(1) == target.argmax(1)).float().mean()), 4)
            out[attr] = F.normalize(weight.detach(), dim=1)  # (V, 512)
    return out, DirectionConfig(images=len(data), steps=steps, accuracy=accuracy)


def move(z_sem: torch.Tensor, gae, directions: Mapping[str, torch.Tensor],
         edits: Mapping[str, tuple[int, float]]) -> torch.Tensor:
    """Diff-AE's manipulation: z_sem (B, 512) moved along each edited attribute's value direction.

    `edits`: {attribute: (value index, alpha)}; the moves add up in the normalised space. alpha 0: z_sem as it was."""
    zn = gae.normalize(z_sem)
    scale = math.sqrt(zn.shape[1])
    for attr, (value, alpha) in edits.items():
        zn = zn + alpha * scale * directions[attr][value].to(zn)
    return gae.denormalize(zn)


def save_directions(folder: Path, directions: Mapping[str, torch.Tensor], config: DirectionConfig) -> None:
    save_table(folder, DIRECTIONS, CONFIG, directions, config.to_json())


def load_directions(folder: Path, values: Mapping[str, int], z_sem_dim: int) -> dict[str, torch.Tensor] | None:
    """MODEL/edits' directions, checked against the model (`values`: value count per attribute); None when the model
    has none (never fitted)."""
    return load_table(folder, DIRECTIONS, CONFIG, DirectionConfig, VERSION,
                      {a: (n, z_sem_dim) for a, n in values.items()}, "directions")
