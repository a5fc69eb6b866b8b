"""The batch page in real Chromium against the real stack: a bases x donors grid, progress, the zip."""

from __future__ import annotations

import zipfile

from helpers import SAMPLES, gallery_item, upload

BATCH_TIMEOUT_MS = 180_000


def test_grid_batch_progress_and_zip(page):
    page.goto("/batch.html")
    page.wait_for_selector("body[data-ready=true]")
    ids = upload(page, SAMPLES[:4])
    bases, donors = ids[:2], ids[2:]
    # Each image is shown once: bases and donors are ticked on its gallery card, not picked from copies of it.
    for img in ids:
        assert page.locator(f'img[src*="/api/images/{img}/image.png"]').count() == 1, f"image {img} shown more than once"
        for kind in ("bases", "donors"):
            assert gallery_item(page, img).locator(f"[data-testid=pick-{kind}]").count() == 1

    page.select_option("[data-testid=batch-attr]", "background")
    page.fill("[data-testid=batch-steps]", "6")
    for img in bases:
        page.check(f'[data-testid=pick-bases][value="{img}"]')
    for img in donors:
        page.check(f'[data-testid=pick-donors][value="{img}"]')
    assert "= 4 results" in page.text_content("[data-testid=batch-count]")
    assert page.text_content("[data-testid=batch-bases]") == "2 chosen"
    page.click("[data-testid=batch-submit]")

    page.wait_for_selector("[data-testid=batch-state][data-state]", timeout=30_000)
    page.wait_for_function(
        "() => /^\\S+ 4\\/4$/.test(document.querySelector('[data-testid=batch-state]').textContent)",
        timeout=BATCH_TIMEOUT_MS,
    )
    counts = page.text_content("[data-testid=batch-counts]")
    assert counts.startswith("4 done · 0 failed"), counts
    assert page.evaluate("document.querySelector('[data-testid=batch-progress]').value") == 1

    download = page.locator("[data-testid=batch-download]")
    download.wait_for()
    page.wait_for_function("() => !document.querySelector('[data-testid=batch-download]').classList.contains('disabled')")
    with page.expect_download() as dl:
        download.click()
    with zipfile.ZipFile(dl.value.path()) as zf:
        pngs = [n for n in zf.namelist() if n.lower().endswith(".png")]
        assert len(pngs) == 4, zf.namelist()
        assert all(zf.read(n).startswith(b"\x89PNG") for n in pngs)

    # The page remembers the batch; reloading with its id in the URL shows it again.
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_function("() => document.querySelector('[data-testid=batch-counts]').textContent.startsWith('4 done')")
    assert page.locator("[data-testid=recent-batches] li").count() >= 1
