"""The Samples button uploads the served model's own example images (its model.json's `examples`, served by the
API), so the samples are of the kind of picture the model knows whichever model is served; each is named after the
values it shows (`example_labels`), in full, so the eight can be told apart."""

from __future__ import annotations

import hashlib

import pytest
from helpers import ENCODE_TIMEOUT_MS, gallery_item


def _label(model: dict, labels: dict[str, str]) -> str:
    """What the UI names an example: its value names, a bare number with its attribute ("identity 1")."""
    return " · ".join(f"{a} {labels[a]}" if labels[a].isdigit() else labels[a] for a in model["attributes"])


@pytest.mark.parametrize("path", ["/", "/batch.html"])
def test_samples_button_uploads_the_served_models_examples_named_by_their_values(page, path):
    page.goto(path)
    page.wait_for_selector("body[data-ready=true]")
    model = page.evaluate("fetch('/api/model').then(r => r.json())")
    assert len(model["examples"]) == 8, model["examples"]
    assert len(model["example_labels"]) == 8 and all(model["example_labels"]), model["example_labels"]
    pngs = [page.evaluate("u => fetch(u).then(r => r.arrayBuffer()).then(b => Array.from(new Uint8Array(b)))", url)
            for url in model["examples"]]
    ids = [hashlib.sha256(bytes(png)).hexdigest() for png in pngs]  # the API's image id: SHA-256 of the bytes
    assert len(set(ids)) == len(ids)

    page.click("[data-testid=samples-button]")
    names = []
    for img_id, labels in zip(ids, model["example_labels"]):
        card = gallery_item(page, img_id)
        page.locator(f'[data-testid=gallery-item][data-image-id="{img_id}"][data-status=ready]').wait_for(
            timeout=ENCODE_TIMEOUT_MS)
        name = card.locator(".card-name")
        assert name.inner_text() == _label(model, labels)
        assert name.evaluate("e => e.scrollHeight <= e.clientHeight + 1 && e.scrollWidth <= e.clientWidth + 1"), (
            f"the name {name.inner_text()!r} is cut off")
        names.append(name.inner_text())
    assert len(set(names)) == 8, names
    assert page.locator("[data-testid=error-banner]").is_hidden()
    assert page.js_errors == []
