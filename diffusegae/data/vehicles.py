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

import numpy as np
from PIL import Image

from diffusegae.data.shapes import VEHICLES, Part
from diffusegae.data.surfaces import (  # noqa: F401 (the labels' names are part of this dataset's interface)
    PALETTE_NAMES,
    SURFACES,
    background_name,
    background_of,
    surface,
    surface_kind_and_colour,
)

ATTRIBUTES = ("identity", "background", "pose")
NUM_VALUES = (6, 111, 10)
IDENTITY_NAMES = ("car", "truck", "bus", "tank", "plane", "boat")
RENDER_VERSION = 2  # bump when a picture changes: it names cached renders

_EPS = 1e-4
_FAR = 1e9


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
    albedo[on_g] = surface(background, gu, gv)
    normal[on_g] = (0, 1, 0)
    # The backdrop is a sweep of the same material, seen face on: the surface's pattern without foreshortening.
    wu = pts[on_w, 0] + nz.texture_offset[0]
    wv = pts[on_w, 1] + nz.texture_offset[1]
    albedo[on_w] = surface(background, wu, wv) * (0.8 + 0.15 * np.clip(pts[on_w, 1] / 3, 0, 1))[:, None]
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
