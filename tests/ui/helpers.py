"""Small page helpers shared by the UI tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "tests" / "ui" / "samples").glob("*.png"))  # toys for the tiny model (make_samples.py)

ENCODE_TIMEOUT_MS = 120_000
RENDER_TIMEOUT_MS = 120_000


def image_id(path: Path, model: str | None = None) -> str:
    """The API's image id: the SHA-256 of the uploaded bytes (in `model`, a model other than the default: of its name,
    a NUL and the bytes)."""
    data = path.read_bytes()
    return hashlib.sha256(data if model is None else model.encode() + b"\0" + data).hexdigest()


def gallery_item(page, img_id: str):
    return page.locator(f'[data-testid=gallery-item][data-image-id="{img_id}"]')


def open_editor(page) -> None:
    page.goto("/")
    page.wait_for_selector("body[data-ready=true]")


def upload(page, paths: list[Path], model: str | None = None) -> list[str]:
    """Upload through the file picker; wait until every image is encoded; returns their ids. `model`: the page is on
    that model, not the default one (the ids differ)."""
    page.set_input_files("[data-testid=file-input]", [str(p) for p in paths])
    ids = [image_id(p, model) for p in paths]
    for i in ids:
        page.locator(f'[data-testid=gallery-item][data-image-id="{i}"][data-status=ready]').wait_for(timeout=ENCODE_TIMEOUT_MS)
    return ids


def result_job(page) -> str | None:
    return page.get_attribute("[data-testid=result-image]", "data-job-id")


def wait_result(page, previous_job: str | None) -> str:
    """Wait for a result from a job other than `previous_job`; returns the new job id."""
    page.wait_for_function(
        """prev => {
            const img = document.querySelector('[data-testid=result-image]');
            const state = document.querySelector('[data-testid=job-state]').dataset.state;
            return img && img.dataset.jobId && img.dataset.jobId !== prev && state === 'succeeded';
        }""",
        arg=previous_job,
        timeout=RENDER_TIMEOUT_MS,
    )
    return result_job(page)


def result_pixels(page) -> list[int]:
    """RGBA bytes of the result <img> as the browser decoded it (read back through a canvas)."""
    return page.evaluate(
        """() => {
            const img = document.querySelector('[data-testid=result-image]');
            const c = document.createElement('canvas');
            c.width = img.naturalWidth; c.height = img.naturalHeight;
            const ctx = c.getContext('2d');
            ctx.drawImage(img, 0, 0);
            return Array.from(ctx.getImageData(0, 0, c.width, c.height).data);
        }"""
    )


def pixel_difference(a: list[int], b: list[int]) -> float:
    """Mean absolute difference per channel value (0..255); inf when the sizes differ."""
    if len(a) != len(b):
        return float("inf")
    return sum(abs(x - y) for x, y in zip(a, b)) / max(1, len(a))


def slider_x(box: dict, weight: float, low: float, high: float) -> float:
    """The x of a weight on a range slider's track (its bounding box; 8 px of thumb at each end)."""
    return box["x"] + 8 + (box["width"] - 16) * (weight - low) / (high - low)
