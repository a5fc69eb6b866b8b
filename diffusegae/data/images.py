"""Images <-> tensors, the one convention every part uses: (3, H, W) float in [-1, 1].

Loading (`upright_rgb`, `open_image`), used by everything that turns a file into model input
(`square_resize`, so `Editor.preprocess`, the folder dataset; the service worker): the EXIF
orientation is applied, so a phone photo is upright, and transparent pixels are composited onto
`BACKGROUND` (white), so a transparent PNG is not encoded by the colour its invisible pixels happen
to hold. Then RGB.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

import numpy as np
import torch
from PIL import ExifTags, Image, ImageOps

BACKGROUND = (255, 255, 255)  # what transparent pixels become
_REDUCIBLE = ("L", "LA", "RGB", "RGBA")  # modes Image.reduce averages correctly (alpha premultiplied)


def _has_alpha(img: Image.Image) -> bool:
    """An alpha channel, or a transparent palette entry / colour key (Image.has_transparency_data, Pillow >= 10.1)."""
    return img.mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in img.info


def to_tensor(img: Image.Image) -> torch.Tensor:
    """PIL RGB image -> (3, H, W) float in [-1, 1]."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


def to_image(x: torch.Tensor) -> Image.Image:
    """(3, H, W) float in [-1, 1] -> PIL RGB image."""
    arr = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(arr, "RGB")


def _reduced(img: Image.Image, min_side: int) -> Image.Image:
    """`img` made smaller by an integer factor, its shorter side still >= min_side: a JPEG is decoded at
    1/2, 1/4 or 1/8 scale (draft), anything else is decoded and then box-reduced."""
    w, h = img.size
    short = min(w, h)
    if short < 2 * min_side:
        return img
    img.draft(None, (-(-w * min_side // short), -(-h * min_side // short)))  # JPEG only; a no-op for other formats
    factor = min(img.size) // min_side
    if factor < 2:
        return img
    if img.mode not in _REDUCIBLE:  # palette, 1-bit, 16-bit, CMYK: average colours, not palette indices
        img = img.convert("RGBA" if _has_alpha(img) else "RGB")
    return img.reduce(factor)


def upright_rgb(img: Image.Image, min_side: int | None = None) -> Image.Image:
    """The loading step every consumer uses: EXIF orientation applied, transparency composited onto
    BACKGROUND, RGB. Returns a new image (`img` is left as it is, and may be closed afterwards).

    With `min_side`, a large image is first reduced so that its shorter side stays >= min_side (a few
    times the model resolution is plenty for the LANCZOS resize that follows): a JPEG is never decoded
    at full size, and nothing full-size is kept."""
    if min_side:
        img = _reduced(img, min_side)
    if img.getexif().get(ExifTags.Base.Orientation, 1) != 1:
        img = ImageOps.exif_transpose(img)  # a transposed copy, without the orientation tag
    if _has_alpha(img):
        rgba = img.convert("RGBA")
        opaque = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        opaque.alpha_composite(rgba)
        return opaque.convert("RGB")
    return img.convert("RGB")  # a copy even when already RGB


def open_image(source: str | Path | IO[bytes], min_side: int | None = None) -> Image.Image:
    """Open a file and load it as `upright_rgb` does (the file is closed again)."""
    with Image.open(source) as im:
        return upright_rgb(im, min_side)


def centre_square(width: int, height: int) -> tuple[int, int, int, int]:
    """The centre square of a width x height image: (left, top, right, bottom), what `square_resize` keeps."""
    s = min(width, height)
    left, top = (width - s) // 2, (height - s) // 2
    return left, top, left + s, top + s


def upright_size(img: Image.Image) -> tuple[int, int]:
    """(width, height) once the EXIF orientation is applied (`upright_rgb`), without decoding the pixels."""
    w, h = img.size
    return (h, w) if img.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8) else (w, h)


def crop_facts(width: int, height: int, resolution: int) -> dict:
    """What preprocessing does to an upright width x height image: the square kept (in its pixels), whether
    anything was cut off, whether it was scaled, and to what size."""
    box = centre_square(width, height)
    return {"box": list(box), "cropped": width != height, "resized": box[2] - box[0] != resolution,
            "source_size": [width, height], "resolution": resolution}


def square_resize(img: Image.Image, resolution: int) -> Image.Image:
    """Upright, opaque RGB (`upright_rgb`), centre-cropped to a square and resized to `resolution` (anti-aliased)."""
    img = upright_rgb(img)
    img = img.crop(centre_square(*img.size))
    return img.resize((resolution, resolution), Image.Resampling.LANCZOS)
