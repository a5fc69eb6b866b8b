"""The tensor side of the worker: from stored latents and job specs to sampler batches and back.

Everything here calls the library's editing API (diffusegae.editing); nothing knows about Redis.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from safetensors import SafetensorError, safe_open

from core.specs import InterpolateSpec, RecombineSpec
from diffusegae.checkpoint import load_tensors, save_tensors
from diffusegae.editing import Editor, Latents, interpolate, recombine

log = logging.getLogger("diffusegae.worker")


class SpecError(ValueError):
    """A job cannot be built (e.g. an image it names failed to encode); fails that job only."""


def save_latents(path: Path, lat: Latents, meta: Mapping[str, Any]) -> None:
    """One image's codes (batch 1) -> safetensors with z_sem, z_dis, x_T (unbatched)."""
    save_tensors(path, {"z_sem": lat.z_sem[0], "z_dis": lat.z_dis[0], "x_T": lat.x_T[0]}, dict(meta))


def latents_meta(path: Path) -> dict[str, Any] | None:
    """The metadata of a latents file; None when there is no usable file, and the image is encoded again."""
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: json.loads(v) for k, v in (f.metadata() or {}).items()}
    except (SafetensorError, OSError, json.JSONDecodeError) as e:
        log.warning("%s cannot be read (%s); the image will be encoded again", path, e)
        return None


def load_latents(path: Path, device: torch.device) -> Latents:
    tensors, _ = load_tensors(path)
    return Latents(tensors["z_sem"][None].to(device), tensors["z_dis"][None].to(device), tensors["x_T"][None].to(device))


def chunk_lists(editor: Editor, z_dis: torch.Tensor) -> list[dict[str, list[float]]]:
    """(B, D) -> per image {attribute: its z_dis chunk as floats} (what the API shows)."""
    chunks = editor.chunks(z_dis.float().cpu())
    return [{a: [round(float(v), 6) for v in c[i].tolist()] for a, c in chunks.items()} for i in range(z_dis.shape[0])]


def frame_weights(frames: int) -> list[float]:
    return [i / (frames - 1) for i in range(frames)]


def rows_for(editor: Editor, spec: RecombineSpec | InterpolateSpec,
             lat: Mapping[str, Latents]) -> tuple[torch.Tensor, torch.Tensor]:
    """One job -> its rows of the sampler batch: z_dis (N, D) and x_T (N, 3, R, R).

    recombine: N = 1; each named attribute blends the base chunk towards its donor's (donor None
    keeps the base's chunk). interpolate: N = frames, lerp of z_dis and slerp of x_T from base to donor.
    x_T "random" replaces the inferred code by a seeded N(0, I) one (the same for every frame).
    """
    base = lat[spec.base]
    if isinstance(spec, RecombineSpec):
        donors = {a: (lat[b.donor].z_dis, b.weight) for a, b in spec.attributes.items() if b.donor}
        z = recombine(base.z_dis, donors, editor.slices)
        n, x = 1, base.x_T
    else:
        n = spec.frames
        z, x = interpolate(base, lat[spec.donor], frame_weights(n), editor.slices, spec.attributes)
    if spec.x_T == "random":
        x = editor.random_x_T([spec.seed] * n)
    return z, x


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def strip(images: Sequence[Image.Image]) -> Image.Image:
    """Frames side by side, left to right."""
    w, h = images[0].size
    out = Image.new("RGB", (w * len(images), h))
    for i, im in enumerate(images):
        out.paste(im, (i * w, 0))
    return out
