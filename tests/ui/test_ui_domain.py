"""Out-of-domain uploads in real Chromium: the gallery marks them, a banner above the result says what the model
knows (with its example images) and that edits of the image are unreliable, and the crop is shown. The tiny
test model is calibrated (tests/tiny_model.py); a toy render it was trained on shows none of it."""

from __future__ import annotations

from helpers import ROOT, gallery_item, open_editor, upload

IN_DOMAIN = ROOT / "tests" / "ui" / "samples" / "toy-i4-b1-p1.png"  # background 1: one the tiny model was trained on


def _photo(tmp_path):
    from diffusegae.evaluation.ood import photos

    path = tmp_path / "holiday.jpg"
    photos(1, seed=0)[0].save(path, "JPEG", quality=85)  # 640x480, photo-like
    return path


def test_out_of_domain_upload_is_marked_and_explained(page, tmp_path):
    open_editor(page)
    known, photo = upload(page, [IN_DOMAIN, _photo(tmp_path)])
    banner = page.locator("[data-testid=domain-banner]")

    assert gallery_item(page, photo).locator("[data-testid=domain-mark]").count() == 1
    title = gallery_item(page, photo).locator("[data-testid=domain-mark]").get_attribute("title")
    assert "score " in title or "unfamiliar: " in title, title  # says why: the score, or the chunks out of range
    assert gallery_item(page, photo).locator("[data-testid=crop-mark]").count() == 1
    assert gallery_item(page, known).locator("[data-testid=domain-mark]").count() == 0
    assert gallery_item(page, known).locator("[data-testid=crop-mark]").count() == 0

    page.select_option("[data-testid=base-picker]", known)
    assert banner.is_hidden()

    page.select_option("[data-testid=base-picker]", photo)
    banner.wait_for(state="visible")
    text = page.locator("[data-testid=domain-message]").inner_text()
    model = page.evaluate("fetch('/api/model').then(r => r.json())")
    assert "unreliable" in text and model["description"] in text, text
    examples = page.locator("[data-testid=domain-example]")
    assert examples.count() == min(4, len(model["examples"])) > 0  # the banner shows the first four
    page.wait_for_function(
        "() => [...document.querySelectorAll('.domain-banner img')].every(i => i.complete && i.naturalWidth > 0)")

    # The crop is visible: the base slot shows the upload with the square the model sees, and says so.
    assert page.locator("[data-testid=base-crop]").is_visible()
    assert "640×480 cropped to the centre 480×480" in page.locator("[data-testid=base-status]").inner_text()

    page.select_option("[data-testid=base-picker]", known)  # back to a toy: the banner goes
    banner.wait_for(state="hidden")
    assert page.js_errors == []
