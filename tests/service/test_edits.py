"""Recombine and interpolate through the whole stack: job states, ?wait=, SSE, merging into one sampler batch."""

from __future__ import annotations

import io
import json

import redis
from PIL import Image

from tests.service.helpers import wait_job


def _png(content: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(content))
    im.load()
    return im


def test_recombine_minimal_body_to_png(client, images):
    base, donor, _ = images
    r = client.post("/api/recombine", json={"base": base, "attributes": {"background": {"donor": donor, "weight": 1.0}}})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["state"] in ("queued", "running") and job["kind"] == "recombine"  # an idle worker may have it already
    done = wait_job(client, job["id"])
    assert done["state"] == "succeeded", done
    assert done["progress"]["done"] == done["progress"]["total"] == 10
    assert done["result_url"] == f"/api/jobs/{job['id']}/result.png"
    result = client.get(done["result_url"])
    assert result.headers["content-type"] == "image/png" and _png(result.content).size == (16, 16)


def test_wait_returns_the_png_in_one_call(client, images):
    base, donor, third = images
    body = {"base": base, "attributes": {"pose": {"donor": third, "weight": 0.5}, "identity": {"donor": None, "weight": 1}},
            "x_T": "random", "seed": 3, "steps": 5, "sampler": "dpmpp_2m"}
    r = client.post("/api/recombine?wait=30", json=body)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    again = client.post("/api/recombine?wait=30", json=body)
    assert again.content == r.content  # seeded x_T: deterministic


def test_weight_zero_reproduces_the_base_decode(client, images):
    base, donor, _ = images
    plain = client.post("/api/recombine?wait=30", json={"base": base})
    zero = client.post("/api/recombine?wait=30", json={"base": base, "attributes": {"background": {"donor": donor, "weight": 0}}})
    assert plain.status_code == zero.status_code == 200
    assert plain.content == zero.content


def test_interpolate_strip_and_frames(client, images):
    base, donor, _ = images
    r = client.post("/api/interpolate", json={"base": base, "donor": donor, "attributes": ["background"], "frames": 4})
    assert r.status_code == 202, r.text
    done = wait_job(client, r.json()["id"])
    assert done["state"] == "succeeded" and done["kind"] == "interpolate" and len(done["frame_urls"]) == 4
    assert _png(client.get(done["result_url"]).content).size == (64, 16)
    frames = [client.get(u) for u in done["frame_urls"]]
    assert all(f.status_code == 200 and _png(f.content).size == (16, 16) for f in frames)
    assert client.get(f"/api/jobs/{done['id']}/frames/4.png").status_code == 404


def test_events_stream_progress_then_end(client, images):
    # 1,000 steps: the worker flushes progress every 50 ms, and a shorter job of the tiny model can end within
    # two flushes (60 steps did once, and 120 in another test)
    job = client.post("/api/recombine", json={"base": images[0], "steps": 1000}).json()
    events = []
    with client.stream("GET", f"/api/jobs/{job['id']}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
                if name == "end":
                    break
    assert events[0][0] == "progress" and events[-1][0] == "end"
    assert events[-1][1]["state"] == "succeeded" and events[-1][1]["progress"]["done"] == 1000
    assert len(events) > 3  # progress arrives step by step


def test_requests_arriving_together_share_a_sampler_batch(client, stack, images):
    """While the worker decodes a long job, queued ones with the same steps/sampler pile up; they run as one batch."""
    long = client.post("/api/recombine", json={"base": images[0], "steps": 400}).json()
    quick = [client.post("/api/recombine", json={"base": images[1], "steps": 7, "attributes":
                                                 {"pose": {"donor": images[2], "weight": w / 8}}}).json() for w in range(8)]
    for j in quick:
        assert wait_job(client, j["id"])["state"] == "succeeded"
    assert wait_job(client, long["id"])["state"] == "succeeded"
    r = redis.Redis.from_url(stack.env["DGAE_REDIS_URL"], decode_responses=True)
    leaders = {r.hget(f"{stack.name}:job:{j['id']}", "leader") for j in quick}
    assert len(leaders) < len(quick), "queued requests were not merged into a sampler batch"


def test_an_attribute_is_set_to_a_named_value_without_a_donor(client, images):
    model = client.get("/api/model").json()
    assert model["value_edits"] is True
    value = model["values"]["background"][4]  # image 0 has background 1; the tiny model learned backgrounds best
    plain = client.post("/api/recombine?wait=30", json={"base": images[0]})
    moved = client.post("/api/recombine?wait=30", json={"base": images[0], "attributes": {"background": {"value": value}}})
    kept = client.post("/api/recombine?wait=30",
                       json={"base": images[0], "attributes": {"background": {"value": value, "weight": 0}}})
    assert plain.status_code == moved.status_code == kept.status_code == 200
    assert moved.content != plain.content and kept.content == plain.content
    both = client.post("/api/recombine", json={"base": images[0], "attributes": {"background": {"value": value,
                                                                                                "donor": images[1]}}})
    assert both.status_code == 422 and "not both" in both.json()["detail"]
    unknown = client.post("/api/recombine", json={"base": images[0], "attributes": {"pose": {"value": "sideways"}}})
    assert unknown.status_code == 422 and "'sideways'" in unknown.json()["detail"] and repr(value) in unknown.json()["detail"]


def test_method_diffae_moves_z_sem_towards_a_named_value_and_refuses_donors(client, images):
    """Diff-AE's direction edit through the service: amplitude 0 decodes the base's own z_sem, a move changes the
    image; donors and unknown values are 422s (the tiny model has directions: tests/tiny_model.py)."""
    model = client.get("/api/model").json()
    assert model["diffae_edits"] is True
    value = model["values"]["background"][4]
    edit = {"base": images[0], "method": "diffae"}
    still = client.post("/api/recombine?wait=30", json={**edit, "attributes": {"background": {"value": value,
                                                                                               "weight": 0}}})
    moved = client.post("/api/recombine?wait=30", json={**edit, "attributes": {"background": {"value": value,
                                                                                               "weight": 0.4}}})
    assert still.status_code == moved.status_code == 200, (still.text, moved.text)
    assert moved.content != still.content
    donor = client.post("/api/recombine", json={**edit, "attributes": {"background": {"donor": images[1]}}})
    assert donor.status_code == 422 and "donor images are for method gae" in donor.json()["detail"]
    unknown = client.post("/api/recombine", json={**edit, "attributes": {"pose": {"value": "sideways"}}})
    assert unknown.status_code == 422 and "'sideways'" in unknown.json()["detail"]
    wrong = client.post("/api/recombine", json={**edit, "method": "asyrp"})
    assert wrong.status_code == 422
