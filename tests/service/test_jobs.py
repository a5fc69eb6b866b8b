"""Cancelling: a queued job never runs, a running decode stops at the next sampler step."""

from __future__ import annotations

import time

from tests.service.helpers import wait_job
from tests.stack import wait_for


def test_cancel_a_running_decode(client, images):
    job = client.post("/api/recombine", json={"base": images[0], "steps": 1000}).json()
    wait_for(lambda: client.get(f"/api/jobs/{job['id']}").json()["progress"]["done"] > 5, 30, what="the decode to start")
    r = client.delete(f"/api/jobs/{job['id']}")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    # the worker stops within a step or so and takes new work at once
    quick = client.post("/api/recombine?wait=30", json={"base": images[1]})
    assert quick.status_code == 200 and quick.headers["content-type"] == "image/png"
    stopped_at = client.get(f"/api/jobs/{job['id']}").json()["progress"]["done"]
    time.sleep(0.5)
    after = client.get(f"/api/jobs/{job['id']}").json()
    assert after["state"] == "cancelled" and after["progress"]["done"] == stopped_at < 1000
    assert client.get(f"/api/jobs/{job['id']}/result.png").status_code == 409


def test_cancel_a_queued_job(client, images):
    blocker = client.post("/api/recombine", json={"base": images[0], "steps": 300}).json()
    queued = client.post("/api/recombine", json={"base": images[1], "steps": 299}).json()
    assert client.delete(f"/api/jobs/{queued['id']}").json()["state"] == "cancelled"
    assert wait_job(client, blocker["id"])["state"] == "succeeded"
    time.sleep(0.3)
    final = client.get(f"/api/jobs/{queued['id']}").json()
    assert final["state"] == "cancelled" and final["progress"]["done"] == 0
