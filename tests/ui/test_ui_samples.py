"""The Samples button uploads the served model's own example images (its model.json's `examples`, served by the
API), so the samples are of the kind of picture the model knows whichever model is served."""

from __future__ import annotations

import hashlib

from helpers import ENCODE_TIMEOUT_MS, open_editor


def test_samples_button_uploads_the_served_models_examples(page):
    open_editor(page)
    model = page.evaluate("fetch('/api/model').then(r => r.json())")
    assert len(model["examples"]) == 8, model["examples"]
    pngs = [page.evaluate("u => fetch(u).then(r => r.arrayBuffer()).then(b => Array.from(new Uint8Array(b)))", url)
            for url in model["examples"]]
    ids = [hashlib.sha256(bytes(png)).hexdigest() for png in pngs]  # the API's image id: SHA-256 of the bytes
    assert len(set(ids)) == len(ids)

    page.click("[data-testid=samples-button]")
    for img_id in ids:
        page.locator(f'[data-testid=gallery-item][data-image-id="{img_id}"][data-status=ready]').wait_for(
            timeout=ENCODE_TIMEOUT_MS)
