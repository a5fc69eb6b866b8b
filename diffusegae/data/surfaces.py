"""The vehicles dataset's 111 backgrounds: 12 kinds of surface x 10 colours (the last kind-colour pairs unused),
as procedural textures over ground and backdrop coordinates (numpy, deterministic)."""

from __future__ import annotations

from typing import TypeVar

import numpy as np

SURFACES = ("plain", "wood", "carpet", "tiles", "stone", "fabric", "cardboard", "checker", "stripes", "bricks",
            "marble", "dots")
PALETTE_NAMES = ("red", "orange", "sand", "olive", "green", "teal", "blue", "purple", "grey", "brown")
Label = TypeVar("Label")  # an int, or an array / tensor of them

_PALETTE = np.array([(180, 50, 45), (215, 120, 40), (210, 185, 130), (120, 125, 55), (60, 140, 70),
                     (40, 135, 135), (55, 90, 170), (120, 70, 150), (135, 135, 135), (115, 80, 55)],
                    np.float32) / 255.0


def surface_kind_and_colour(b: Label) -> tuple[Label, Label]:
    """Background label(s) -> (kind of surface, colour): indices into SURFACES and PALETTE_NAMES (ints or tensors)."""
    return b % len(SURFACES), b // len(SURFACES)


def background_of(kind: int, colour: int) -> int:
    """The background label of a kind of surface in a colour (the inverse of `surface_kind_and_colour`)."""
    return kind + len(SURFACES) * colour


def background_name(b: int) -> str:
    family, palette = surface_kind_and_colour(b)
    return f"{PALETTE_NAMES[palette]} {SURFACES[family]}"


def _hash01(ix: np.ndarray, iy: np.ndarray, seed: int) -> np.ndarray:
    """A value in [0, 1) per integer lattice point."""
    h = (ix.astype(np.int64) * 374761393 + iy.astype(np.int64) * 668265263 + seed * 2147483647) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * 1274126177) & 0xFFFFFFFF
    return ((h ^ (h >> 16)) & 0xFFFF).astype(np.float32) / 65536.0


def _value_noise(u: np.ndarray, v: np.ndarray, seed: int) -> np.ndarray:
    iu, iv = np.floor(u), np.floor(v)
    fu, fv = u - iu, v - iv
    fu, fv = fu * fu * (3 - 2 * fu), fv * fv * (3 - 2 * fv)
    a, b = _hash01(iu, iv, seed), _hash01(iu + 1, iv, seed)
    c, d = _hash01(iu, iv + 1, seed), _hash01(iu + 1, iv + 1, seed)
    return (a + (b - a) * fu) * (1 - fv) + (c + (d - c) * fu) * fv


def _fbm(u: np.ndarray, v: np.ndarray, seed: int, octaves: int = 3) -> np.ndarray:
    out, amp, total = np.zeros_like(u), 1.0, 0.0
    for k in range(octaves):
        out += amp * _value_noise(u * 2**k, v * 2**k, seed + 17 * k)
        total += amp
        amp *= 0.5
    return out / total


def _cells(u: np.ndarray, v: np.ndarray, size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Jittered-grid Voronoi cells of about `size`: (distance to the nearest cell edge, a value in [0, 1) per cell)."""
    gu, gv = u / size, v / size
    iu, iv = np.floor(gu), np.floor(gv)
    best = np.full((2,) + u.shape, np.inf, np.float32)
    ident = np.zeros_like(u)
    for du in (-1, 0, 1):
        for dv in (-1, 0, 1):
            cu, cv = iu + du, iv + dv
            pu, pv = cu + 0.15 + 0.7 * _hash01(cu, cv, seed), cv + 0.15 + 0.7 * _hash01(cu, cv, seed + 1)
            dist = np.hypot(gu - pu, gv - pv)
            nearer = dist < best[0]
            best[1] = np.where(nearer, best[0], np.minimum(best[1], dist))
            best[0] = np.where(nearer, dist, best[0])
            ident = np.where(nearer, _hash01(cu, cv, seed + 2), ident)
    return (best[1] - best[0]) * size / 2, ident


def surface(b: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Albedo (N, 3) of background `b` at surface coordinates (u, v) (world units, offset per image).

    Each family's structure is at least a few pixels across at 64 px, so that the kind of surface reads at a
    glance and not only its colour; the offset moves the pattern but never changes its kind.
    """
    family, palette = surface_kind_and_colour(b)
    c1 = _PALETTE[palette]
    c2 = np.clip(c1 * 0.45, 0, 1) if c1.mean() > 0.45 else np.clip(c1 * 0.4 + 0.55, 0, 1)
    name = SURFACES[family]
    mix = np.zeros_like(u)  # 0 -> c1, 1 -> c2
    tone = np.ones_like(u)
    if name == "plain":
        tone = 0.95 + 0.06 * _fbm(u * 0.5, v * 0.5, 1)
    elif name == "wood":  # planks along u, each its own shade, dark seams, grain streaks
        plank = np.floor(v / 0.4)
        tone = 0.72 + 0.4 * _hash01(plank, plank * 0 + 3, 2)
        grain = np.sin((u + 3 * _hash01(plank, plank * 0, 5)) * 5 + 4 * _fbm(u * 0.8, v * 4, 7))
        mix = 0.4 * (grain > 0.7) + 1.0 * (np.abs(v / 0.4 - plank - 0.5) > 0.42)
    elif name == "carpet":  # a rug of soft light and dark blotches
        n = _fbm(u * 1.6, v * 1.6, 11, 2)
        mix = np.clip((n - 0.35) * 3.0, 0, 1)
        tone = 0.9 + 0.15 * _value_noise(u * 8, v * 8, 12)
    elif name == "tiles":  # large square tiles, thick grout
        fu, fv = (u / 0.7) % 1, (v / 0.7) % 1
        mix = ((fu < 0.12) | (fv < 0.12)).astype(np.float32)
        tone = 0.88 + 0.2 * _hash01(np.floor(u / 0.7), np.floor(v / 0.7), 13)
    elif name == "stone":  # irregular flagstones, dark gaps
        edge, ident = _cells(u, v, 0.6, 21)
        mix = (edge < 0.035).astype(np.float32)
        tone = 0.7 + 0.5 * ident
    elif name == "fabric":  # a tartan: bands across both directions
        bu = ((u / 0.8) % 1 < 0.3).astype(np.float32)
        bv = ((v / 0.8) % 1 < 0.3).astype(np.float32)
        mix = 0.5 * bu + 0.5 * bv
    elif name == "cardboard":  # corrugated: soft ridges along v
        tone = 0.8 + 0.35 * np.sin(u * 2 * np.pi / 0.35) ** 2
    elif name == "checker":
        mix = ((np.floor(u / 0.5) + np.floor(v / 0.5)) % 2).astype(np.float32)
    elif name == "stripes":
        mix = ((np.floor((u + v) / 0.35)) % 2).astype(np.float32)
    elif name == "bricks":  # running bond, offset rows, light mortar
        row = np.floor(v / 0.3)
        fu, fv = ((u + 0.3 * (row % 2)) / 0.6) % 1, (v / 0.3) % 1
        mix = ((fu < 0.08) | (fv < 0.16)).astype(np.float32)
        tone = 0.8 + 0.3 * _hash01(np.floor((u + 0.3 * (row % 2)) / 0.6), row, 41)
    elif name == "marble":  # bold veins on a pale ground
        vein = np.abs(np.sin(u * 1.8 + v * 0.9 + 5 * _fbm(u * 0.9, v * 0.9, 51, 3)))
        mix = np.clip(1 - vein * 3, 0, 1)
        tone = 1.0 + 0.08 * _fbm(u * 2, v * 2, 53)
    elif name == "dots":  # large polka dots
        fu, fv = (u / 0.5) % 1 - 0.5, (v / 0.5) % 1 - 0.5
        mix = (fu * fu + fv * fv < 0.09).astype(np.float32)
    albedo = c1[None] * (1 - mix[:, None]) + c2[None] * mix[:, None]
    return np.clip(albedo * tone[:, None], 0, 1)


