"""The editor page in real Chromium against the real stack (API + Celery worker + Redis + tiny model)."""

from __future__ import annotations

import base64
import json

from helpers import (
    RENDER_TIMEOUT_MS,
    SAMPLES,
    gallery_item,
    image_id,
    open_editor,
    pixel_difference,
    result_job,
    result_pixels,
    upload,
    wait_result,
)

STEPS = "8"  # few sampler steps: the suite runs on two shared CPU cores


def model_info(page) -> dict:
    return page.evaluate("fetch('/api/model').then(r => r.json())")


def test_model_attributes_make_labelled_slots_bounded_by_the_api_limits(page):
    open_editor(page)
    model = model_info(page)
    limits = model["limits"]
    assert model["attributes"], "the model reports no attributes"
    for attr in model["attributes"]:
        slider = page.get_by_label(f"{attr} weight", exact=True)
        assert slider.get_attribute("type") == "range"
        assert [float(slider.get_attribute("min")), float(slider.get_attribute("max"))] == limits["weight"]
        assert slider.get_attribute("step") == "0.05"
        assert page.locator(f"[data-testid=slot-{attr}]").count() == 1
    for testid, name in (("steps", "steps"), ("interp-frames", "frames")):
        box = page.locator(f"[data-testid={testid}]")
        assert [int(box.get_attribute("min")), int(box.get_attribute("max"))] == limits[name], testid
    assert page.js_errors == []


def _recombine_with_weight(attr: str, weight: float):
    def match(response) -> bool:
        req = response.request
        if req.method != "POST" or not req.url.split("?")[0].endswith("/api/recombine"):
            return False
        return json.loads(req.post_data)["attributes"].get(attr, {}).get("weight") == weight

    return match


def test_weight_slider_reaches_the_api_limits_by_keyboard(page):
    open_editor(page)
    low, high = model_info(page)["limits"]["weight"]
    page.fill("[data-testid=steps]", STEPS)
    base, donor = upload(page, SAMPLES[:2])
    page.select_option("[data-testid=base-picker]", base)
    page.select_option("[data-testid=picker-background]", donor)
    slider = page.locator("[data-testid=weight-background]")
    slider.focus()

    # End: the API's maximum, sent as is and accepted (the job's result comes up).
    with page.expect_response(_recombine_with_weight("background", high), timeout=RENDER_TIMEOUT_MS) as resp:
        page.keyboard.press("End")
    assert page.text_content("[data-testid=weight-value-background]") == f"{high:.2f}"
    assert resp.value.status == 202, resp.value.text()
    page.wait_for_selector(f'[data-testid=result-image][data-job-id="{resp.value.json()["id"]}"]', timeout=RENDER_TIMEOUT_MS)

    # Home: the API's minimum.
    with page.expect_response(_recombine_with_weight("background", low), timeout=RENDER_TIMEOUT_MS) as resp:
        page.keyboard.press("Home")
    assert page.text_content("[data-testid=weight-value-background]") == f"{low:.2f}"
    assert resp.value.status == 202, resp.value.text()
    assert page.js_errors == []


def test_a_slot_without_a_donor_shows_no_weight(page):
    open_editor(page)
    model = model_info(page)
    for attr in model["attributes"]:  # no donor anywhere yet: nothing is blended, so no weight is claimed
        assert page.locator(f"[data-testid=weight-{attr}]").is_disabled()
        assert page.text_content(f"[data-testid=weight-value-{attr}]") == "—"
        assert page.get_attribute(f"[data-testid=weight-{attr}]", "aria-valuetext") == "no donor: the base's value"
    base, donor = upload(page, SAMPLES[:2])
    page.select_option("[data-testid=base-picker]", base)
    page.select_option("[data-testid=picker-background]", donor)
    assert page.locator("[data-testid=weight-background]").is_enabled()
    assert page.text_content("[data-testid=weight-value-background]") == "1.00"
    assert page.text_content("[data-testid=weight-value-pose]") == "—"  # the other slots still have none
    page.click("[data-testid=clear-background]")
    assert page.text_content("[data-testid=weight-value-background]") == "—"
    assert page.js_errors == []


def test_the_gallery_says_it_is_shared_when_the_service_has_no_keys(page):
    open_editor(page)
    assert page.evaluate("fetch('/api/health').then(r => r.json())")["api_keys"] is False
    note = page.locator("[data-testid=shared-note]")
    note.wait_for(state="visible")  # after the first health answer
    assert "Everyone using this server sees these images" in note.inner_text()
    assert page.get_attribute("[data-testid=api-key]", "placeholder") == "not needed"
    assert page.js_errors == []


def test_drag_donor_move_slider_result_changes(page):
    open_editor(page)
    page.fill("[data-testid=steps]", STEPS)
    base, donor = upload(page, SAMPLES[:2])

    # The base by a real HTML5 drag, then the first result (a reconstruction) arrives.
    gallery_item(page, base).drag_to(page.locator("[data-testid=base-slot]"))
    assert page.get_attribute("[data-testid=base-slot]", "data-base") == base
    job0 = wait_result(page, None)
    before = result_pixels(page)

    # Drag the donor onto the background slot: the result changes.
    gallery_item(page, donor).drag_to(page.locator("[data-testid=slot-background]"))
    assert page.get_attribute("[data-testid=slot-background]", "data-donor") == donor
    assert page.locator("[data-testid=weight-background]").is_enabled()
    job1 = wait_result(page, job0)
    swapped = result_pixels(page)
    assert pixel_difference(before, swapped) > 1.0, "swapping the background left the result unchanged"

    # Keyboard on the slider: 1.00 -> 0.50, debounced into one new job.
    slider = page.locator("[data-testid=weight-background]")
    slider.focus()
    for _ in range(10):
        page.keyboard.press("ArrowLeft")
    assert page.text_content("[data-testid=weight-value-background]") == "0.50"
    job2 = wait_result(page, job1)
    halfway = result_pixels(page)
    assert pixel_difference(swapped, halfway) > 0.2, "moving the weight slider left the result unchanged"

    # The curl shown is the request the page sent.
    curl = page.text_content("[data-testid=curl]")
    assert "/api/recombine" in curl and f'"donor":"{donor}"' in curl and '"weight":0.5' in curl

    # The download link holds the result's bytes.
    with page.expect_download() as dl:
        page.click("[data-testid=download]")
    png = open(dl.value.path(), "rb").read()
    assert png.startswith(b"\x89PNG")
    assert job2 != job1
    assert page.js_errors == []


def test_picker_clear_and_interpolation(page):
    open_editor(page)
    page.fill("[data-testid=steps]", STEPS)
    base, donor = upload(page, SAMPLES[2:4])

    # The keyboard-friendly alternative to dragging: the <select> pickers.
    page.select_option("[data-testid=base-picker]", base)
    page.select_option("[data-testid=picker-pose]", donor)
    assert page.get_attribute("[data-testid=slot-pose]", "data-donor") == donor
    page.click("[data-testid=clear-pose]")
    assert page.get_attribute("[data-testid=slot-pose]", "data-donor") == ""
    assert page.locator("[data-testid=weight-pose]").is_disabled()

    page.select_option("[data-testid=interp-attr]", "background")
    page.select_option("[data-testid=interp-donor]", donor)
    page.fill("[data-testid=interp-frames]", "3")
    page.click("[data-testid=interp-button]")
    page.wait_for_selector("[data-testid=interp-state][data-state=succeeded]", timeout=RENDER_TIMEOUT_MS)
    frames = page.locator("[data-testid=interp-frame]")
    frames.nth(2).wait_for()
    assert frames.count() == 3
    sizes = page.evaluate("[...document.querySelectorAll('[data-testid=interp-frame]')].map(i => i.naturalWidth)")
    assert all(w > 0 for w in sizes), "an interpolation frame did not load"


def test_cancel_running_job(page):
    open_editor(page)
    (base,) = upload(page, SAMPLES[4:5])
    page.fill("[data-testid=steps]", "1000")  # long enough to still be running when cancelled
    page.select_option("[data-testid=base-picker]", base)
    page.wait_for_selector("[data-testid=job-state][data-state=running]", timeout=RENDER_TIMEOUT_MS)
    job = page.get_attribute("[data-testid=job-state]", "data-job-id")
    page.click("[data-testid=cancel-button]")
    page.wait_for_selector("[data-testid=job-state][data-state=cancelled]", timeout=30_000)
    assert page.text_content("[data-testid=job-state]") == "cancelled"
    state = page.evaluate(f"fetch('/api/jobs/{job}').then(r => r.json()).then(j => j.state)")
    assert state == "cancelled"
    assert result_job(page) is None, "a cancelled job must not put up a result"


def test_drop_files_to_upload(page):
    open_editor(page)
    path = SAMPLES[5]
    data = base64.b64encode(path.read_bytes()).decode()
    transfer = page.evaluate_handle(
        """([name, b64]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, {type: 'image/png'}));
            return dt;
        }""",
        [path.name, data],
    )
    page.dispatch_event("[data-testid=dropzone]", "drop", {"dataTransfer": transfer})
    gallery_item(page, image_id(path)).wait_for()


def test_api_error_detail_is_shown(page):
    open_editor(page)
    page.set_input_files(
        "[data-testid=file-input]", files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"this is not an image"}]
    )
    banner = page.locator("[data-testid=error-banner]")
    banner.wait_for(state="visible")
    message = page.text_content("[data-testid=error-message]")
    assert message.startswith("notes.png: ") and len(message) > len("notes.png: ") + 3
    assert message.count("notes.png") == 1, f"the file is named more than once: {message}"
    page.click("#error-dismiss")
    banner.wait_for(state="hidden")


def test_fits_laptop_widths(page):
    for width in (1280, 1024):
        page.set_viewport_size({"width": width, "height": 800})
        for path in ("/batch.html", "/"):
            page.goto(path)
            page.wait_for_selector("body[data-ready=true]")
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"horizontal scroll on {path} at {width}px"
        box = page.locator("[data-testid=result-image]").locator("..").bounding_box()
        assert box["x"] + box["width"] <= width
    # Everything is reachable by Tab, the sliders included (they are enabled once a donor is set).
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement !== document.body")


def test_api_key_is_remembered_and_sent(page):
    open_editor(page)
    (img,) = upload(page, SAMPLES[6:7])
    page.fill("[data-testid=api-key]", "k-123")
    with page.expect_navigation():
        page.press("[data-testid=api-key]", "Enter")  # a new key starts the page over
    page.wait_for_selector("body[data-ready=true]")
    assert page.input_value("[data-testid=api-key]") == "k-123"
    with page.expect_request(lambda r: r.url.endswith("/api/images")) as req:
        page.reload()
    assert req.value.headers.get("x-api-key") == "k-123"
    page.select_option("[data-testid=base-picker]", img)
    assert "k-123" not in page.get_attribute("[data-testid=base-thumb] img", "src")  # keys go in headers, never URLs
    assert "X-API-Key: k-123" in page.text_content("[data-testid=curl]")


def test_stale_job_is_cancelled_and_old_result_kept(page):
    open_editor(page)
    page.fill("[data-testid=steps]", STEPS)
    (base,) = upload(page, SAMPLES[7:8])
    page.select_option("[data-testid=base-picker]", base)
    first = wait_result(page, None)

    page.fill("[data-testid=steps]", "1000")  # a slow job...
    page.wait_for_function(
        "first => { const s = document.querySelector('[data-testid=job-state]');"
        " return s.dataset.state === 'running' && s.dataset.jobId !== first; }",
        arg=first,
        timeout=RENDER_TIMEOUT_MS,
    )
    stale = page.get_attribute("[data-testid=job-state]", "data-job-id")
    assert result_job(page) == first, "the previous result must stay up while the next one decodes"
    page.fill("[data-testid=steps]", STEPS)  # ...replaced before it finishes
    wait_result(page, first)
    state = page.evaluate(f"fetch('/api/jobs/{stale}').then(r => r.json()).then(j => j.state)")
    assert state == "cancelled", f"the stale job is {state}"


def test_a_job_whose_record_was_lost_is_reported_not_waited_for(page):
    """Redis lost its data (restarted without persistence): the job's record is gone mid-render."""
    import redis
    from stack import TEST_REDIS_URL

    open_editor(page)
    (base,) = upload(page, SAMPLES[6:7])
    page.fill("[data-testid=steps]", "1000")
    page.select_option("[data-testid=base-picker]", base)
    page.wait_for_selector("[data-testid=job-state][data-state=running]", timeout=RENDER_TIMEOUT_MS)
    job = page.get_attribute("[data-testid=job-state]", "data-job-id")
    client = redis.Redis.from_url(TEST_REDIS_URL)
    keys = list(client.scan_iter(match=f"*:job:{job}", count=1000))  # the record (and its sampler-batch set)
    assert keys
    client.delete(*keys)
    page.wait_for_selector("[data-testid=job-state][data-state=error]", timeout=30_000)
    banner = page.locator("[data-testid=error-banner]")
    banner.wait_for(state="visible")
    assert "not found" in banner.text_content() and "submit it again" in banner.text_content()
    assert page.evaluate(f"fetch('/api/jobs/{job}').then(r => r.status)") == 404
