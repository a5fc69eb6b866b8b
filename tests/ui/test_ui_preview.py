"""Live preview in real Chromium against the real stack: dragging a weight slider shows preview frames
(few steps, latest wins) before the hand lets go, then the final render; a donor hovering over a slot
previews that swap and leaving reverts it."""

from __future__ import annotations

import json

from helpers import RENDER_TIMEOUT_MS, SAMPLES, gallery_item, open_editor, result_job, slider_x, upload, wait_result

# Every preview frame put up in the result image, and the preview requests' concurrency.
WATCH = """() => {
    const img = document.querySelector('[data-testid=result-image]');
    window.__frames = [];
    new MutationObserver(() => {
        if (img.dataset.kind === 'preview') window.__frames.push(img.dataset.previewJob);
    }).observe(img, {attributes: true, attributeFilter: ['src', 'data-preview-job', 'data-kind']});
}"""
DISTINCT_FRAMES = "() => new Set(window.__frames).size"


def _track_previews(page) -> dict:
    seen = {"in_flight": 0, "most": 0, "bodies": []}

    def is_preview(req) -> bool:
        return req.method == "POST" and "/api/recombine" in req.url and json.loads(req.post_data or "{}").get("preview")

    def started(req):
        if is_preview(req):
            seen["in_flight"] += 1
            seen["most"] = max(seen["most"], seen["in_flight"])
            seen["bodies"].append(json.loads(req.post_data))

    def ended(req):
        if is_preview(req):
            seen["in_flight"] -= 1

    page.on("request", started)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)
    return seen


def test_dragging_a_weight_shows_previews_before_release_then_the_final_render(page):
    open_editor(page)
    model = page.evaluate("fetch('/api/model').then(r => r.json())")
    base, donor = upload(page, SAMPLES[:2])
    page.select_option("[data-testid=base-picker]", base)
    page.select_option("[data-testid=picker-background]", donor)
    first = wait_result(page, None)
    previews = _track_previews(page)
    page.evaluate(WATCH)

    slider = page.locator("[data-testid=weight-background]")
    box = slider.bounding_box()
    low, high = model["limits"]["weight"]
    y = box["y"] + box["height"] / 2

    def x_at(w: float) -> float:
        return slider_x(box, w, low, high)

    page.mouse.move(x_at(1.0), y)
    page.mouse.down()
    w = 1.0
    for _ in range(40):  # the hand keeps moving until three frames were shown (or 40 moves)
        w = round(w - 0.1, 2)
        page.mouse.move(x_at(w), y, steps=2)
        page.wait_for_timeout(120)
        if page.evaluate(DISTINCT_FRAMES) >= 3:
            break
    frames = page.evaluate(DISTINCT_FRAMES)
    assert frames >= 3, f"only {frames} distinct preview frames were shown while dragging"
    assert result_job(page) is None  # a preview frame is up, not a job's result
    page.mouse.up()

    final = wait_result(page, first)
    assert page.get_attribute("[data-testid=result-image]", "data-kind") == "final"
    job = page.evaluate(f"fetch('/api/jobs/{final}').then(r => r.json())")
    assert job["steps"] == model["default_steps"] and job["state"] == "succeeded"
    weight = float(page.text_content("[data-testid=weight-value-background]"))
    assert weight < 1.0
    assert previews["most"] == 1, "more than one preview request was in flight at once"
    bodies = previews["bodies"]
    assert bodies and all(b["preview"] is True and b["steps"] is None and b["supersede"] for b in bodies)
    assert len({b["supersede"] for b in bodies}) == 1
    page.wait_for_timeout(300)  # a preview that comes back late is not put over the final render
    assert result_job(page) == final
    assert page.js_errors == []


def test_a_donor_hovering_over_a_slot_is_previewed_and_leaving_reverts(page):
    open_editor(page)
    base, donor = upload(page, SAMPLES[2:4])
    page.select_option("[data-testid=base-picker]", base)
    first = wait_result(page, None)
    page.evaluate(WATCH)

    card = gallery_item(page, donor).bounding_box()
    slot = page.locator("[data-testid=slot-pose]").bounding_box()
    page.mouse.move(card["x"] + card["width"] / 2, card["y"] + card["height"] / 2)
    page.mouse.down()
    page.mouse.move(card["x"] + card["width"] / 2 + 20, card["y"] + card["height"] / 2 + 20, steps=3)
    sx, sy = slot["x"] + slot["width"] / 2, slot["y"] + slot["height"] / 2
    page.mouse.move(sx, sy, steps=5)
    for _ in range(50):  # keep hovering (dragover) until the preview is up
        page.wait_for_timeout(100)
        page.mouse.move(sx + 1, sy)
        if page.evaluate(DISTINCT_FRAMES) >= 1:
            break
    assert page.evaluate(DISTINCT_FRAMES) >= 1, "hovering a donor over the slot showed no preview"
    assert page.get_attribute("[data-testid=slot-pose]", "data-donor") == ""  # nothing dropped yet

    page.mouse.move(10, 10, steps=5)  # leave the slot: the result comes back
    page.wait_for_function("first => document.querySelector('[data-testid=result-image]').dataset.jobId === first",
                           arg=first, timeout=RENDER_TIMEOUT_MS)
    page.mouse.up()
    assert page.get_attribute("[data-testid=result-image]", "data-kind") == "final"
    assert page.get_attribute("[data-testid=slot-pose]", "data-donor") == ""
    assert page.js_errors == []


def test_a_long_render_shows_its_estimates_loaded_by_url(page):
    open_editor(page)
    base, _ = upload(page, SAMPLES[4:6])
    page.fill("[data-testid=steps]", "1000")  # >= DGAE_X0_PREVIEW_MIN_STEPS (50): the worker publishes estimates
    page.select_option("[data-testid=base-picker]", base)
    page.wait_for_function(
        """() => {
            const img = document.querySelector('#result-panel [data-testid=x0-preview]');
            return !img.hidden && /\\/api\\/jobs\\/[0-9a-f]+\\/x0\\.png\\?step=\\d+$/.test(img.getAttribute('src'))
                && img.complete && img.naturalWidth > 0;
        }""",
        timeout=RENDER_TIMEOUT_MS,
    )
    wait_result(page, None)
    assert page.locator("#result-panel [data-testid=x0-preview]").is_hidden()  # the result replaces it
    assert page.js_errors == []
