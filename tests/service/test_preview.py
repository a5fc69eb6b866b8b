"""Live preview: few-step previews, superseding a queued preview, pushed (not polled) job events, x0 estimates
(named by URL in the events, not inlined)."""

from __future__ import annotations

import json

import httpx
import redis

from tests.service.helpers import wait_job
from tests.stack import wait_for


def _redis(stack) -> redis.Redis:
    return redis.Redis.from_url(stack.env["DGAE_REDIS_URL"], decode_responses=True)


def _events(client: httpx.Client, job_id: str, on_open=None, on_event=None) -> list[tuple[str, dict]]:
    """The job's event stream to its end -> [(event, job JSON)]; `on_open()` once the stream answered,
    `on_event(kind, job, data line)` as each arrives."""
    events, kind = [], None
    with client.stream("GET", f"/api/jobs/{job_id}/events", timeout=60) as r:
        assert r.status_code == 200
        if on_open:
            on_open()
        for line in r.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[6:])))
                if on_event:
                    on_event(kind, events[-1][1], line)
                if kind in ("end", "error"):
                    break
    return events


def test_a_preview_runs_at_the_models_preview_steps(client, images):
    model = client.get("/api/model").json()
    assert 1 <= model["preview_steps"] <= model["default_steps"]
    r = client.post("/api/recombine?wait=30", json={"base": images[0], "preview": True,
                                                    "attributes": {"pose": {"donor": images[1], "weight": 0.5}}})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    job = client.get(f"/api/jobs/{r.headers['X-Job-Id']}").json()
    assert job["steps"] == model["preview_steps"] and job["state"] == "succeeded"
    # steps named in the request win
    r = client.post("/api/recombine", json={"base": images[0], "preview": True, "steps": 3})
    assert r.json()["steps"] == 3


def test_batch_items_cannot_be_previews(client, images):
    for extra in ({"preview": True}, {"supersede": "k"}):
        r = client.post("/api/batches", json={"items": [{"base": images[0]}, {"base": images[0], **extra}]})
        assert r.status_code == 422 and r.json()["detail"].startswith("items[1]: preview and supersede"), r.text


def test_a_queued_preview_is_superseded_by_the_next_one_of_its_key(client, images):
    blocker = client.post("/api/recombine", json={"base": images[0], "steps": 300}).json()  # keeps the worker busy
    wait_for(lambda: client.get(f"/api/jobs/{blocker['id']}").json()["state"] == "running", 30, what="the blocker")
    body = {"base": images[0], "preview": True, "supersede": "editor-a",
            "attributes": {"background": {"donor": images[1], "weight": 0.25}}}
    old = client.post("/api/recombine", json=body).json()
    other = client.post("/api/recombine", json={**body, "supersede": "editor-b"}).json()
    new = client.post("/api/recombine", json={**body, "attributes": {"background": {"donor": images[1], "weight": 0.5}}})
    new = new.json()
    gone = client.get(f"/api/jobs/{old['id']}").json()
    assert gone["state"] == "cancelled" and gone["error"] == f"superseded by job {new['id']}"
    client.delete(f"/api/jobs/{blocker['id']}")
    assert wait_job(client, new["id"])["state"] == "succeeded"
    assert wait_job(client, other["id"])["state"] == "succeeded"  # another key: not touched
    assert client.get(f"/api/jobs/{old['id']}").json()["progress"]["done"] == 0  # it never ran


def test_the_event_stream_is_pushed_over_the_jobs_channel(stack, client, images):
    # The job waits behind a blocker until the stream has subscribed, so that the whole run is streamed, and
    # it has 1,000 steps: the worker flushes progress every 50 ms, and 120 steps of the tiny model can take less.
    blocker = client.post("/api/recombine", json={"base": images[0], "steps": 1000}).json()  # cancelled below
    wait_for(lambda: client.get(f"/api/jobs/{blocker['id']}").json()["state"] == "running", 30, what="the blocker")
    job = client.post("/api/recombine", json={"base": images[2], "steps": 1000}).json()
    channel = f"{stack.env['DGAE_KEY_PREFIX']}job:{job['id']}:events"
    r = _redis(stack)
    subscribed = []

    def on_open() -> None:
        subscribed.append(wait_for(lambda: dict(r.pubsub_numsub(channel)).get(channel, 0) >= 1, 10, 0.02,
                                   "the stream to subscribe"))
        client.delete(f"/api/jobs/{blocker['id']}")

    lines, estimates = [], []

    def on_event(kind: str, e: dict, line: str) -> None:
        lines.append(line)
        if kind == "progress" and e.get("x0_preview_url") and not estimates:  # fetched while the job runs
            estimates.append(client.get(e["x0_preview_url"]))

    events = _events(client, job["id"], on_open=on_open, on_event=on_event)
    assert subscribed == [True]
    assert events[-1][0] == "end" and events[-1][1]["state"] == "succeeded"
    done = [e["progress"]["done"] for kind, e in events if kind == "progress"]
    assert done == sorted(done) and len(set(done)) > 2, f"progress was not streamed: {done}"
    # a long decode (steps >= 50) names its current clean-image estimate by URL; the PNG is not in the stream
    x0 = [e for kind, e in events if kind == "progress" and e.get("x0_preview_url")]
    assert x0 and 0 < x0[0]["x0_step"] <= 1000
    assert x0[0]["x0_preview_url"] == f"/api/jobs/{job['id']}/x0.png?step={x0[0]['x0_step']}"
    assert len({e["x0_preview_url"] for e in x0}) == len({e["x0_step"] for e in x0}), "one URL per estimate"
    [png] = estimates
    assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    assert not any("base64" in line for line in lines)
    assert max(map(len, lines)) < 2000, "an event carries more than the job's JSON"
    assert events[-1][1]["x0_preview_url"] is None  # the result replaces it
    wait_for(lambda: dict(r.pubsub_numsub(channel)).get(channel, 0) == 0, 10, 0.05, "the stream to unsubscribe")
    r.close()
