"""Batches: 20 specs -> a zip of 20 PNGs; a zip of images plus a JSON or CSV spec; cancel."""

from __future__ import annotations

import io
import json
import time
import zipfile

from tests.service.helpers import toy_png
from tests.stack import wait_for


def _finished(client, batch_id: str, timeout: float = 90) -> dict:
    return wait_for(lambda: (b := client.get(f"/api/batches/{batch_id}").json())["state"] not in ("queued", "running") and b,
                    timeout, 0.2, what=f"batch {batch_id}")


def test_batch_of_20_gives_a_zip_of_20(client, images):
    base, donor, third = images
    items = [{"base": [base, donor, third][i % 3], "attributes": {"background": {"donor": donor, "weight": i / 19},
                                                                  "pose": {"donor": third, "weight": 1 - i / 19}}}
             for i in range(20)]
    r = client.post("/api/batches", json={"items": items})
    assert r.status_code == 202, r.text
    created = r.json()
    assert created["total"] == 20 and created["state"] in ("queued", "running") and {"id", "done", "failed"} <= set(created)
    done = _finished(client, created["id"])
    assert done["state"] == "succeeded" and done["done"] == 20 and done["failed"] == 0 and done["progress"] == 1.0
    assert [it["index"] for it in done["items"]] == list(range(20))
    z = client.get(f"/api/batches/{created['id']}/results.zip")
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    assert sorted(names) == [f"{i:04d}.png" for i in range(20)]


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_of_images_with_json_and_csv_specs(client):
    archive = _zip({"in/a.png": toy_png(0, 0, 0), "b.png": toy_png(4, 5, 9), "c.webp": toy_png(2, 3, 4, fmt="WEBP")})
    spec = [{"base": "a.png", "attributes": {"background": {"donor": "b.png", "weight": 1}}},
            {"base": "in/a.png", "attributes": {"pose": {"donor": "c.webp", "weight": 0.5}}, "x_T": "random", "seed": 1}]
    r = client.post("/api/batches", files={"file": ("imgs.zip", archive, "application/zip")}, data={"spec": json.dumps(spec)})
    assert r.status_code == 202, r.text
    assert _finished(client, r.json()["id"])["done"] == 2
    csv_spec = "base,background,background_weight,pose\na.png,b.png,0.5,\nc.webp,,,b.png\nb.png,,,\n"
    r = client.post("/api/batches", files={"file": ("imgs.zip", archive, "application/zip"), "spec": ("s.csv", csv_spec)})
    assert r.status_code == 202, r.text
    done = _finished(client, r.json()["id"])
    assert done["done"] == 3
    assert len(zipfile.ZipFile(io.BytesIO(client.get(f"/api/batches/{done['id']}/results.zip").content)).namelist()) == 3


def test_bad_batches(client, images):
    assert client.post("/api/batches", json={"items": []}).status_code == 422
    r = client.post("/api/batches", json={"items": [{"base": images[0]}, {"base": images[0], "steps": 0}]})
    assert r.status_code == 422 and "items[1]" in r.json()["detail"]
    r = client.post("/api/batches", files={"file": ("x.zip", b"not a zip", "application/zip")}, data={"spec": "[]"})
    assert r.status_code == 422 and "zip" in r.json()["detail"]
    archive = _zip({"a.png": toy_png(0, 0, 0)})
    r = client.post("/api/batches", files={"file": ("x.zip", archive, "application/zip")},
                    data={"spec": json.dumps([{"base": "missing.png"}])})
    assert r.status_code == 422 and "missing.png" in r.json()["detail"]
    r = client.post("/api/batches", files={"file": ("x.zip", _zip({"a.txt": b"hello"}), "application/zip")},
                    data={"spec": json.dumps([{"base": "a.txt"}])})
    assert r.status_code == 415 and "a.txt" in r.json()["detail"]


def test_cancel_a_batch(client, images):
    items = [{"base": images[i % 3], "steps": 500} for i in range(6)]
    created = client.post("/api/batches", json={"items": items}).json()
    wait_for(lambda: client.get(f"/api/batches/{created['id']}").json()["progress"] > 0, 30, what="the batch to start")
    r = client.delete(f"/api/batches/{created['id']}")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    time.sleep(0.5)
    final = client.get(f"/api/batches/{created['id']}").json()
    assert final["cancelled"] == 6 - final["done"] and final["state"] == "cancelled"
    assert client.post("/api/recombine?wait=30", json={"base": images[0]}).status_code == 200  # the worker moved on
    z = client.get(f"/api/batches/{created['id']}/results.zip")
    assert z.status_code == 200 and len(zipfile.ZipFile(io.BytesIO(z.content)).namelist()) == final["done"]
