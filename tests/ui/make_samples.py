"""Render the toys the UI tests upload (tests/ui/samples/*.png).

Run from the repository root: python tests/ui/make_samples.py
The (identity, background, pose) triples vary every attribute so the tests can swap each one. (The editor's
*Samples* button uploads the served model's own examples instead: model.json's `examples`.)
"""

from __future__ import annotations

from pathlib import Path

from diffusegae.data.toys import render

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "samples"
RESOLUTION = 64

# (identity 0..5, background 0..110, pose 0..9). Every identity, solid / striped / checked
# backgrounds, and three backgrounds in 0..5, which the tiny test model also knows.
SAMPLES = [
    (0, 3, 0),
    (1, 40, 2),
    (2, 5, 5),
    (3, 18, 7),
    (4, 1, 1),
    (5, 55, 4),
    (0, 108, 8),
    (3, 77, 3),
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for identity, background, pose in SAMPLES:
        name = f"toy-i{identity}-b{background}-p{pose}.png"
        render(identity, background, pose, RESOLUTION).save(OUT / name, optimize=True)
    print(f"wrote {len(SAMPLES)} samples to {OUT}")


if __name__ == "__main__":
    main()
