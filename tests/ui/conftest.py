"""Fixtures for the browser tests: the real stack (API + Celery worker + Redis) and headless Chromium.

By default `diffusegae serve` with the tiny test model is started on a free port through
tests/stack.py: the FastAPI app and a real Celery worker on the Redis at DGAE_TEST_REDIS_URL
(default redis://127.0.0.1:6379/12), in a namespace of its own. Set DIFFUSEGAE_UI_URL to point the
tests at a server that is already running instead (e.g. a `diffusegae serve` you started yourself
with the default model).
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests"))

from stack import TEST_REDIS_URL, redis_answers, shown_url  # noqa: E402
from ui_browser import chromium_path, launch  # noqa: E402

SERVER_START_TIMEOUT = 180.0
_IMAGE_PNG = re.compile(r"/api/images/[0-9a-f]+/image\.png")


def _health(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{url}/api/health", timeout=3) as r:
            return json.loads(r.read())
    except Exception:
        return None


@pytest.fixture(scope="session")
def server_url(request, tmp_path_factory) -> str:
    """Base URL of a running DiffuseGAE service whose frontend is served at /."""
    external = os.environ.get("DIFFUSEGAE_UI_URL")
    if external:
        url = external.rstrip("/")
        if _health(url) is None:
            pytest.fail(f"DIFFUSEGAE_UI_URL={url} does not answer /api/health")
        yield url
        return

    if not redis_answers(TEST_REDIS_URL):  # DGAE_TEST_REDIS_URL, default redis://127.0.0.1:6379/12
        pytest.skip(f"Redis does not answer at {shown_url(TEST_REDIS_URL)} (DGAE_TEST_REDIS_URL; "
                    "`DGAE_REDIS_URL=$DGAE_TEST_REDIS_URL bash scripts/redis.sh` starts a local one)")
    tiny_model = request.getfixturevalue("tiny_model")
    from stack import Stack  # tests/stack.py: isolated key prefix, queue and store, torch at 1 thread

    with Stack(tiny_model, workdir=tmp_path_factory.mktemp("ui-stack")) as stack:
        proc, url = stack.start_serve()  # `diffusegae serve`: the FastAPI app + a real Celery worker
        try:
            stack.wait_healthy(url, timeout=SERVER_START_TIMEOUT)
        except TimeoutError as err:
            pytest.fail(f"`diffusegae serve` did not come up (exit code {proc.poll()}):\n{err}")
        yield url


@pytest.fixture(scope="session")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (no `playwright install`)")
    if chromium_path() is None:
        pytest.skip("Chromium is missing: bash scripts/setup.sh --browser")
    with playwright_api.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def page(browser, server_url, request, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True, base_url=server_url)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.js_errors = errors  # type: ignore[attr-defined]
    # An image's image.png exists once it is ready (409 before): the UI must not ask for it earlier.
    early: list[str] = []
    pg.on("response", lambda r: early.append(r.url) if r.status == 409 and _IMAGE_PNG.search(r.url) else None)
    pg.early_image_requests = early  # type: ignore[attr-defined]
    yield pg
    call = getattr(request.node, "rep_call", None)
    if call is not None and call.failed:
        shot = tmp_path / "failure.png"
        pg.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failed page: {shot}")
    context.close()
    if early and call is not None and call.passed:
        pytest.fail(f"the page asked for image.png of images that were not ready yet (409): {early}")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
