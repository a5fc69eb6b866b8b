"""/docs and /redoc work without internet: every asset comes from the app itself (fastapi-offline's files).

The browser test runs the real API process (uvicorn, no worker or model needed for the docs) and real
headless Chromium with every request that is not to the API's own host aborted, and checks that the
Swagger UI renders the operations and that no request tried to leave the host.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from stack import TEST_REDIS_URL, Stack

from backend.api.docs import ASSET_FILES, ASSETS_URL
from backend.api.main import create_app
from core.settings import Settings

LOAD_TIMEOUT_MS = 60_000


def _settings(tmp_path, **over) -> Settings:
    return Settings(redis_url=TEST_REDIS_URL, key_prefix="docs-test:", queue="docs-test", store_dir=tmp_path / "store",
                    frontend_dir=tmp_path / "no-ui", redis_timeout=0.5, **over)


def test_docs_pages_name_only_local_assets_and_stay_public_with_api_keys(tmp_path):
    client = TestClient(create_app(_settings(tmp_path, api_keys=["k1"])))
    for page in ("/docs", "/redoc"):
        r = client.get(page)
        assert r.status_code == 200, (page, r.text)
        urls = re.findall(r"""(?:src|href|url)\s*[=:(]\s*['"]([^'"]+)['"]""", r.text)
        assert urls, f"{page} names no assets"
        outside = [u for u in urls if re.match(r"(?i)^(https?:)?//", u)]
        assert outside == [], f"{page} loads assets from elsewhere: {outside}"
        assert f"{ASSETS_URL}/" in r.text
        assert "default-src 'self'" in r.headers["content-security-policy"], "the page may load from other hosts"
    for name in ASSET_FILES:
        r = client.get(f"{ASSETS_URL}/{name}")
        assert r.status_code == 200 and len(r.content) > 1000, name
    assert client.get("/docs/oauth2-redirect").status_code == 200
    assert "/api/recombine" in client.get("/openapi.json").json()["paths"]
    assert client.get("/api/model").status_code == 401, "the API itself still needs a key"


@pytest.fixture(scope="module")
def api_url(tmp_path_factory):
    """The real API process (uvicorn) in a namespace of its own; no worker: the docs need none."""
    with Stack(tmp_path_factory.mktemp("no-model"), workdir=tmp_path_factory.mktemp("docs-api"),
               env={"DGAE_FRONTEND_DIR": str(tmp_path_factory.mktemp("no-ui") / "none")}) as stack:
        yield stack.start_api()


def _offline_page(browser, url: str):
    """A page on which every request to anywhere but the API's own host is aborted (and recorded)."""
    host = urlsplit(url).netloc
    context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(LOAD_TIMEOUT_MS)
    page.blocked = []  # type: ignore[attr-defined]
    page.seen = []  # type: ignore[attr-defined]
    page.csp_stopped = []  # type: ignore[attr-defined]
    page.js_errors = []  # type: ignore[attr-defined]

    def leaves_host(req_url: str) -> bool:
        parts = urlsplit(req_url)
        return parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != host

    def route(r) -> None:
        if leaves_host(r.request.url):
            page.blocked.append(r.request.url)
            r.abort()
        else:
            r.continue_()

    page.route("**/*", route)
    page.on("request", lambda req: page.seen.append(req.url))
    # Requests the page's Content-Security-Policy stopped in the browser: they never reach the network.
    page.on("requestfailed", lambda req: page.csp_stopped.append(req.url) if req.failure == "csp" else None)
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    return context, page, leaves_host


def _assert_stayed_on_host(page, leaves_host) -> None:
    page.wait_for_load_state("networkidle")
    assert page.blocked == [], f"requests that tried to leave the host: {page.blocked}"
    left = [u for u in page.seen if leaves_host(u) and u not in page.csp_stopped]
    assert left == [], f"requests to other hosts: {left}"


def test_swagger_ui_renders_the_operations_offline(browser, api_url):
    context, page, leaves_host = _offline_page(browser, api_url)
    try:
        page.goto("/docs")
        op = page.locator('.opblock.opblock-post:has(.opblock-summary-path[data-path="/api/recombine"])')
        op.wait_for(state="visible")
        assert page.locator(".opblock").count() >= 10, "Swagger UI shows too few operations"
        assert page.locator('.opblock-summary-path[data-path="/api/images"]').count() >= 1
        op.locator(".opblock-summary").click()  # expand: the request body schema is rendered from local code too
        op.locator(".opblock-body").wait_for(state="visible")
        css_loaded = page.evaluate("getComputedStyle(document.querySelector('.swagger-ui .opblock')).borderStyle")
        assert css_loaded == "solid", "swagger-ui.css did not apply"
        _assert_stayed_on_host(page, leaves_host)
        assert page.csp_stopped == []
        assert any(f"{ASSETS_URL}/swagger-ui-bundle.js" in u for u in page.seen)
        assert page.js_errors == []
    finally:
        context.close()


def test_redoc_renders_the_operations_offline(browser, api_url):
    context, page, leaves_host = _offline_page(browser, api_url)
    try:
        page.goto("/redoc")
        page.locator(".api-content").wait_for(state="visible")
        page.locator('[data-section-id^="operation/"]').first.wait_for(state="attached")
        assert page.locator('[data-section-id^="operation/"]').count() >= 10
        assert page.get_by_text("/api/recombine").count() >= 1
        # ReDoc's attribution logo (cdn.redoc.ly) is the one outside URL it names; the CSP stops it in the browser
        _assert_stayed_on_host(page, leaves_host)
        assert page.js_errors == []
    finally:
        context.close()
