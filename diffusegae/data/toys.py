"""The procedural "toys" dataset: identity (6) x background (111) x pose (10).

Each sample is drawn from its three labels alone, so any resolution can be rendered on the
fly and nothing is downloaded. Drawing happens at `supersample` times the target size and is
reduced with a box filter, which anti-aliases edges.
"""

from __future__ import annotations

import colorsys
import math

import torch
from PIL import Image, ImageDraw

from diffusegae.data.images import to_tensor

ATTRIBUTES = ("identity", "background", "pose")
NUM_VALUES = (6, 111, 10)
NUM_IDENTITIES, NUM_BACKGROUNDS, NUM_POSES = NUM_VALUES
NUM_PATTERNS = 3  # solid, stripes, checker
NUM_COLOURS = NUM_BACKGROUNDS // NUM_PATTERNS  # 37

# Shapes in a unit frame, y pointing down, "up" is -y. Each is a list of parts: ("poly", points) or
# ("circle", (cx, cy, r)). None has rotational symmetry, so all 10 poses (36 deg apart) differ.
_SHAPES: list[list[tuple[str, tuple]]] = [
    # 0: "L"
    [("poly", ((-0.55, -0.85), (-0.1, -0.85), (-0.1, 0.4), (0.65, 0.4), (0.65, 0.85), (-0.55, 0.85)))],
    # 1: arrow with an offset barb
    [("poly", ((0.0, -0.9), (0.65, -0.15), (0.2, -0.15), (0.2, 0.9), (-0.2, 0.9), (-0.2, -0.15)))],
    # 2: flag on a pole
    [("poly", ((-0.55, -0.9), (-0.3, -0.9), (-0.3, 0.9), (-0.55, 0.9))),
     ("poly", ((-0.3, -0.9), (0.7, -0.6), (-0.3, -0.2)))],
    # 3: "F"
    [("poly", ((-0.5, -0.85), (0.6, -0.85), (0.6, -0.5), (-0.1, -0.5), (-0.1, -0.15), (0.35, -0.15),
               (0.35, 0.2), (-0.1, 0.2), (-0.1, 0.85), (-0.5, 0.85)))],
    # 4: scalene right triangle
    [("poly", ((-0.7, -0.85), (-0.7, 0.75), (0.8, 0.75)))],
    # 5: key: ring at the top, shaft, one tooth
    [("circle", (0.0, -0.5, 0.4)),
     ("poly", ((-0.14, -0.2), (0.14, -0.2), (0.14, 0.9), (-0.14, 0.9))),
     ("poly", ((0.14, 0.5), (0.55, 0.5), (0.55, 0.75), (0.14, 0.75)))],
]

_IDENTITY_COLOURS = [(230, 40, 40), (40, 90, 235), (250, 210, 30), (30, 180, 70), (200, 60, 220), (255, 140, 20)]


def _background_colours() -> list[tuple[int, int, int]]:
    """37 colours: 12 hues x (vivid, dark, pale) plus a mid grey."""
    out = []
    for level_s, level_v in ((0.85, 0.9), (0.8, 0.45), (0.35, 0.95)):
        for h in range(12):
            r, g, b = colorsys.hsv_to_rgb(h / 12.0, level_s, level_v)
            out.append((round(r * 255), round(g * 255), round(b * 255)))
    out.append((128, 128, 128))
    return out


_BG_COLOURS = _background_colours()


def all_labels() -> torch.Tensor:
    """Every (identity, background, pose) combination, (6660, 3) int64, in a fixed order."""
    grids = torch.meshgrid(*[torch.arange(n) for n in NUM_VALUES], indexing="ij")
    return torch.stack([g.reshape(-1) for g in grids], dim=1)


def _shade(c: tuple[int, int, int], f: float) -> tuple[int, int, int]:
    return tuple(max(0, min(255, round(v * f))) for v in c)  # type: ignore[return-value]


def _draw_background(draw: ImageDraw.ImageDraw, size: int, background: int) -> None:
    pattern, colour = divmod(background, NUM_COLOURS)
    base = _BG_COLOURS[colour]
    # The second colour of a pattern is a lighter or darker version of the first, so the
    # colour stays recognisable while the pattern is visible.
    other = _shade(base, 0.55) if sum(base) > 300 else tuple(min(255, v + 90) for v in base)
    draw.rectangle((0, 0, size, size), fill=base)
    period = size / 4
    if pattern == 1:  # diagonal stripes
        w = period / 2
        for k in range(-8, 10):
            x0 = k * period
            draw.polygon([(x0, 0), (x0 + w, 0), (x0 + w + size, size), (x0 + size, size)], fill=other)
    elif pattern == 2:  # checker
        for i in range(4):
            for j in range(4):
                if (i + j) % 2:
                    draw.rectangle((i * period, j * period, (i + 1) * period, (j + 1) * period), fill=other)


def _draw_object(draw: ImageDraw.ImageDraw, size: int, identity: int, pose: int) -> None:
    angle = 2 * math.pi * pose / NUM_POSES
    ca, sa = math.cos(angle), math.sin(angle)
    scale, centre = 0.36 * size, size / 2
    outline = max(1, round(size / 40))

    def tf(x: float, y: float) -> tuple[float, float]:
        return centre + scale * (ca * x - sa * y), centre + scale * (sa * x + ca * y)

    fill = _IDENTITY_COLOURS[identity]
    for kind, spec in _SHAPES[identity]:
        if kind == "poly":
            draw.polygon([tf(x, y) for x, y in spec], fill=fill, outline=(0, 0, 0), width=outline)
        else:
            cx, cy, r = spec
            px, py = tf(cx, cy)
            draw.ellipse((px - r * scale, py - r * scale, px + r * scale, py + r * scale), fill=fill,
                         outline=(0, 0, 0), width=outline)


def render(identity: int, background: int, pose: int, resolution: int = 32, *, supersample: int = 4) -> Image.Image:
    """Render one toy as an RGB image of `resolution` x `resolution` pixels."""
    for name, v, n in zip(ATTRIBUTES, (identity, background, pose), NUM_VALUES):
        if not 0 <= int(v) < n:
            raise ValueError(f"{name} must be in [0, {n}), got {v}")
    size = resolution * supersample
    img = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(img)
    _draw_background(draw, size, int(background))
    _draw_object(draw, size, int(identity), int(pose))
    return img.resize((resolution, resolution), Image.Resampling.BOX)


def render_tensor(labels: torch.Tensor, resolution: int = 32) -> torch.Tensor:
    """(N, 3) labels -> (N, 3, R, R) images in [-1, 1]."""
    return torch.stack([to_tensor(render(*map(int, row), resolution)) for row in labels])
