"""Optional API keys: every route needs one, and a key sees only its own images, jobs and batches."""

from __future__ import annotations

import io
import time
import zipfile

import httpx
import pytest

from backend.api.deps import owner_of
from core.signing import signature
from tests.service.helpers import toy_png, upload, wait_image, wait_job

A, B = {"X-API-Key": "key-alpha"}, {"X-API-Key": "key-beta"}
SECRET = "url-secret-of-the-keyed-tests"


@pytest.fixture(scope="module")
def keyed(stack):
    """A second API process with keys, on the same Redis namespace, queue and worker as the session stack."""
    url = stack.start_api(env={"DGAE_API_KEYS": "key-alpha, key-beta", "DGAE_URL_SIGNING_SECRET": SECRET})
    stack.wait_healthy(url, headers=A)
    with httpx.Client(base_url=url, timeout=60) as c:
        yield c


def test_every_route_needs_a_key(keyed):
    for method, path in (("GET", "/api/model"), ("GET", "/api/images"), ("GET", "/api/health"), ("POST", "/api/recombine"),
                         ("GET", "/api/jobs/" + "1" * 32), ("POST", "/api/batches")):
        r = keyed.request(method, path)
        assert r.status_code == 401 and "API key" in r.json()["detail"], (path, r.text)
        r = keyed.request(method, path, headers={"X-API-Key": "wrong"})
        assert r.status_code == 401 and r.json()["detail"] == "invalid API key"
    assert keyed.get("/api/model", headers=A).status_code == 200


def test_a_key_sees_only_its_own(keyed):
    mine = upload(keyed, toy_png(2, 0, 3), "alpha.png", headers=A).json()["id"]
    assert wait_image(keyed, mine, headers=A)["status"] == "ready"
    assert keyed.get(f"/api/images/{mine}", headers=B).status_code == 404
    assert keyed.get(f"/api/images/{mine}/image.png", headers=B).status_code == 404
    assert keyed.get(f"/api/images/{mine}/image.png", params={"api_key": "key-alpha"}).status_code == 200  # <img> URLs
    assert mine not in [i["id"] for i in keyed.get("/api/images", headers=B).json()["images"]]
    assert mine in [i["id"] for i in keyed.get("/api/images", headers=A).json()["images"]]
    assert keyed.post("/api/recombine", json={"base": mine}, headers=B).status_code == 404

    job = keyed.post("/api/recombine", json={"base": mine}, headers=A).json()
    assert wait_job(keyed, job["id"], headers=A)["state"] == "succeeded"
    for path in (f"/api/jobs/{job['id']}", f"/api/jobs/{job['id']}/result.png", f"/api/jobs/{job['id']}/events"):
        assert keyed.get(path, headers=B).status_code == 404
    assert keyed.delete(f"/api/jobs/{job['id']}", headers=B).status_code == 404
    assert keyed.get(f"/api/jobs/{job['id']}/result.png", params={"api_key": "key-alpha"}).status_code == 200

    batch = keyed.post("/api/batches", json={"items": [{"base": mine}]}, headers=A).json()
    assert keyed.get(f"/api/batches/{batch['id']}", headers=B).status_code == 404
    assert keyed.delete(f"/api/batches/{batch['id']}", headers=B).status_code == 404
    assert keyed.get(f"/api/batches/{batch['id']}", headers=A).status_code == 200

    # the same bytes uploaded by B: with keys, encodings are not shared, so B learns nothing of A's upload
    again = upload(keyed, toy_png(2, 0, 3), "beta.png", headers=B).json()
    assert again["id"] != mine and again["filename"] == "beta.png"
    assert keyed.get(f"/api/images/{mine}", headers=B).status_code == 404
    assert wait_image(keyed, again["id"], headers=B)["status"] == "ready"


def test_shared_encodings_share_the_work_but_not_the_metadata(stack):
    url = stack.start_api(env={"DGAE_API_KEYS": "key-alpha, key-beta", "DGAE_SHARE_ENCODINGS": "true"})
    stack.wait_healthy(url, headers=A)
    with httpx.Client(base_url=url, timeout=60) as c:
        mine = upload(c, toy_png(4, 1, 6), "alpha-secret-name.png", headers=A).json()["id"]
        assert wait_image(c, mine, headers=A)["status"] == "ready"
        again = upload(c, toy_png(4, 1, 6), "beta.png", headers=B).json()
        assert again["id"] == mine and again["status"] == "ready"  # what sharing reveals: encoded already
        seen_by_b = c.get(f"/api/images/{mine}", headers=B).json()
        assert seen_by_b["filename"] == "beta.png" and "alpha-secret-name" not in c.get("/api/images", headers=B).text
        assert c.get(f"/api/images/{mine}", headers=A).json()["filename"] == "alpha-secret-name.png"


def test_a_zip_batch_under_a_key_uses_that_key_s_images(keyed):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.png", toy_png(1, 3, 2))
        zf.writestr("b.png", toy_png(5, 0, 7))
    spec = '[{"base": "a.png", "attributes": {"pose": {"donor": "b.png", "weight": 1}}, "steps": 4}]'
    r = keyed.post("/api/batches", files={"file": ("i.zip", buf.getvalue(), "application/zip")}, data={"spec": spec}, headers=B)
    assert r.status_code == 202, r.text
    batch = r.json()["id"]
    deadline = time.monotonic() + 120
    while keyed.get(f"/api/batches/{batch}", headers=B).json()["state"] not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert keyed.get(f"/api/batches/{batch}", headers=B).json()["done"] == 1
    assert len(keyed.get("/api/images", headers=B).json()["images"]) >= 2


def _signed(owner_key: str, path: str, exp: int) -> str:
    return f"{path}?exp={exp}&sig={signature(SECRET.encode(), owner_of(owner_key), path, exp)}"


def test_signed_urls_load_results_and_events_without_a_key_and_only_the_owner_s(keyed):
    mine = upload(keyed, toy_png(3, 2, 1), "alpha.png", headers=A).json()
    assert wait_image(keyed, mine["id"], headers=A)["status"] == "ready"
    img = keyed.get(f"/api/images/{mine['id']}", headers=A).json()
    assert "key-alpha" not in img["url"] and keyed.get(img["url"]).content.startswith(b"\x89PNG")  # what <img> does

    job = keyed.post("/api/recombine", json={"base": mine["id"], "steps": 4}, headers=A).json()
    assert "sig=" in job["events_url"] and "key-alpha" not in job["events_url"]
    with keyed.stream("GET", job["events_url"]) as events:  # what EventSource does: no header
        assert events.status_code == 200
        text = "".join(events.iter_text())
    assert "event: end" in text
    done = wait_job(keyed, job["id"], headers=A)
    assert done["state"] == "succeeded" and keyed.get(done["result_url"]).content.startswith(b"\x89PNG")
    assert "key-alpha" not in text and "sig=" in text  # the stream's job JSON carries signed URLs too

    later = int(time.time()) + 60
    result = f"/api/jobs/{job['id']}/result.png"
    assert keyed.get(_signed("key-alpha", result, later)).status_code == 200
    assert keyed.get(_signed("key-beta", result, later)).status_code == 404  # B's signature, A's job
    assert keyed.get(_signed("key-beta", f"/api/jobs/{job['id']}/events", later)).status_code == 404
    assert keyed.get(_signed("key-alpha", result, int(time.time()) - 1)).status_code == 401  # expired
    assert keyed.get(done["result_url"].replace("/result.png", "/events")).status_code == 401  # another path

    batch = keyed.post("/api/batches", json={"items": [{"base": mine["id"], "steps": 4}]}, headers=A).json()
    deadline = time.monotonic() + 120
    while (b := keyed.get(f"/api/batches/{batch['id']}", headers=A).json())["state"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert keyed.get(b["items"][0]["result_url"]).content.startswith(b"\x89PNG")
    assert keyed.get(b["results_url"]).headers["content-type"] == "application/zip"
