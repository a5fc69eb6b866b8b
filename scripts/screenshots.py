#!/usr/bin/env python3
"""Screenshots of the UI's main screens, for the README.

    python scripts/screenshots.py --url http://127.0.0.1:8000 --out docs/screenshots

Needs a running service (`diffusegae serve ...`) with at least one worker, Playwright
(`pip install playwright`, never `playwright install`) and /usr/bin/chromium
(`bash scripts/setup.sh --browser`). It uploads the sample toys through the UI, so the server's
gallery gains them.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "ui"))

from ui_browser import launch  # noqa: E402

TIMEOUT_MS = 180_000


def _sample_ids(page) -> list[str]:
    """The API's image ids (SHA-256 of the bytes) of the served model's examples: what *Samples* uploads."""
    urls = page.evaluate("fetch('/api/model').then(r => r.json()).then(m => m.examples)")
    pngs = [page.evaluate("u => fetch(u).then(r => r.arrayBuffer()).then(b => Array.from(new Uint8Array(b)))", u)
            for u in urls]
    return [hashlib.sha256(bytes(png)).hexdigest() for png in pngs]


def _wait_samples_ready(page) -> list[str]:
    ids = _sample_ids(page)
    page.wait_for_function(
        "ids => ids.every(id => document.querySelector(`[data-testid=gallery-item][data-image-id='${id}'][data-status=ready]`))",
        arg=ids,
        timeout=TIMEOUT_MS,
    )
    return ids


def _wait_result(page, previous: str | None) -> None:
    page.wait_for_function(
        """prev => {
            const img = document.querySelector('[data-testid=result-image]');
            return img.dataset.jobId && img.dataset.jobId !== prev
                && document.querySelector('[data-testid=job-state]').dataset.state === 'succeeded';
        }""",
        arg=previous,
        timeout=TIMEOUT_MS,
    )


def editor(page, out: Path, steps: str | None) -> None:
    page.goto("/")
    page.wait_for_selector("body[data-ready=true]")
    page.click("[data-testid=samples-button]")
    base, donor = _wait_samples_ready(page)[:2]  # the first two examples
    if steps:
        page.fill("[data-testid=steps]", steps)
    attributes = page.evaluate("fetch('/api/model').then(r => r.json()).then(m => m.attributes)")
    page.select_option("[data-testid=base-picker]", base)
    _wait_result(page, None)
    first = page.get_attribute("[data-testid=result-image]", "data-job-id")
    donor_attr = "background" if "background" in attributes else attributes[0]
    page.locator(f'[data-testid=gallery-item][data-image-id="{donor}"]').drag_to(page.locator(f"[data-testid=slot-{donor_attr}]"))
    _wait_result(page, first)

    page.select_option("[data-testid=interp-attr]", donor_attr)
    page.select_option("[data-testid=interp-donor]", donor)
    page.fill("[data-testid=interp-frames]", "8")
    page.click("[data-testid=interp-button]")
    page.wait_for_selector("[data-testid=interp-state][data-state=succeeded]", timeout=TIMEOUT_MS)
    page.locator("[data-testid=interp-frame]").nth(7).wait_for()
    page.wait_for_timeout(300)
    page.screenshot(path=str(out / "editor.png"), full_page=True)

    # Before/after at half way, and the slider focused, at a small laptop's width.
    page.set_viewport_size({"width": 1024, "height": 768})
    page.fill("[data-testid=compare-slider]", "50")
    page.locator(f"[data-testid=weight-{donor_attr}]").focus()
    page.wait_for_timeout(300)
    page.screenshot(path=str(out / "editor-1024.png"), full_page=False)


def batch(page, out: Path, steps: str | None) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/batch.html")
    page.wait_for_selector("body[data-ready=true]")
    _wait_samples_ready(page)
    bases = page.locator("[data-testid=pick-bases]")
    donors = page.locator("[data-testid=pick-donors]")
    for i in (0, 1, 2):
        bases.nth(i).check()
    for i in (3, 4):
        donors.nth(i).check()
    if steps:
        page.fill("[data-testid=batch-steps]", steps)
    page.click("[data-testid=batch-submit]")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=batch-download]').classList.contains('disabled')", timeout=TIMEOUT_MS
    )
    page.wait_for_timeout(500)
    page.screenshot(path=str(out / "batch.png"), full_page=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    p.add_argument("--steps", default=None, help="sampler steps to use (default: the model's)")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch(pw)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=args.url.rstrip("/"), device_scale_factor=1)
        page = context.new_page()
        editor(page, args.out, args.steps)
        batch(page, args.out, args.steps)
        browser.close()
    for f in sorted(args.out.glob("*.png")):
        print(f)


if __name__ == "__main__":
    main()
