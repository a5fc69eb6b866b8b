"""Several models in the browser: the top bar's picker, the page following the model its URL names, uploads and edits
in each model, and an image of the other model dropped on a slot (explained, then encoded in this one on request).

A stack of its own: the tiny model (shipped, the default), a second one registered with `diffusegae models add`
before the worker starts, and a third registered under another name that no worker serves (its status shows).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import SAMPLES, gallery_item, open_editor, result_job, upload, wait_result
from stack import ROOT, TEST_REDIS_URL, Stack, redis_answers, shown_url, wait_for

A, B, C = "tiny-toys-16", "tiny-toys-16-b", "tiny-toys-16-c"  # the default, the second, one nobody serves
STEPS = "6"  # few sampler steps: the suite runs on two shared CPU cores
START_TIMEOUT = 180.0


def register(stack: Stack, folder: Path, name: str | None = None) -> None:
    """`diffusegae models add`, into the stack's store, as an operator runs it."""
    cmd = [sys.executable, "-m", "server.cli", "models", "add", str(folder), "--store", str(stack.dir / "store"),
           *(["--name", name] if name else [])]
    done = subprocess.run(cmd, cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def server_url(tiny_model: Path, second_model: Path, tmp_path_factory) -> str:
    """This module's stack (the `page` fixture opens it): one worker serving A and B; C is registered, not served."""
    import httpx

    if not redis_answers(TEST_REDIS_URL):
        pytest.skip(f"Redis does not answer at {shown_url(TEST_REDIS_URL)} (DGAE_TEST_REDIS_URL)")
    with Stack(tiny_model, workdir=tmp_path_factory.mktemp("ui-models")) as stack:
        register(stack, second_model)
        register(stack, second_model, C)
        stack.start_worker(env={"DGAE_WORKER_MODELS": f"{A},{B}"})
        url = stack.start_api()
        stack.wait_healthy(url, timeout=START_TIMEOUT)

        def ready() -> bool:
            try:
                listed = {m["name"]: m["status"] for m in httpx.get(f"{url}/api/models", timeout=3).json()["models"]}
            except (httpx.HTTPError, ValueError, KeyError):
                return False
            return listed.get(A) == listed.get(B) == "ready" and C in listed

        wait_for(ready, START_TIMEOUT, 0.5, what=f"models {A} and {B} ready")
        yield url


def models(page) -> dict[str, dict]:
    return {m["name"]: m for m in page.evaluate("fetch('/api/models').then(r => r.json())")["models"]}


def image_json(page, img_id: str) -> dict:
    return page.evaluate(f"fetch('/api/images/{img_id}').then(r => r.json())")


def open_on(page, model: str) -> None:
    page.goto(f"/?model={model}")
    page.wait_for_selector("body[data-ready=true]")


def open_picker(page):
    """Open the model picker; -> its options once the list has come."""
    page.click("[data-testid=model-name]")
    options = page.locator("[data-testid=model-option]")
    options.first.wait_for()
    return options


def assert_slots_follow(page, model: dict) -> None:
    """The slots are the model's attributes with its chunk sizes; the steps field offers its default."""
    for attr, size in zip(model["attributes"], model["chunk_sizes"]):
        assert f"chunk {size}" in page.text_content(f"[data-testid=slot-{attr}]"), (model["name"], attr)
    assert page.locator("[data-testid^=slot-thumb-]").count() == len(model["attributes"])
    assert page.get_attribute("[data-testid=steps]", "placeholder") == str(model["default_steps"])


def test_the_picker_lists_every_model_and_switches_the_page_through_the_url(page):
    open_editor(page)
    listed = models(page)
    assert set(listed) == {A, B, C}
    assert page.text_content("[data-testid=model-name]") == f"Model: {A}"
    assert_slots_follow(page, listed[A])

    options = open_picker(page)
    assert options.count() == 3
    for name, m in listed.items():
        option = page.locator(f'[data-testid=model-option][data-model="{name}"]')
        text = option.inner_text()
        assert f"{m['resolution']}×{m['resolution']} px" in text and all(a in text for a in m["attributes"]), text
        thumb = option.locator("img")
        assert thumb.count() == 1 and thumb.get_attribute("src") == m["thumbnail_url"]
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    current = page.locator("[data-testid=model-option][aria-current=true]")
    assert current.count() == 1 and current.get_attribute("data-model") == A
    # Only a model that is not ready shows its status: C is registered, but no live worker serves it.
    assert page.text_content(f'[data-testid=model-option][data-model="{C}"] [data-testid=model-status]') == "unserved"
    for name in (A, B):
        assert page.locator(f'[data-testid=model-option][data-model="{name}"] [data-testid=model-status]').count() == 0

    with page.expect_navigation():
        page.click(f'[data-testid=model-option][data-model="{B}"]')
    page.wait_for_selector("body[data-ready=true]")
    assert page.url.endswith(f"/?model={B}")
    assert page.text_content("[data-testid=model-name]") == f"Model: {B}"
    assert_slots_follow(page, listed[B])
    assert listed[A]["chunk_sizes"] != listed[B]["chunk_sizes"] or listed[A]["default_steps"] != listed[B]["default_steps"]
    assert page.get_attribute("[data-testid=nav-batch]", "href").endswith(f"batch.html?model={B}")
    open_picker(page)
    assert page.get_attribute("[data-testid=model-option][aria-current=true]", "data-model") == B

    page.reload()  # the choice is in the URL: shared or reloaded, the page stays on it
    page.wait_for_selector("body[data-ready=true]")
    assert page.text_content("[data-testid=model-name]") == f"Model: {B}"
    assert_slots_follow(page, listed[B])
    open_editor(page)  # no ?model=: the default model
    assert page.text_content("[data-testid=model-name]") == f"Model: {A}"
    assert page.js_errors == []


def test_uploads_go_into_the_pages_model_and_edits_run_in_it(page):
    ids = {}
    for model in (A, B):
        open_on(page, model)
        page.fill("[data-testid=steps]", STEPS)
        ids[model] = upload(page, SAMPLES[:2], model=None if model == A else model)  # the ids are those in `model`
        base, donor = ids[model]
        for img in (base, donor):
            assert image_json(page, img)["model"] == model
            card = gallery_item(page, img)
            assert card.locator("[data-testid=model-mark]").inner_text() == model
            assert "other-model" not in card.get_attribute("class")
        page.select_option("[data-testid=picker-background]", donor)  # the donor first: one render, with it
        page.select_option("[data-testid=base-picker]", base)
        job = wait_result(page, None)
        assert page.locator("[data-testid=result-image]").is_visible()
        assert f'"donor":"{donor}"' in page.text_content("[data-testid=curl]")
        assert page.evaluate(f"fetch('/api/jobs/{job}').then(r => r.json()).then(j => j.state)") == "succeeded"
    assert set(ids[A]).isdisjoint(ids[B])  # the same files are other images in another model

    # On B's page, A's images stay listed, marked as not of this model; the interpolation offers only B's.
    for img in ids[A]:
        card = gallery_item(page, img)
        assert "other-model" in card.get_attribute("class")
        assert card.locator("[data-testid=model-mark]").inner_text() == A
        assert f"model {A}" in page.text_content(f'[data-testid=base-picker] option[value="{img}"]')
    donors = page.eval_on_selector_all("[data-testid=interp-donor] option", "os => os.map(o => o.value).filter(Boolean)")
    assert set(donors) >= set(ids[B]) and set(donors).isdisjoint(ids[A])
    assert page.js_errors == []


def test_an_image_of_the_other_model_is_explained_and_encoded_on_request(page):
    open_editor(page)
    (donor_a,) = upload(page, SAMPLES[2:3])
    open_on(page, B)
    page.fill("[data-testid=steps]", STEPS)
    (base_b,) = upload(page, SAMPLES[3:4], model=B)
    sent: list[dict] = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data))
            if r.method == "POST" and "/api/recombine" in r.url else None)
    page.select_option("[data-testid=base-picker]", base_b)
    job0 = wait_result(page, None)
    notice = page.locator("[data-testid=model-notice]")
    assert notice.is_hidden()

    # Picked as the base: refused with the reason, the base stays.
    page.select_option("[data-testid=base-picker]", donor_a)
    notice.wait_for(state="visible")
    assert "cannot be the base" in notice.inner_text()
    assert page.get_attribute("[data-testid=base-slot]", "data-base") == base_b
    assert page.input_value("[data-testid=base-picker]") == base_b
    page.click("[data-testid=model-notice-dismiss]")
    notice.wait_for(state="hidden")

    # Dragged onto a slot: no job, the reason, and the offer to encode it in this model.
    gallery_item(page, donor_a).drag_to(page.locator("[data-testid=slot-pose]"))
    notice.wait_for(state="visible")
    text = page.text_content("[data-testid=model-notice-text]")
    assert f"this image is encoded in model {A}; the editor is on model {B}" in text, text
    assert "pose donor" in text
    assert page.get_attribute("[data-testid=slot-pose]", "data-donor") == ""
    assert page.text_content("[data-testid=model-notice-encode]") == f"Encode it in {B}"
    page.wait_for_timeout(500)  # a render it wrongly started would have been sent by now
    assert all(donor_a not in json.dumps(body) for body in sent), sent
    assert result_job(page) == job0

    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith(f"/api/images/{donor_a}/encode")) as resp:
        page.click("[data-testid=model-notice-encode]")
    assert resp.value.status == 202, resp.value.text()
    encoded = resp.value.json()
    assert encoded["model"] == B and encoded["id"] != donor_a
    notice.wait_for(state="hidden")
    card = gallery_item(page, encoded["id"])
    card.wait_for()
    assert card.locator("[data-testid=model-mark]").inner_text() == B
    assert gallery_item(page, donor_a).count() == 1  # the original stays, in its model
    assert page.get_attribute("[data-testid=slot-pose]", "data-donor") == encoded["id"]  # and the new one is used
    job1 = wait_result(page, job0)
    assert job1 != job0
    assert any(body["attributes"].get("pose", {}).get("donor") == encoded["id"] for body in sent)
    assert all(donor_a not in json.dumps(body) for body in sent)
    assert page.js_errors == []


def test_the_batch_page_follows_the_model(page):
    page.goto(f"/batch.html?model={B}")
    page.wait_for_selector("body[data-ready=true]")
    assert page.text_content("[data-testid=model-name]") == f"Model: {B}"
    assert page.get_attribute("[data-testid=nav-editor]", "href").endswith(f"/?model={B}")
    base, donor = upload(page, SAMPLES[4:6], model=B)
    page.fill("[data-testid=batch-steps]", STEPS)
    page.check(f'[data-testid=pick-bases][value="{base}"]')
    page.check(f'[data-testid=pick-donors][value="{donor}"]')
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/api/batches")) as req:
        page.click("[data-testid=batch-submit]")
    body = json.loads(req.value.post_data)
    assert body["model"] == B and body["items"][0]["base"] == base
    page.wait_for_function(
        "() => /^\\S+ 1\\/1$/.test(document.querySelector('[data-testid=batch-state]').textContent)", timeout=180_000)
    assert page.text_content("[data-testid=batch-counts]").startswith("1 done · 0 failed")
    # Images of the default model are listed, but cannot be picked for a batch in B.
    others = page.locator(f'[data-testid=gallery-item][data-model="{A}"]')
    if others.count():
        assert others.locator("[data-testid=pick-bases]").count() == 0
    assert page.js_errors == []
