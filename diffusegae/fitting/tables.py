"""Per-attribute tables fitted beside the GAE into MODEL/edits (value prototypes, Diff-AE's directions): one tensor
per attribute in a safetensors file with its config, the config also as JSON; loaded checked against the model."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from diffusegae.checkpoint import CheckpointError, check_known_fields, load_json, load_tensors, save_tensors


def save_table(folder: Path, tensors_file: str, config_file: str, tensors: Mapping[str, torch.Tensor],
               config: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_tensors(folder / tensors_file, dict(tensors), {"config": config})
    (folder / config_file).write_text(json.dumps(config, indent=2) + "\n")


def load_table(folder: Path, tensors_file: str, config_file: str, config_cls: type, version: int,
               shapes: Mapping[str, tuple[int, ...]], what: str) -> dict[str, torch.Tensor] | None:
    """The table, each attribute's tensor checked to have its shape in `shapes`; None when the model has none (never
    fitted). CheckpointError naming `what` for another version or shape."""
    if not (folder / tensors_file).is_file():
        return None
    raw = load_json(folder / config_file) if (folder / config_file).is_file() else {}
    check_known_fields(config_cls, raw, folder / config_file)
    if raw.get("version", version) != version:
        raise CheckpointError(f"{folder}: {what} version {raw.get('version')}, this code reads {version}: run "
                              "diffusegae fit-edits again")
    tensors, _ = load_tensors(folder / tensors_file)
    for attr, shape in shapes.items():
        t = tensors.get(attr)
        if t is None or tuple(t.shape) != shape:
            raise CheckpointError(f"{folder / tensors_file}: {attr} is {None if t is None else tuple(t.shape)}, the "
                                  f"model needs {shape}: run diffusegae fit-edits again")
    return {a: tensors[a].float() for a in shapes}
