"""What the API answers in-process on the test Redis, with no worker (its records are written by hand as a worker
would): health stays small and says whether keys are needed, the model names its examples' values, a long decode's
estimate is a URL (not inline in every job JSON), and the favicon is served."""

from __future__ import annotations

import base64
import io
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from PIL import Image

from core.records import RUNNING, SUCCEEDED
from tests.fake_model import fake_model, publish_fake
from tests.stack import TEST_REDIS_URL, redis_answers

VALUES = {"identity": ["car", "truck", "bus"], "background": [f"surface {i}" for i in range(111)],
          "pose": ["20 deg", "56 deg"]}
MODEL = fake_model(values=VALUES, examples=3,
                   example_labels=[{"identity": "bus", "background": "surface 7", "pose": "56 deg"}, {}])


@contextmanager
def _api(tmp_path: Path, **settings) -> Iterator[TestClient]:
    """A fresh app (its own key prefix) whose one live worker "loaded" MODEL."""
    if not redis_answers(TEST_REDIS_URL):
        pytest.skip("needs the test Redis (DGAE_TEST_REDIS_URL)")
    from backend.api.main import create_app
    from core.settings import Settings

    name = f"small{uuid.uuid4().hex[:8]}"
    s = Settings(redis_url=TEST_REDIS_URL, key_prefix=f"{name}:", queue=name, store_dir=tmp_path / "store",
                 **{"frontend_dir": tmp_path / "no-ui", **settings})
    try:
        with TestClient(create_app(s)) as client:
            records = client.app.state.services.records
            publish_fake(records, MODEL, ttl=30)
            yield client
    finally:
        r = redis.Redis.from_url(TEST_REDIS_URL)
        keys = list(r.scan_iter(match=f"*{name}*", count=1000))  # records and the Celery queue
        if keys:
            r.delete(*keys)
        r.close()


def test_health_is_small_and_says_whether_keys_are_needed(tmp_path):
    with _api(tmp_path) as client:
        health = client.get("/api/health").json()
        assert health == {**health, "status": "ok", "redis": True, "workers": 1, "api_keys": False}
        assert health["model"] == {"name": "fake", "device": "cpu", "runtime": "torch", "runtime_note": ""}
        assert len(json.dumps(health)) < 700  # the value names (111 backgrounds here) are /api/model's
        assert client.get("/api/model").json()["values"] == VALUES
    with _api(tmp_path, api_keys=["k1"]) as client:
        assert client.get("/api/health").status_code == 401
        assert client.get("/api/health", headers={"X-API-Key": "k1"}).json()["api_keys"] is True


def test_the_model_names_the_values_of_its_examples_where_known(tmp_path):
    with _api(tmp_path) as client:
        model = client.get("/api/model").json()
        assert model["examples"] == [f"/api/models/fake/examples/{i}.png" for i in range(3)]
        # one known, one the folder has no labels for ({}), one beyond the labels: unknown is null, never a guess
        assert model["example_labels"] == [{"identity": "bus", "background": "surface 7", "pose": "56 deg"}, None, None]


@pytest.mark.parametrize("keys", [[], ["k1"]], ids=["no keys", "keys"])
def test_a_long_decodes_estimate_is_a_url_to_its_png(tmp_path, keys):
    png = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(png, format="PNG")
    with _api(tmp_path, api_keys=keys) as client:
        key_header = {"X-API-Key": "k1"} if keys else {}
        records = client.app.state.services.records
        base = client.post("/api/images", files={"file": ("a.png", png.getvalue(), "image/png")},
                           headers=key_header).json()["id"]
        job = client.post("/api/recombine", json={"base": base, "steps": 60}, headers=key_header).json()
        key = records.job_key(job["id"])
        assert job["x0_preview_url"] is None
        assert client.get(f"/api/jobs/{job['id']}/x0.png", headers=key_header).status_code == 404  # none yet

        records.set_fields(key, state=RUNNING)
        records.announce(key, x0_preview="data:image/png;base64," + base64.b64encode(png.getvalue()).decode(), x0_step=7)
        running = client.get(f"/api/jobs/{job['id']}", headers=key_header).json()
        url = running["x0_preview_url"]
        assert url.startswith(f"/api/jobs/{job['id']}/x0.png?step=7") and running["x0_step"] == 7
        assert ("&sig=" in url) == bool(keys)  # with keys signed, so that an <img> loads it without the header
        assert "base64" not in json.dumps(running)
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content == png.getvalue()
        assert r.headers["cache-control"] == "no-store"

        records.set_fields(key, state=SUCCEEDED)
        done = client.get(f"/api/jobs/{job['id']}", headers=key_header).json()
        assert done["x0_preview_url"] is None  # the result replaces it


FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


def test_the_favicon_is_served_and_every_page_links_it(tmp_path):
    with _api(tmp_path, frontend_dir=FRONTEND) as client:
        ico = client.get("/favicon.ico")
        assert ico.status_code == 200 and ico.content.startswith(b"\x00\x00\x01\x00")  # an ICO file
        assert ico.headers["content-type"] in ("image/vnd.microsoft.icon", "image/x-icon")
        for page in ("/", "/batch.html"):
            html = client.get(page).text
            for href in ("favicon.ico", "favicon.svg"):
                assert f'rel="icon" href="{href}"' in html, (page, href)
        svg = client.get("/favicon.svg")
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
