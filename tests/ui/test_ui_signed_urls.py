"""With API keys the page loads images and follows progress through signed URLs: no URL it asks for holds
the key, and the server's log holds neither the key nor a signature. A stack of its own (`diffusegae serve`
with DGAE_API_KEYS) in real Chromium."""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import ENCODE_TIMEOUT_MS, RENDER_TIMEOUT_MS, SAMPLES, open_editor, wait_result

KEY = "ui-key-5d0c2a9e71"


@pytest.fixture(scope="module")
def keyed_url(tiny_model, tmp_path_factory):
    if os.environ.get("DIFFUSEGAE_UI_URL"):
        pytest.skip("starts a keyed stack of its own; not against DIFFUSEGAE_UI_URL")
    from stack import TEST_REDIS_URL, Stack, redis_answers

    if not redis_answers(TEST_REDIS_URL):
        pytest.skip("needs the test Redis (DGAE_TEST_REDIS_URL)")
    with Stack(tiny_model, workdir=tmp_path_factory.mktemp("ui-keyed"), env={"DGAE_API_KEYS": KEY}) as stack:
        _, url = stack.start_serve()
        stack.wait_healthy(url, timeout=180, headers={"X-API-Key": KEY})
        yield url, stack


@pytest.fixture
def keyed_page(browser, keyed_url):
    url, stack = keyed_url
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=url)
    context.add_init_script(f"localStorage.setItem('diffusegae.apiKey', {KEY!r})")
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.js_errors = []  # type: ignore[attr-defined]
    pg.on("pageerror", lambda exc: pg.js_errors.append(str(exc)))
    pg.requests = []  # type: ignore[attr-defined]
    pg.on("request", lambda r: pg.requests.append(r))
    pg.failed = []  # type: ignore[attr-defined]
    pg.on("response", lambda r: pg.failed.append(f"{r.status} {r.url}") if r.status in (401, 403) else None)
    yield pg, stack
    context.close()


def upload_keyed(page, paths) -> list[str]:
    """Upload through the file picker and wait until encoded; -> the ids (under a key they are not the bytes'
    SHA-256, encodings being per key)."""
    page.set_input_files("[data-testid=file-input]", [str(p) for p in paths])
    ready = page.locator("[data-testid=gallery-item][data-status=ready]")
    page.wait_for_function(f"() => document.querySelectorAll('[data-testid=gallery-item][data-status=ready]').length"
                           f" >= {len(paths)}", timeout=ENCODE_TIMEOUT_MS)
    return [ready.nth(i).get_attribute("data-image-id") for i in range(len(paths))]


def test_images_and_progress_work_with_no_key_in_any_url(keyed_page):
    page, stack = keyed_page
    # The first event stream fails as an expired signed URL would (401): the page gets the job again and
    # follows its fresh events_url.
    refused: list[str] = []

    def refuse_first_stream(route):
        if not refused:
            refused.append(route.request.url)
            route.fulfill(status=401, content_type="application/json", body='{"detail": "expired"}')
        else:
            route.continue_()

    page.route(re.compile(r".*/api/jobs/[0-9a-f]+/events.*"), refuse_first_stream)

    open_editor(page)
    page.fill("[data-testid=steps]", "400")  # long enough to be still running when the page re-fetches the job
    base, donor = upload_keyed(page, SAMPLES[:2])
    page.select_option("[data-testid=base-picker]", base)
    page.select_option("[data-testid=picker-background]", donor)
    wait_result(page, None)
    page.wait_for_selector("[data-testid=job-state][data-state=succeeded]", timeout=RENDER_TIMEOUT_MS)

    # images came up: the gallery thumbnails and the slots are decoded <img>s from signed URLs
    for selector in ("[data-testid=base-thumb] img", "[data-testid=gallery-item] img"):
        src = page.get_attribute(selector, "src")
        assert "sig=" in src and KEY not in src, src
        page.wait_for_function("s => { const i = document.querySelector(s); return i.complete && i.naturalWidth > 0; }",
                               arg=selector)

    urls = [r.url for r in page.requests]
    assert not [u for u in urls if KEY in u], "a request URL holds the API key"
    assert not [u for u in urls if "api_key" in u]
    streams = [u for u in urls if "/events" in urlsplit(u).path]
    assert len(streams) >= 2 and refused == streams[:1], streams  # refused once, then opened again
    assert all({"exp", "sig"} <= set(parse_qs(urlsplit(u).query)) for u in streams)
    assert [r for r in page.requests if "/image.png" in r.url and "sig=" in r.url]
    assert [f for f in page.failed if f.split(' ', 1)[1] not in refused] == []  # the server refused nothing
    assert page.js_errors == []

    logs = stack.logs(tail=2_000_000)
    assert "GET /api/images/" in logs, "no access log to check"
    assert KEY not in logs
    sigs = {q["sig"][0] for u in urls if "sig" in (q := parse_qs(urlsplit(u).query))}
    assert sigs and not [s for s in sigs if s in logs], "a signature reached the log"
