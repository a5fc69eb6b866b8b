"""Setting an attribute to a named value in real Chromium against the real stack (the tiny model has value
prototypes): the slot's value picker, the result it renders, the weight slider (live previews, then the final
render) sending `{"value": name, "weight": w}`, clearing it, and a dropped donor replacing a value (and back).

The tiny model has learned its backgrounds but hardly its poses (a pose donor or value moves its decode by a few
hundredths of a grey level), so the result is seen to change on the background slot; the pose slot shows the
rest."""

from __future__ import annotations

import json
import re

from helpers import (
    RENDER_TIMEOUT_MS,
    SAMPLES,
    gallery_item,
    open_editor,
    pixel_difference,
    result_pixels,
    slider_x,
    upload,
)

STEPS = "8"  # few sampler steps: the suite runs on two shared CPU cores
SEEN = "background"  # an attribute whose value visibly changes the tiny model's decode
ATTR = "pose"


def model_info(page) -> dict:
    return page.evaluate("fetch('/api/model').then(r => r.json())")


def is_recombine(req) -> bool:
    return req.method == "POST" and req.url.split("?")[0].endswith("/api/recombine")


def track_recombines(page) -> list[dict]:
    """Every POST /api/recombine body the page sends, in order (previews have `preview: true`)."""
    bodies: list[dict] = []
    page.on("request", lambda req: bodies.append(json.loads(req.post_data)) if is_recombine(req) else None)
    return bodies


def sent(predicate):
    """expect_request matcher: a recombine request whose body satisfies `predicate`."""
    return lambda req: is_recombine(req) and predicate(json.loads(req.post_data))


def finals(bodies: list[dict]) -> list[dict]:
    return [b for b in bodies if not b.get("preview")]


def shown_result_of(page, predicate, action) -> str:
    """Do `action()`; wait until the result of the (final) recombine it sends, whose body satisfies `predicate`, is
    on screen; returns its job id."""
    def final(resp) -> bool:
        return resp.status == 202 and sent(lambda b: not b.get("preview") and predicate(b))(resp.request)

    with page.expect_response(final, timeout=RENDER_TIMEOUT_MS) as resp:
        action()
    job = resp.value.json()["id"]
    page.wait_for_selector(f'[data-testid=result-image][data-job-id="{job}"]', timeout=RENDER_TIMEOUT_MS)
    return job


def test_a_slot_set_to_a_value_renders_it_and_sends_the_value(page):
    open_editor(page)
    model = model_info(page)
    assert model["value_edits"] is True, "the tiny test model should have value prototypes"
    names = model["values"][ATTR]
    picker = page.locator(f"[data-testid=value-{ATTR}]")
    assert picker.locator("option").all_text_contents() == ["or a value…", *names]  # the model's order
    assert page.get_by_label(f"{ATTR} value", exact=True).count() == 1
    for attr in model["attributes"]:  # every attribute with values has a picker
        assert page.locator(f"[data-testid=value-{attr}]").count() == (1 if model["values"][attr] else 0)

    page.fill("[data-testid=steps]", STEPS)
    (base,) = upload(page, [SAMPLES[1]])  # toy-i0-b3-p0: background 3, pose 0
    bodies = track_recombines(page)
    plain_job = shown_result_of(page, lambda b: b["attributes"] == {},
                                lambda: page.select_option("[data-testid=base-picker]", base))
    plain = result_pixels(page)

    # Choose a pose value: the slot holds it (no donor), shows its name marked as a value, and the request sends it.
    pose = "5" if "5" in names else names[-1]
    with page.expect_request(sent(lambda b: b["attributes"] == {ATTR: {"value": pose, "weight": 1.0}}),
                             timeout=RENDER_TIMEOUT_MS):
        page.select_option(f"[data-testid=value-{ATTR}]", pose)
    slot = page.locator(f"[data-testid=slot-{ATTR}]")
    thumb = page.locator(f"[data-testid=slot-thumb-{ATTR}]")
    assert slot.get_attribute("data-value") == pose and slot.get_attribute("data-donor") == ""
    assert thumb.locator("img").count() == 0
    assert re.fullmatch(rf"\s*value\s*{re.escape(pose)}\s*", thumb.inner_text()), thumb.inner_text()
    assert page.get_attribute(f"[data-testid=clear-{ATTR}]", "aria-label") == f"Clear the {ATTR} value"
    assert page.locator(f"[data-testid=weight-{ATTR}]").is_enabled()
    assert page.text_content(f"[data-testid=weight-value-{ATTR}]") == "1.00"
    assert f'"{ATTR}":{{"value":"{pose}","weight":1}}' in page.text_content("[data-testid=curl]")

    # Drag its weight: live previews carry the value, then letting go renders it at the weight shown.
    low, high = model["limits"]["weight"]
    box = page.locator(f"[data-testid=weight-{ATTR}]").bounding_box()
    y = box["y"] + box["height"] / 2

    def x_at(w: float) -> float:
        return slider_x(box, w, low, high)

    page.mouse.move(x_at(1.0), y)
    page.mouse.down()
    w = 1.0
    for _ in range(30):  # the hand keeps moving until a preview went out (or 30 moves)
        w = round(w - 0.05, 2)
        page.mouse.move(x_at(w), y, steps=2)
        page.wait_for_timeout(100)
        if any(b.get("preview") for b in bodies):
            break
    with page.expect_request(sent(lambda b: not b.get("preview")), timeout=RENDER_TIMEOUT_MS) as final_req:
        page.mouse.up()
    previews = [b for b in bodies if b.get("preview")]
    assert previews, "dragging the weight of a value sent no preview"
    assert all(set(b["attributes"][ATTR]) == {"value", "weight"} and b["attributes"][ATTR]["value"] == pose
               for b in previews), previews
    weight = float(page.text_content(f"[data-testid=weight-value-{ATTR}]"))
    assert weight < 1.0
    assert json.loads(final_req.value.post_data)["attributes"] == {ATTR: {"value": pose, "weight": weight}}

    # Clear it: the slot keeps the base again, and the request names no pose.
    shown_result_of(page, lambda b: b["attributes"] == {}, lambda: page.click(f"[data-testid=clear-{ATTR}]"))
    assert slot.get_attribute("data-value") == "" and slot.get_attribute("data-donor") == ""
    assert picker.input_value() == ""
    assert page.locator(f"[data-testid=weight-{ATTR}]").is_disabled()
    assert page.text_content(f"[data-testid=weight-value-{ATTR}]") == "—"
    assert thumb.inner_text().strip() == "base"

    # A background value far from the base's (the tiny model has learned its backgrounds, hardly its poses): the
    # result differs from the plain decode.
    background = model["values"][SEEN][-1]  # "5"; the base's is 3
    valued_job = shown_result_of(page, lambda b: b["attributes"] == {SEEN: {"value": background, "weight": 1.0}},
                                 lambda: page.select_option(f"[data-testid=value-{SEEN}]", background))
    assert valued_job != plain_job
    assert page.get_attribute(f"[data-testid=slot-{SEEN}]", "data-value") == background
    diff = pixel_difference(plain, result_pixels(page))
    assert diff > 1.0, f"setting {SEEN} to {background} left the result unchanged ({diff:.3f})"
    assert page.js_errors == []


def test_a_dropped_donor_replaces_a_value_and_a_value_replaces_a_donor(page):
    open_editor(page)
    names = model_info(page)["values"][ATTR]
    page.fill("[data-testid=steps]", STEPS)
    base, donor = upload(page, [SAMPLES[2], SAMPLES[4]])  # toy-i1-b40-p2, toy-i3-b18-p7
    page.select_option("[data-testid=base-picker]", base)
    slot = page.locator(f"[data-testid=slot-{ATTR}]")
    picker = page.locator(f"[data-testid=value-{ATTR}]")

    with page.expect_request(sent(lambda b: b["attributes"].get(ATTR) == {"value": names[1], "weight": 1.0}),
                             timeout=RENDER_TIMEOUT_MS):
        page.select_option(f"[data-testid=value-{ATTR}]", names[1])
    assert slot.get_attribute("data-value") == names[1]

    # A donor card dropped on the slot replaces the value: the final render names the donor, not the value.
    dropped = {ATTR: {"donor": donor, "weight": 1.0}}
    with page.expect_request(sent(lambda b: not b.get("preview") and b["attributes"] == dropped), timeout=RENDER_TIMEOUT_MS):
        gallery_item(page, donor).drag_to(slot)
    assert slot.get_attribute("data-donor") == donor and slot.get_attribute("data-value") == ""
    assert picker.input_value() == ""
    assert page.locator(f"[data-testid=slot-thumb-{ATTR}] img").count() == 1
    assert page.get_attribute(f"[data-testid=clear-{ATTR}]", "aria-label") == f"Clear the {ATTR} donor"

    # Choosing a value replaces the donor; its result comes up.
    shown_result_of(page, lambda b: b["attributes"] == {ATTR: {"value": names[-1], "weight": 1.0}},
                    lambda: page.select_option(f"[data-testid=value-{ATTR}]", names[-1]))
    assert slot.get_attribute("data-donor") == "" and slot.get_attribute("data-value") == names[-1]
    assert page.input_value(f"[data-testid=picker-{ATTR}]") == ""
    assert page.js_errors == []


def test_a_model_without_value_prototypes_offers_no_value_picker(page):
    def no_values(route):
        resp = route.fetch()
        route.fulfill(response=resp, json={**resp.json(), "value_edits": False})

    page.route(lambda url: url.split("?")[0].endswith("/api/model"), no_values)
    open_editor(page)
    model = model_info(page)
    assert model["value_edits"] is False and model["values"][ATTR]  # it names values, but cannot set them
    for attr in model["attributes"]:
        assert page.locator(f"[data-testid=slot-{attr}]").count() == 1
        assert page.locator(f"[data-testid=picker-{attr}]").count() == 1
        assert page.locator(f"[data-testid=value-{attr}]").count() == 0
    assert page.js_errors == []
