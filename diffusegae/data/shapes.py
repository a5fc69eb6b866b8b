"""The six toy vehicles of the vehicles dataset, each a list of parts (boxes, cylinders, ellipsoids) in its own frame."""

from __future__ import annotations

from dataclasses import dataclass


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


