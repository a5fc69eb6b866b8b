"""Out-of-domain uploads in real Chromium: the gallery marks them, a banner over the result says plainly that the
picture is unlike what the model was trained on (its details: why, what the model knows, its example images) without
moving the result, and the crop is shown. The tiny test model is calibrated (tests/tiny_model.py); a toy render it
was trained on shows none of it."""

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
    result = page.locator("[data-testid=compare]")
    where = result.bounding_box()

    page.select_option("[data-testid=base-picker]", photo)
    banner.wait_for(state="visible")
    assert result.bounding_box() == where, "the banner moved the result"
    text = page.locator("[data-testid=domain-message]").inner_text()
    model = page.evaluate("fetch('/api/model').then(r => r.json())")
    short = model["description"].split(":")[0]  # the tiny model's: "flat toy icons: one of 6 coloured shapes ..."
    assert text == f"This picture doesn't look like what the model was trained on ({short}); edits may look wrong.", text
    assert "score" not in text and "domain" not in text  # no jargon up front ...
    details = page.locator("[data-testid=domain-details]")
    assert details.is_hidden()
    page.click(".domain-details summary")  # ... it is in the details
    why = details.inner_text()
    assert "holiday.jpg" in why and "score " in why and "unreliable" in why, why
    assert model["description"] in page.locator("[data-testid=domain-knows]").inner_text()
    title = banner.get_attribute("title")  # and in the tooltip
    assert "holiday.jpg" in title and "score " in title, title
    examples = page.locator("[data-testid=domain-example]")
    assert examples.count() == min(4, len(model["examples"])) > 0  # the details show the first four
    page.wait_for_function(
        "() => [...document.querySelectorAll('.domain-banner img')].every(i => i.complete && i.naturalWidth > 0)")
    assert result.bounding_box() == where

    # The crop is visible: the base slot shows the upload with the square the model sees, and says so.
    assert page.locator("[data-testid=base-crop]").is_visible()
    assert "640×480 cropped to the centre 480×480" in page.locator("[data-testid=base-status]").inner_text()

    page.select_option("[data-testid=base-picker]", known)  # back to a toy: the banner goes
    banner.wait_for(state="hidden")
    assert page.js_errors == []
