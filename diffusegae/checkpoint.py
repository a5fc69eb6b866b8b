"""Model folders: safetensors weights with their JSON config beside them (and inside the metadata).

Loading validates everything and raises `CheckpointError` with a short reason instead of a
stack trace from deep inside torch.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from diffusegae.config import from_json_dict

M = TypeVar("M", bound=nn.Module)

class CheckpointError(ValueError):
    """A model folder or weight file is missing, truncated, corrupt or does not match its config."""


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {k: json.dumps(v) for k, v in (metadata or {}).items()}
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=meta)
    tmp.replace(path)  # never leave a half-written weight file under the real name


def load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: weight file not found")
    try:
        tensors = load_file(str(path))
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path}: not a valid safetensors file (truncated or corrupt?): {e}") from None
    try:
        meta = {k: json.loads(v) for k, v in raw.items()}
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: metadata is not valid JSON: {e}") from None
    return tensors, meta


def save_module(path: Path, module: nn.Module, config: dict[str, Any], **extra: Any) -> None:
    """Write `module`'s weights to `path` (.safetensors) and its config to `path` with .json."""
    save_tensors(path, module.state_dict(), {"config": config, **extra})
    Path(path).with_suffix(".json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def load_json(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: config file not found")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return data


def check_known_fields(cls: type, data: Mapping[str, Any], source: Path) -> None:
    """A JSON file read into the dataclass `cls` names only its fields (a typo or a newer writer is an error)."""
    unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise CheckpointError(f"{source}: unknown fields {unknown}")


def load_state_into(module: nn.Module, tensors: dict[str, torch.Tensor], source: Path) -> None:
    """Copy `tensors` into `module`, failing with the names of missing/unexpected/misshaped keys."""
    own = module.state_dict()
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    bad_shape = sorted(k for k in set(own) & set(tensors) if own[k].shape != tensors[k].shape)
    if missing or unexpected or bad_shape:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", bad_shape)):
            if keys:
                parts.append(f"{label}: {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}")
        raise CheckpointError(f"{source}: weights do not match the config ({'; '.join(parts)})")
    module.load_state_dict(tensors)


def load_config(weights: Path, cfg_cls: type) -> Any:
    """The config of a weight file without its tensors: the .json beside it, else the file's metadata."""
    weights = Path(weights)
    cfg_path = weights.with_suffix(".json")
    if cfg_path.is_file():
        raw, source = load_json(cfg_path), cfg_path
    else:
        raw, source = _metadata(weights).get("config"), weights
        if raw is None:
            raise CheckpointError(f"{weights}: no config beside it and none in its metadata")
    try:
        return from_json_dict(cfg_cls, raw)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{source}: invalid config: {e}") from None


def _metadata(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"{path}: weight file not found")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            return {k: json.loads(v) for k, v in (f.metadata() or {}).items()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path}: not a valid safetensors file (truncated or corrupt?): {e}") from None


def load_module(weights: Path, cfg_cls: type, build: Callable[[Any], M]) -> M:
    """Build a module from a weight file and its config: `weights` with .json beside it, else its metadata."""
    cfg = load_config(weights, cfg_cls)
    tensors, _ = load_tensors(weights)
    module = build(cfg)
    load_state_into(module, tensors, Path(weights))
    return module.eval()
