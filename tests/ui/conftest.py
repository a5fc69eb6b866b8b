"""Fixtures for the browser tests: the real stack (API + Celery worker + Redis) and headless Chromium.

By default `diffusegae serve` with the tiny test model is started on a free port through
tests/stack.py: the FastAPI app and a real Celery worker on the local Redis, in a namespace of
its own. Set DIFFUSEGAE_UI_URL to point the tests at a server that is already running instead
(e.g. a `diffusegae serve` you started yourself with the default model).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests"))

from ui_browser import chromium_path, launch  # noqa: E402

SERVER_START_TIMEOUT = 180.0


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


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

    if not _redis_up():
        pytest.skip("Redis is not running on 127.0.0.1:6379 (bash scripts/setup.sh starts it)")
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
    yield pg
    call = getattr(request.node, "rep_call", None)
    if call is not None and call.failed:
        shot = tmp_path / "failure.png"
        pg.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failed page: {shot}")
    context.close()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
