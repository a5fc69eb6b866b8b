"""Images <-> tensors, the one convention every part uses: (3, H, W) float in [-1, 1]."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def to_tensor(img: Image.Image) -> torch.Tensor:
    """PIL RGB image -> (3, H, W) float in [-1, 1]."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


def to_image(x: torch.Tensor) -> Image.Image:
    """(3, H, W) float in [-1, 1] -> PIL RGB image."""
    arr = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(arr, "RGB")


def square_resize(img: Image.Image, resolution: int) -> Image.Image:
    """Centre-crop to a square and resize to `resolution` (anti-aliased)."""
    img = img.convert("RGB")
    w, h = img.size
    s = min(w, h)
    img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    return img.resize((resolution, resolution), Image.Resampling.LANCZOS)
