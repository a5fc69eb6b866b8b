"""The tensor side of the worker: from stored latents and job specs to sampler batches and back.

Everything here calls the library's editing API (diffusegae.editing); nothing knows about Redis.
"""

from __future__ import annotations

import io
import json
import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from PIL import Image
from safetensors.torch import load, save

from core.specs import InterpolateSpec, RecombineSpec
from diffusegae.editing import Editor, Latents, interpolate, recombine

log = logging.getLogger("diffusegae.worker")


class SpecError(ValueError):
    """A job cannot be built (e.g. an image it names failed to encode); fails that job only."""


def latents_bytes(lat: Latents, meta: Mapping[str, Any]) -> bytes:
    """One image's codes (batch 1) -> safetensors bytes with z_sem, z_dis, x_T (unbatched) and `meta`."""
    tensors = {"z_sem": lat.z_sem[0], "z_dis": lat.z_dis[0], "x_T": lat.x_T[0]}
    return save({k: v.detach().contiguous().cpu() for k, v in tensors.items()},
                metadata={k: json.dumps(v) for k, v in meta.items()})


def latents_meta(data: bytes | None) -> dict[str, Any] | None:
    """The metadata of stored latents; None when there are none usable, and the image is encoded again."""
    if data is None:
        return None
    try:  # the safetensors layout: an 8-byte little-endian header length, then the header (JSON)
        size = struct.unpack("<Q", data[:8])[0]
        raw = json.loads(data[8:8 + size]).get("__metadata__") or {}
        return {k: json.loads(v) for k, v in raw.items()}
    except (struct.error, ValueError, AttributeError, TypeError) as e:
        log.warning("stored latents cannot be read (%s); the image will be encoded again", e)
        return None


def load_latents(data: bytes, device: torch.device) -> Latents:
    tensors = load(data)
    return Latents(tensors["z_sem"][None].to(device), tensors["z_dis"][None].to(device), tensors["x_T"][None].to(device))


def chunk_lists(editor: Editor, z_dis: torch.Tensor) -> list[dict[str, list[float]]]:
    """(B, D) -> per image {attribute: its z_dis chunk as floats} (what the API shows)."""
    chunks = editor.chunks(z_dis.float().cpu())
    return [{a: [round(float(v), 6) for v in c[i].tolist()] for a, c in chunks.items()} for i in range(z_dis.shape[0])]


def frame_weights(frames: int) -> list[float]:
    return [i / (frames - 1) for i in range(frames)]


def rows_for(editor: Editor, spec: RecombineSpec | InterpolateSpec,
             lat: Mapping[str, Latents]) -> tuple[torch.Tensor, torch.Tensor]:
    """One job (method gae) -> its rows of the sampler batch: z_dis (N, D) and x_T (N, 3, R, R).

    recombine: N = 1; each named attribute blends the base chunk towards its donor's or its value's prototype
    (neither keeps the base's chunk). interpolate: N = frames, lerp of z_dis and slerp of x_T from base to donor.
    x_T "random" replaces the inferred code by a seeded N(0, I) one (the same for every frame).
    """
    base = lat[spec.base]
    if isinstance(spec, RecombineSpec):
        donors = {a: (lat[b.donor].z_dis if b.donor else editor.value_code(a, b.value), b.weight)
                  for a, b in spec.attributes.items() if b.donor or b.value}
        z = recombine(base.z_dis, donors, editor.slices)
        n, x = 1, base.x_T
    else:
        n = spec.frames
        z, x = interpolate(base, lat[spec.donor], frame_weights(n), editor.slices, spec.attributes)
    if spec.x_T == "random":
        x = editor.random_x_T([spec.seed] * n)
    return z, x


def condition_rows(editor: Editor, spec: RecombineSpec | InterpolateSpec,
                   lat: Mapping[str, Latents]) -> tuple[torch.Tensor, torch.Tensor]:
    """One job -> what the decoder runs on: its condition z_sem (N, 512) and x_T (N, 3, R, R). Method gae: D(z_dis)
    of `rows_for`; method diffae: the base's z_sem moved towards each named value (Diff-AE's directions, `weight`
    the amplitude), with the base's x_T or a seeded random one."""
    if isinstance(spec, RecombineSpec) and spec.method == "diffae":
        base = lat[spec.base]
        cond = editor.diffae_code(base.z_sem, {a: (b.value, b.weight) for a, b in spec.attributes.items() if b.value})
        return cond, editor.random_x_T([spec.seed]) if spec.x_T == "random" else base.x_T
    z, x = rows_for(editor, spec, lat)
    return editor.condition(z), x


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
