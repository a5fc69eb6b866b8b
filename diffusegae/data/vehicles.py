"""The procedural "vehicles" dataset: six toy vehicles x 111 surfaces x 10 camera azimuths, ray cast in 3-D.

The attribute structure of the paper's ilab_20M subset (identity 6, background 111, pose 10), drawn
the way a turntable photograph is taken: a vehicle built from boxes, cylinders and ellipsoids stands
on a textured ground in front of a backdrop, a camera slightly above looks at it in true perspective,
and a sun light casts its (soft) shadow. Each image also has nuisance variation that the labels do
not decide, drawn from a seed per image: light direction and strength, exposure and white balance,
a camera jitter of a few pixels, the texture's offset and sensor grain. The stochastic code x_T has
that to carry.

Everything is numpy, vectorised over the rays of one image, and deterministic: the same labels,
resolution and seed give the same bytes. Rays are cast at `supersample` x the target side and
box-filtered down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from PIL import Image

ATTRIBUTES = ("identity", "background", "pose")
NUM_VALUES = (6, 111, 10)
IDENTITY_NAMES = ("car", "truck", "bus", "tank", "plane", "boat")
SURFACES = ("plain", "wood", "carpet", "tiles", "stone", "fabric", "cardboard", "checker", "stripes", "bricks",
            "marble", "dots")
PALETTE_NAMES = ("red", "orange", "sand", "olive", "green", "teal", "blue", "purple", "grey", "brown")
RENDER_VERSION = 2  # bump when a picture changes: it names cached renders
Label = TypeVar("Label")  # an int, or an array / tensor of them

_EPS = 1e-4
_FAR = 1e9


# --- shapes ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Part:
    """One primitive in the vehicle's frame (x forward, y up, z to its left), units of about a metre/4."""

    kind: str  # "box", "cyl" (capped cylinder) or "ell" (ellipsoid)
    centre: tuple[float, float, float]
    size: tuple[float, float, float]  # box: half extents; ell: radii; cyl: (radius, half length, axis 0/1/2)
    colour: tuple[int, int, int]
    shine: float = 0.15  # specular weight
    pitch: float = 0.0  # box only: rotation about z in degrees (slanted windscreens, ramps)


def _wheels(xs: tuple[float, ...], z: float, r: float, w: float = 0.09) -> list[Part]:
    tyre, hub = (25, 25, 28), (170, 170, 175)
    out = []
    for x in xs:
        for side in (-1, 1):
            out.append(Part("cyl", (x, r, side * z), (r, w, 2), tyre, 0.05))
            out.append(Part("cyl", (x, r, side * (z + w * 0.6)), (r * 0.45, w * 0.5, 2), hub, 0.5))
    return out


def _car() -> list[Part]:
    red, glass, light, tail = (200, 30, 35), (40, 55, 75), (255, 235, 150), (120, 10, 10)
    return [
        Part("box", (0.0, 0.32, 0.0), (0.95, 0.16, 0.42), red, 0.45),
        Part("box", (-0.2, 0.6, 0.0), (0.42, 0.14, 0.37), glass, 0.6),
        Part("box", (0.28, 0.55, 0.0), (0.12, 0.1, 0.36), glass, 0.6, pitch=-35),
        Part("box", (-0.2, 0.75, 0.0), (0.36, 0.02, 0.36), red, 0.45),
        Part("box", (0.96, 0.36, 0.26), (0.02, 0.05, 0.09), light, 0.3),
        Part("box", (0.96, 0.36, -0.26), (0.02, 0.05, 0.09), light, 0.3),
        Part("box", (-0.96, 0.38, 0.0), (0.02, 0.04, 0.36), tail, 0.3),
        Part("box", (-0.85, 0.52, 0.0), (0.08, 0.02, 0.4), (30, 30, 30), 0.2),  # spoiler
        *_wheels((0.58, -0.58), 0.42, 0.17),
    ]


def _truck() -> list[Part]:
    blue, white, glass, stripe = (35, 75, 190), (225, 225, 220), (40, 55, 75), (240, 130, 20)
    return [
        Part("box", (0.72, 0.5, 0.0), (0.26, 0.3, 0.38), blue, 0.4),
        Part("box", (0.97, 0.62, 0.0), (0.02, 0.12, 0.32), glass, 0.6),
        Part("box", (0.72, 0.62, 0.39), (0.18, 0.1, 0.01), glass, 0.6),
        Part("box", (0.72, 0.62, -0.39), (0.18, 0.1, 0.01), glass, 0.6),
        Part("box", (-0.35, 0.6, 0.0), (0.78, 0.4, 0.42), white, 0.2),
        Part("box", (-0.35, 0.45, 0.425), (0.74, 0.05, 0.01), stripe, 0.2),
        Part("box", (-0.35, 0.45, -0.425), (0.74, 0.05, 0.01), stripe, 0.2),
        Part("box", (0.0, 0.2, 0.0), (1.0, 0.05, 0.3), (50, 50, 55), 0.1),
        *_wheels((0.72, -0.45, -0.85), 0.38, 0.16),
    ]


def _bus() -> list[Part]:
    yellow, glass, black = (245, 195, 25), (40, 55, 75), (30, 30, 30)
    parts = [
        Part("box", (0.0, 0.62, 0.0), (1.05, 0.45, 0.4), yellow, 0.35),
        Part("box", (1.06, 0.72, 0.0), (0.01, 0.2, 0.34), glass, 0.6),
        Part("box", (1.06, 0.3, 0.0), (0.02, 0.06, 0.38), black, 0.2),  # bumper at the front only
        Part("box", (-0.45, 1.1, 0.0), (0.3, 0.04, 0.25), (200, 200, 200), 0.3),  # roof unit at the back
        Part("box", (0.8, 0.55, 0.405), (0.12, 0.3, 0.01), glass, 0.6),  # door
    ]
    for x in (-0.75, -0.4, -0.05, 0.3):
        for side in (-1, 1):
            parts.append(Part("box", (x, 0.8, side * 0.405), (0.14, 0.12, 0.01), glass, 0.6))
    return parts + _wheels((0.65, -0.65), 0.38, 0.17)


def _tank() -> list[Part]:
    olive, dark, track = (95, 110, 55), (70, 82, 40), (45, 45, 42)
    return [
        Part("box", (0.0, 0.3, 0.0), (0.9, 0.14, 0.35), olive, 0.15),
        Part("box", (0.95, 0.26, 0.0), (0.1, 0.08, 0.33), olive, 0.15, pitch=40),  # sloped glacis at the front
        Part("box", (0.0, 0.16, 0.42), (0.95, 0.16, 0.1), track, 0.05),
        Part("box", (0.0, 0.16, -0.42), (0.95, 0.16, 0.1), track, 0.05),
        Part("cyl", (-0.2, 0.53, 0.0), (0.32, 0.1, 1), dark, 0.15),  # turret, behind the middle
        Part("cyl", (0.5, 0.55, 0.0), (0.05, 0.55, 0), dark, 0.2),  # barrel pointing forward
        Part("box", (-0.45, 0.66, 0.12), (0.08, 0.04, 0.06), dark, 0.1),  # hatch
        Part("box", (-0.92, 0.36, 0.0), (0.04, 0.06, 0.25), (60, 60, 50), 0.1),  # exhaust at the back
    ]


def _plane() -> list[Part]:
    white, red, glass, grey = (230, 232, 235), (205, 35, 35), (40, 55, 75), (90, 90, 95)
    return [
        Part("cyl", (0.0, 0.5, 0.0), (0.17, 0.85, 0), white, 0.5),  # fuselage
        Part("ell", (0.85, 0.5, 0.0), (0.3, 0.17, 0.17), red, 0.5),  # red nose
        Part("ell", (0.55, 0.64, 0.0), (0.22, 0.09, 0.11), glass, 0.7),  # cockpit
        Part("box", (0.1, 0.45, 0.0), (0.22, 0.025, 1.0), white, 0.4),  # wings
        Part("box", (0.05, 0.47, 0.92), (0.12, 0.03, 0.09), red, 0.4),  # wing tips
        Part("box", (0.05, 0.47, -0.92), (0.12, 0.03, 0.09), red, 0.4),
        Part("box", (-0.78, 0.78, 0.0), (0.12, 0.26, 0.02), red, 0.4),  # tail fin
        Part("box", (-0.8, 0.55, 0.0), (0.1, 0.02, 0.35), white, 0.4),  # stabiliser
        Part("cyl", (0.6, 0.17, 0.0), (0.03, 0.17, 1), grey, 0.2),
        Part("cyl", (0.6, 0.07, 0.0), (0.07, 0.04, 2), (25, 25, 28), 0.05),
        Part("cyl", (0.0, 0.17, 0.3), (0.03, 0.17, 1), grey, 0.2),
        Part("cyl", (0.0, 0.07, 0.3), (0.07, 0.04, 2), (25, 25, 28), 0.05),
        Part("cyl", (0.0, 0.17, -0.3), (0.03, 0.17, 1), grey, 0.2),
        Part("cyl", (0.0, 0.07, -0.3), (0.07, 0.04, 2), (25, 25, 28), 0.05),
    ]


def _boat() -> list[Part]:
    navy, white, wood, mast = (25, 40, 95), (235, 235, 230), (160, 110, 60), (200, 200, 200)
    return [
        Part("box", (-0.15, 0.32, 0.0), (0.7, 0.16, 0.34), navy, 0.4),  # hull
        Part("ell", (0.5, 0.32, 0.0), (0.55, 0.16, 0.34), navy, 0.4),  # pointed bow
        Part("box", (-0.15, 0.48, 0.0), (0.68, 0.02, 0.3), wood, 0.15),  # deck
        Part("box", (-0.4, 0.62, 0.0), (0.25, 0.13, 0.22), white, 0.3),  # cabin towards the stern
        Part("box", (-0.2, 0.64, 0.0), (0.02, 0.07, 0.18), (40, 55, 75), 0.6),
        Part("cyl", (0.05, 1.0, 0.0), (0.025, 0.5, 1), mast, 0.3),
        Part("box", (-0.88, 0.4, 0.0), (0.04, 0.14, 0.05), (60, 60, 60), 0.2),  # outboard motor at the stern
        Part("box", (0.1, 0.08, 0.0), (0.7, 0.08, 0.12), (120, 120, 125), 0.1),  # trailer stand
    ]


VEHICLES = (_car(), _truck(), _bus(), _tank(), _plane(), _boat())


# --- surfaces ----------------------------------------------------------------------------------

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


def _surface(b: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
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


# --- ray casting -------------------------------------------------------------------------------

def _rot_z(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]], np.float32)


def _rot_y(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]], np.float32)


def _bounding_radius(p: Part) -> float:
    if p.kind == "box":
        return float(np.linalg.norm(p.size))
    if p.kind == "ell":
        return float(max(p.size))
    return math.hypot(p.size[0], p.size[1])


def _passes(o: np.ndarray, d: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    """Rays (unit d) that come within `radius` of `centre` ahead of their origin, or start inside."""
    oc = o - centre
    b = (oc * d).sum(1)
    dist2 = (oc * oc).sum(1)
    return ((dist2 - b * b <= radius * radius) & (b < 0)) | (dist2 <= radius * radius)


def _hit_part(p: Part, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest hit distance (N,) (inf where none) and the normal there (N, 3) of rays o + t d (N, 3)."""
    c = np.asarray(p.centre, np.float32)
    n = o.shape[0]
    cand = np.flatnonzero(_passes(o, d, c, _bounding_radius(p)))
    t_out, n_out = np.full(n, np.inf, np.float32), np.zeros((n, 3), np.float32)
    if cand.size:
        t_out[cand], n_out[cand] = _hit_part_exact(p, o[cand], d[cand])
    return t_out, n_out


def _hit_part_exact(p: Part, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(p.centre, np.float32)
    n = o.shape[0]
    if p.kind == "box":
        rot = _rot_z(p.pitch)
        lo, ld = (o - c) @ rot, d @ rot  # into the box's frame (rot is orthonormal: x @ R == R^T x)
        h = np.asarray(p.size, np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / np.where(np.abs(ld) < 1e-9, 1e-9, ld)
            t1, t2 = (-h - lo) * inv, (h - lo) * inv
        tn, tf = np.minimum(t1, t2), np.maximum(t1, t2)
        axis = tn.argmax(axis=1)
        t_near, t_far = tn.max(axis=1), tf.min(axis=1)
        hit = (t_far >= t_near) & (t_near > _EPS)
        normal = np.zeros((n, 3), np.float32)
        normal[np.arange(n), axis] = -np.sign(ld[np.arange(n), axis])
        return np.where(hit, t_near, np.inf), normal @ rot.T
    if p.kind == "ell":
        r = np.asarray(p.size, np.float32)
        lo, ld = (o - c) / r, d / r
        a = (ld * ld).sum(1)
        b = (lo * ld).sum(1)
        cc = (lo * lo).sum(1) - 1
        disc = b * b - a * cc
        t = (-b - np.sqrt(np.maximum(disc, 0))) / a
        hit = (disc >= 0) & (t > _EPS)
        normal = (lo + t[:, None] * ld) / r
        normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-12
        return np.where(hit, t, np.inf), normal
    radius, half, ax = p.size
    ax = int(ax)
    others = [i for i in range(3) if i != ax]
    lo, ld = o - c, d
    a = ld[:, others[0]] ** 2 + ld[:, others[1]] ** 2
    b = lo[:, others[0]] * ld[:, others[0]] + lo[:, others[1]] * ld[:, others[1]]
    cc = lo[:, others[0]] ** 2 + lo[:, others[1]] ** 2 - radius * radius
    disc = b * b - a * cc
    with np.errstate(divide="ignore", invalid="ignore"):
        t_side = (-b - np.sqrt(np.maximum(disc, 0))) / np.where(a < 1e-12, 1e-12, a)
        along = lo[:, ax] + t_side * ld[:, ax]
        side_ok = (disc >= 0) & (t_side > _EPS) & (np.abs(along) <= half)
        dz = np.where(np.abs(ld[:, ax]) < 1e-9, 1e-9, ld[:, ax])
        t_caps = np.stack([(half - lo[:, ax]) / dz, (-half - lo[:, ax]) / dz], 1)
    cap_pts = lo[:, None, :] + t_caps[:, :, None] * ld[:, None, :]
    cap_ok = (t_caps > _EPS) & (cap_pts[..., others[0]] ** 2 + cap_pts[..., others[1]] ** 2 <= radius * radius)
    t_cap = np.where(cap_ok, t_caps, np.inf).min(1)
    t_s = np.where(side_ok, t_side, np.inf)
    t = np.minimum(t_s, t_cap)
    normal = lo + np.where(side_ok, t_side, 0)[:, None] * ld
    normal[:, ax] = 0
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-12
    cap_n = np.zeros((n, 3), np.float32)
    cap_n[:, ax] = -np.sign(dz)
    normal = np.where((t_cap < t_s)[:, None], cap_n, normal)
    return t, normal


def _near(o: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Rays (vehicle frame) that pass within the bounding sphere of every vehicle: the only ones worth testing."""
    return _passes(o, d, np.array([0.0, 0.5, 0.0], np.float32), 1.45)


def _hit_vehicle(parts: list[Part], o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest part hit: distance (N,), normal (N, 3), part index (N,) (-1 where none)."""
    best = np.full(o.shape[0], np.inf, np.float32)
    normal = np.zeros_like(o)
    which = np.full(o.shape[0], -1)
    idx = np.flatnonzero(_near(o, d))
    o, d = o[idx], d[idx]
    for i, p in enumerate(parts):
        t, nrm = _hit_part(p, o, d)
        closer = t < best[idx]
        sel = idx[closer]
        best[sel] = t[closer]
        normal[sel] = nrm[closer]
        which[sel] = i
    return best, normal, which


def _occluded(parts: list[Part], o: np.ndarray, d: np.ndarray) -> np.ndarray:
    blocked = np.zeros(o.shape[0], bool)
    idx = np.flatnonzero(_near(o, d))
    hit = np.zeros(idx.shape[0], bool)
    for p in parts:
        hit |= np.isfinite(_hit_part(p, o[idx], d[idx])[0])
    blocked[idx] = hit
    return blocked


@dataclass(frozen=True)
class Nuisance:
    """What a photograph varies that the labels do not: one draw per image."""

    light_azimuth: float  # degrees, about the vertical
    light_elevation: float
    light_strength: float
    ambient: float
    exposure: float
    white_balance: tuple[float, float, float]
    camera_shift: tuple[float, float]  # world units, sideways and up
    texture_offset: tuple[float, float]
    grain: float  # sensor noise std in [0, 1] units

    @staticmethod
    def draw(rng: np.random.Generator) -> Nuisance:
        return Nuisance(light_azimuth=float(rng.uniform(-55, -25)), light_elevation=float(rng.uniform(40, 60)),
                        light_strength=float(rng.uniform(0.85, 1.1)), ambient=float(rng.uniform(0.3, 0.42)),
                        exposure=float(rng.uniform(0.9, 1.1)),
                        white_balance=tuple(float(x) for x in rng.uniform(0.95, 1.05, 3)),
                        camera_shift=(float(rng.uniform(-0.08, 0.08)), float(rng.uniform(-0.06, 0.06))),
                        texture_offset=(float(rng.uniform(0, 4)), float(rng.uniform(0, 4))),
                        grain=float(rng.uniform(0.006, 0.014)))


def image_seed(identity: int, background: int, pose: int, seed: int = 0) -> int:
    return ((identity * NUM_VALUES[1] + background) * NUM_VALUES[2] + pose) * 7919 + seed * 1_000_003


def render(identity: int, background: int, pose: int, resolution: int = 64, *, seed: int = 0,
           supersample: int = 2, nuisance: bool = True, nuisance_of: tuple[int, int, int] | None = None
           ) -> Image.Image:
    """Render one vehicle photograph as an RGB image of `resolution` x `resolution` pixels.

    `seed` picks the nuisance draw (light, exposure, camera jitter, texture offset, grain);
    `nuisance=False` renders the labels' mean picture with none of it. `nuisance_of` = (identity, background,
    pose) of another image gives this one that image's draw: the same photograph with some labels changed.
    """
    for name, val, n in zip(ATTRIBUTES, (identity, background, pose), NUM_VALUES):
        if not 0 <= int(val) < n:
            raise ValueError(f"{name} must be in [0, {n}), got {val}")
    identity, background, pose = int(identity), int(background), int(pose)
    rng = np.random.default_rng(image_seed(*(nuisance_of or (identity, background, pose)), seed))
    nz = Nuisance.draw(rng) if nuisance else Nuisance(-40, 50, 1.0, 0.36, 1.0, (1, 1, 1), (0, 0, 0), (0, 0), 0.0)
    side = resolution * supersample

    # Camera: 3.6 units from the turntable's centre at 20 degrees of elevation, 40 degrees field of view.
    elev = math.radians(20)
    eye = np.array([0.0, 0.35 + 3.6 * math.sin(elev), -3.6 * math.cos(elev)], np.float32)
    eye += np.array([nz.camera_shift[0], nz.camera_shift[1], 0], np.float32)
    target = np.array([0.0, 0.42, 0.0], np.float32)
    fwd = target - eye
    fwd /= np.linalg.norm(fwd)
    right = np.cross(np.array([0, 1, 0], np.float32), fwd)
    right /= np.linalg.norm(right)
    up = np.cross(fwd, right)
    half = math.tan(math.radians(40) / 2)
    px = (np.arange(side, dtype=np.float32) + 0.5) / side * 2 - 1
    gx, gy = np.meshgrid(px * half, -px * half)
    d = fwd[None] + gx.reshape(-1, 1) * right[None] + gy.reshape(-1, 1) * up[None]  # (N, 3)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    o = np.broadcast_to(eye, d.shape).astype(np.float32)

    # The turntable turns the vehicle: pose k faces 36k + 20 degrees away from the camera's left.
    yaw = _rot_y(36.0 * pose + 20.0)
    parts = VEHICLES[identity]
    o_obj, d_obj = o @ yaw, d @ yaw  # world -> vehicle frame
    t_v, n_obj, which = _hit_vehicle(parts, o_obj, d_obj)
    n_v = n_obj @ yaw.T

    # Ground y = 0 and a backdrop wall z = 3.2.
    with np.errstate(divide="ignore"):
        t_g = np.where(d[:, 1] < -1e-6, -o[:, 1] / d[:, 1], np.inf)
        t_w = np.where(d[:, 2] > 1e-6, (3.2 - o[:, 2]) / d[:, 2], np.inf)
    t_w = np.where(o[:, 1] + t_w * d[:, 1] >= 0, t_w, np.inf)
    t = np.minimum(np.minimum(t_g, t_w), t_v)
    pts = o + t[:, None] * d

    albedo = np.empty_like(d)
    normal = np.empty_like(d)
    shine = np.zeros(d.shape[0], np.float32)
    on_v, on_g = t == t_v, (t == t_g) & (t != t_v)
    on_w = ~on_v & ~on_g
    colours = np.array([p.colour for p in parts], np.float32) / 255.0
    albedo[on_v] = colours[which[on_v]]
    shine[on_v] = np.array([p.shine for p in parts], np.float32)[which[on_v]]
    normal[on_v] = n_v[on_v]
    gu = pts[on_g, 0] + nz.texture_offset[0]
    gv = pts[on_g, 2] + nz.texture_offset[1]
    albedo[on_g] = _surface(background, gu, gv)
    normal[on_g] = (0, 1, 0)
    # The backdrop is a sweep of the same material, seen face on: the surface's pattern without foreshortening.
    wu = pts[on_w, 0] + nz.texture_offset[0]
    wv = pts[on_w, 1] + nz.texture_offset[1]
    albedo[on_w] = _surface(background, wu, wv) * (0.8 + 0.15 * np.clip(pts[on_w, 1] / 3, 0, 1))[:, None]
    normal[on_w] = (0, 0, -1)

    # Sun light with a soft shadow: four shadow rays in a small cone.
    la, le = math.radians(nz.light_azimuth), math.radians(nz.light_elevation)
    light = np.array([math.sin(la) * math.cos(le), math.sin(le), -math.cos(la) * math.cos(le)], np.float32)
    lit = np.zeros(d.shape[0], np.float32)
    start = pts + normal * 2e-3
    for dx, dz in ((0.04, 0.0), (-0.04, 0.0), (0.0, 0.04), (0.0, -0.04)):
        ld = light + np.array([dx, 0, dz], np.float32)
        ld /= np.linalg.norm(ld)
        lit += ~_occluded(parts, start @ yaw, np.broadcast_to(ld @ yaw, d.shape))
    lit /= 4
    ndl = np.clip((normal * light).sum(1), 0, 1)
    halfway = light[None] - d
    halfway /= np.linalg.norm(halfway, axis=1, keepdims=True)
    spec = shine * np.clip((normal * halfway).sum(1), 0, 1) ** 30
    colour = albedo * (nz.ambient + nz.light_strength * lit * ndl)[:, None] + (lit * spec)[:, None]
    colour *= nz.exposure * np.asarray(nz.white_balance, np.float32)[None]

    img = colour.reshape(resolution, supersample, resolution, supersample, 3).mean(axis=(1, 3))
    img = img + nz.grain * rng.standard_normal(img.shape).astype(np.float32)
    img = np.clip(img, 0, 1) ** (1 / 1.2)  # a mild tone curve, as a camera applies
    return Image.fromarray((img * 255 + 0.5).astype(np.uint8), "RGB")
