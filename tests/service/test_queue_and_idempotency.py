"""Idempotent submits (Idempotency-Key) and queue visibility (GET /api/queue, a queued job's position)."""

from __future__ import annotations

import uuid

import httpx

from tests.service.helpers import wait_job


def test_the_same_key_and_body_make_one_job_and_another_body_is_409(client: httpx.Client, images):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"base": images[0], "attributes": {"pose": {"donor": images[1], "weight": 1.0}}, "steps": 4}
    first = client.post("/api/recombine", json=body, headers=key)
    again = client.post("/api/recombine", json=body, headers=key)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert client.post("/api/recombine?wait=60", json=body, headers=key).headers["X-Job-Id"] == first.json()["id"]
    other = client.post("/api/recombine", json={**body, "steps": 5}, headers=key)
    assert other.status_code == 409 and "different request body" in other.json()["detail"]
    assert client.post("/api/recombine", json=body).json()["id"] != first.json()["id"]  # no key: a new job

    inter = {"base": images[0], "donor": images[2], "frames": 3, "steps": 4}
    ikey = {"Idempotency-Key": uuid.uuid4().hex}
    a = client.post("/api/interpolate", json=inter, headers=ikey).json()
    assert client.post("/api/interpolate", json=inter, headers=ikey).json()["id"] == a["id"]
    assert client.post("/api/recombine", json=body, headers=ikey).status_code == 409  # another route, another body

    batch_key = {"Idempotency-Key": uuid.uuid4().hex}
    items = {"items": [{"base": images[1], "steps": 4}, {"base": images[2], "steps": 4}]}
    b1 = client.post("/api/batches", json=items, headers=batch_key).json()
    b2 = client.post("/api/batches", json=items, headers=batch_key).json()
    assert b1["id"] == b2["id"] and b1["total"] == 2
    assert client.post("/api/batches", json={"items": items["items"][:1]}, headers=batch_key).status_code == 409
    assert wait_job(client, first.json()["id"])["state"] == "succeeded"


def test_queue_shows_lanes_and_where_each_job_stands(client: httpx.Client, images):
    long_job = client.post("/api/recombine", json={"base": images[0], "steps": 900}).json()["id"]
    behind = [client.post("/api/recombine", json={"base": images[1], "steps": 4 + i}).json()["id"] for i in range(3)]
    q = client.get("/api/queue").json()
    assert set(q["waiting"]) == {"interactive", "bulk"} and q["workers"] >= 1
    mine = {j["id"]: j for j in q["jobs"]}
    assert set(behind) <= set(mine) and long_job in mine
    queued = [mine[j]["queue_position"] for j in behind if mine[j]["state"] == "queued"]
    assert queued == sorted(queued) and len(set(queued)) == len(queued), q  # each one ahead of the next
    shown = client.get(f"/api/jobs/{behind[-1]}").json()
    # A moment later the job may have moved up (the worker took one ahead of it), never down.
    assert shown["state"] != "queued" or 0 <= shown["queue_position"] <= mine[behind[-1]]["queue_position"]
    client.delete(f"/api/jobs/{long_job}")
    for j in behind:
        assert wait_job(client, j)["state"] == "succeeded"
    assert client.get(f"/api/jobs/{behind[0]}").json()["queue_position"] is None
    assert all(j["id"] not in behind for j in client.get("/api/queue").json()["jobs"])

