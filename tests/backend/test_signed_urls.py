"""Signed URLs in the API: what a response hands out loads without a key, for its owner and path only, until
it expires; the key is in no URL and the signature in no log line. Two API apps on one Redis (no worker)."""

from __future__ import annotations

import logging
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from fastapi.testclient import TestClient

from backend.api.deps import owner_of
from backend.api.main import ScrubKeys, create_app
from core.settings import Settings
from core.signing import signature
from tests.fake_model import fake_model, publish_fake
from tests.service.helpers import toy_png
from tests.stack import TEST_REDIS_URL, redis_answers

KEY_A, KEY_B = "key-alpha-7f3e", "key-beta-19c2"
A, B = {"X-API-Key": KEY_A}, {"X-API-Key": KEY_B}

pytestmark = pytest.mark.skipif(not redis_answers(TEST_REDIS_URL), reason="needs the test Redis (DGAE_TEST_REDIS_URL)")


@pytest.fixture
def prefix():
    prefix = f"sig{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(TEST_REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


def _app(tmp_path, prefix: str, **kw) -> TestClient:
    """An API process (no worker: a model is published by hand, tasks stay queued)."""
    settings = Settings(redis_url=TEST_REDIS_URL, key_prefix=prefix, queue=prefix.rstrip(":"), store_dir=tmp_path / "store",
                        frontend_dir=tmp_path / "no-ui", api_keys=[KEY_A, KEY_B], **kw)
    app = create_app(settings)
    publish_fake(app.state.services.records, fake_model())
    return TestClient(app)


def _forge(secret: bytes, owner: str, path: str, exp: int) -> str:
    return f"{path}?exp={exp}&sig={signature(secret, owner, path, exp)}"


def test_handed_out_urls_load_without_a_key_on_another_api_process(tmp_path, prefix):
    with _app(tmp_path, prefix) as one, _app(tmp_path, prefix) as two:  # the secret is made once, in Redis
        data = toy_png(1, 2, 3)
        img = one.post("/api/images", files={"file": ("a.png", data, "image/png")}, headers=A).json()
        for url in (img["url"], img["original_url"]):
            query = parse_qs(urlsplit(url).query)
            assert set(query) == {"exp", "sig"} and KEY_A not in url, url
            assert int(query["exp"][0]) >= time.time() + 15 * 60 - 5
        r = two.get(img["original_url"])  # an <img>: no header, no key
        assert r.status_code == 200 and r.content == data
        assert two.get(img["url"]).status_code == 409  # let in; just not encoded yet (no worker here)
        listed = two.get("/api/images", headers=A).json()["images"]
        assert listed[0]["original_url"] == img["original_url"]  # the same URL within a step: browsers cache it
        assert two.get(f"/api/images/{img['id']}/original").status_code == 401


def test_tampered_expired_or_misplaced_signatures_are_refused(tmp_path, prefix):
    with _app(tmp_path, prefix) as c:
        img = c.post("/api/images", files={"file": ("a.png", toy_png(2, 0, 1), "image/png")}, headers=A).json()
        path, query = img["original_url"].split("?")
        exp, sig = parse_qs(query)["exp"][0], parse_qs(query)["sig"][0]
        assert c.get(img["original_url"]).status_code == 200
        bad = {
            "sig changed": f"{path}?exp={exp}&sig={sig[:-2]}00",
            "exp changed": f"{path}?exp={int(exp) + 60}&sig={sig}",
            "another path": f"/api/images/{img['id']}/image.png?exp={exp}&sig={sig}",
            "no exp": f"{path}?sig={sig}",
        }
        for what, url in bad.items():
            r = c.get(url)
            assert r.status_code == 401 and "signed URL" in r.json()["detail"], (what, r.text)
        assert c.post(f"/api/images?exp={exp}&sig={sig}", files={"file": ("b.png", b"x", "image/png")}).status_code == 401

        secret = redis.Redis.from_url(TEST_REDIS_URL).get(f"{prefix}secret:url-signing")
        assert secret and c.get(_forge(secret, owner_of(KEY_A), path, int(time.time()) + 30)).status_code == 200
        r = c.get(_forge(secret, owner_of(KEY_A), path, int(time.time()) - 1))
        assert r.status_code == 401 and "expired" in r.json()["detail"]
        # signed for B, whose image it is not: like B asking with its key
        assert c.get(_forge(secret, owner_of(KEY_B), path, int(time.time()) + 30)).status_code == 404
        assert c.get(path, headers=B).status_code == 404
        # signed for a key the service does not have
        assert c.get(_forge(secret, owner_of("key-gone"), path, int(time.time()) + 30)).status_code == 401


def test_a_configured_secret_is_used_and_keys_off_means_plain_urls(tmp_path, prefix):
    with _app(tmp_path, prefix, url_signing_secret="configured-secret") as c:
        img = c.post("/api/images", files={"file": ("a.png", toy_png(3, 1, 0), "image/png")}, headers=A).json()
        exp = int(parse_qs(urlsplit(img["url"]).query)["exp"][0])
        path = urlsplit(img["url"]).path
        assert img["url"] == f"{path}?exp={exp}&sig={signature(b'configured-secret', owner_of(KEY_A), path, exp)}"
        assert "configured-secret" not in repr(c.app.state.services.settings)
    settings = Settings(redis_url=TEST_REDIS_URL, key_prefix=prefix, queue=prefix.rstrip(":"), store_dir=tmp_path / "s2",
                        frontend_dir=tmp_path / "no-ui")
    with TestClient(create_app(settings)) as c:
        img = c.post("/api/images", files={"file": ("a.png", toy_png(3, 1, 0), "image/png")}).json()
        assert img["url"] == f"/api/images/{img['id']}/image.png"


def test_access_log_lines_show_neither_keys_nor_signatures():
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", f"/api/jobs/x/events?exp=17&sig=abcdef0123&api_key={KEY_A}&n=1",
                                "1.1", 200), None)
    ScrubKeys().filter(record)
    line = record.getMessage()
    assert "abcdef0123" not in line and KEY_A not in line
    assert "exp=17&sig=***&api_key=***&n=1" in line
