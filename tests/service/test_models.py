"""Several models in one deployment: real workers on real Redis serving the tiny model and a second one (its own GAE
on the same autoencoder), registered before and while the service runs."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from core.records import Records
from tests.service.helpers import toy_png, upload, wait_image, wait_job
from tests.stack import ROOT, Stack, wait_for

A, B = "tiny-toys-16", "tiny-toys-16-b"


def register(stack: Stack, folder: Path, name: str | None = None) -> subprocess.CompletedProcess:
    """`diffusegae models add`, into the stack's store, as an operator runs it."""
    cmd = [sys.executable, "-m", "server.cli", "models", "add", str(folder), "--store", str(stack.dir / "store"),
           *(["--name", name] if name else [])]
    return subprocess.run(cmd, cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=120)


def upload_to(client: httpx.Client, png: bytes, model: str | None = None) -> httpx.Response:
    return client.post("/api/images", files={"file": ("x.png", png, "image/png")}, data={"model": model} if model else {})


def models(client: httpx.Client) -> dict[str, dict]:
    return {m["name"]: m for m in client.get("/api/models").json()["models"]}


def wait_ready(client: httpx.Client, name: str, timeout: float = 60) -> dict:
    return wait_for(lambda: (m := models(client).get(name)) and m["status"] == "ready" and m, timeout,
                    what=f"model {name} ready")


def library_decode(folder: Path, png: bytes) -> np.ndarray:
    """What the library makes of `png` in the model `folder`: encode at its defaults, decode the inferred x_T."""
    from diffusegae.editing import Editor

    ed = Editor.load(folder, "cpu")
    lat = ed.encode(ed.preprocess([Image.open(io.BytesIO(png)).convert("RGB")]))
    return np.asarray(Editor.to_images(ed.decode(lat.z_dis, lat.x_T))[0], dtype=np.float32)


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float32)


@pytest.fixture(scope="module")
def two(tiny_model: Path, second_model: Path):
    """One worker serving every registered model (the tiny one ships, the second is registered), and the API."""
    with Stack(tiny_model, env={"DGAE_UNSERVED_TIMEOUT": "3"}) as st:
        r = register(st, second_model)
        assert r.returncode == 0, r.stderr
        st.start_worker()
        st.url = st.start_api()
        st.wait_healthy(st.url)
        with httpx.Client(base_url=st.url, timeout=60) as client:
            wait_ready(client, B)
            yield st, client


def test_each_request_runs_in_its_images_model_and_matches_the_library(two, tiny_model, second_model):
    _, client = two
    listed = client.get("/api/models").json()
    assert listed["default"] == A and [m["name"] for m in listed["models"]] == [A, B]
    a, b = listed["models"]
    assert a["shipped"] and not b["shipped"] and a["default"] and not b["default"]
    assert a["default_steps"] == 10 and b["default_steps"] == 6 and b["limits"]["steps"][1] >= 6
    png = toy_png(1, 2, 3)
    in_a, in_b = upload(client, png).json(), upload_to(client, png, B).json()
    assert (in_a["model"], in_b["model"]) == (A, B) and in_a["id"] != in_b["id"]
    for image in (in_a, in_b):
        assert wait_image(client, image["id"])["status"] == "ready"
    out = {}
    for image in (in_a, in_b):
        r = client.post("/api/recombine?wait=60", json={"base": image["id"]})
        assert r.status_code == 200, r.text
        out[image["model"]] = pixels(r.content)
    mine = {A: library_decode(tiny_model, png), B: library_decode(second_model, png)}
    for name in (A, B):
        other = B if name == A else A
        own, cross = np.abs(out[name] - mine[name]).mean(), np.abs(out[name] - mine[other]).mean()
        assert own < 2.0 and cross > 4 * own + 1, (name, own, cross)  # ONNX Runtime vs torch, in 8-bit PNG levels


def test_a_donor_of_another_model_is_a_422_with_the_way_to_encode_it_there(two):
    _, client = two
    base = upload_to(client, toy_png(0, 1, 2), B).json()["id"]
    donor = upload(client, toy_png(3, 4, 5)).json()["id"]
    r = client.post("/api/recombine", json={"base": base, "attributes": {"pose": {"donor": donor}}})
    assert r.status_code == 422 and A in r.json()["detail"] and B in r.json()["detail"]
    moved = client.post(f"/api/images/{donor}/encode", json={"model": B})
    assert moved.status_code == 202 and moved.json()["model"] == B and moved.json()["id"] != donor
    assert wait_image(client, moved.json()["id"])["status"] == "ready"
    r = client.post("/api/recombine?wait=60", json={"base": base, "attributes": {"pose": {"donor": moved.json()["id"]}}})
    assert r.status_code == 200, r.text
    assert models(client)[B]["value_edits"] is False  # its folder has no prototypes (edits/)
    r = client.post("/api/recombine", json={"base": base, "attributes": {"pose": {"value": "3"}}})
    assert r.status_code == 422 and "no value prototypes" in r.json()["detail"]
    unknown = upload_to(client, toy_png(0, 1, 2), "no-such-model")
    assert unknown.status_code == 422 and A in unknown.json()["detail"]


def test_a_model_registered_while_the_service_runs_is_used_without_a_restart(two, second_model):
    st, client = two
    assert "tiny-c" not in models(client)
    r = register(st, second_model, "tiny-c")
    assert r.returncode == 0, r.stderr
    entry = wait_ready(client, "tiny-c", timeout=30)  # workers read the registry every beat
    assert entry["attributes"] == models(client)[B]["attributes"]
    image = upload_to(client, toy_png(2, 3, 4), "tiny-c").json()
    assert wait_image(client, image["id"])["status"] == "ready"
    assert client.post("/api/recombine?wait=60", json={"base": image["id"]}).status_code == 200
    detail = client.get("/api/models/tiny-c").json()
    assert detail["workers"] and detail["examples"] and client.get(detail["examples"][0]).status_code == 200

    assert client.delete(f"/api/models/{A}").status_code == 409  # shipped
    busy = client.delete("/api/models/tiny-c")
    assert busy.status_code == 409 and "image" in busy.json()["detail"]
    assert client.delete("/api/models/tiny-c?force=true").status_code == 204
    assert "tiny-c" not in models(client)
    gone = client.post("/api/recombine", json={"base": image["id"]})
    assert gone.status_code == 422 and "not registered" in gone.json()["detail"]
    time.sleep(3)  # a worker's next beats do not bring it back
    assert "tiny-c" not in models(client)


def test_health_and_queue_list_each_models_workers(two):
    _, client = two
    health = client.get("/api/health").json()
    by_name = {m["name"]: m for m in health["models"]}
    assert set(by_name) >= {A, B} and all(by_name[n]["status"] == "ready" and by_name[n]["workers"] for n in (A, B))
    loaded = [m for m in by_name.values() if m["loaded_on"]]
    assert loaded and all(set(m["loaded_on"]) <= set(m["workers"]) and m["load_s"] > 0 for m in loaded)
    assert {m["name"] for m in client.get("/api/queue").json()["models"]} >= {A, B}


def test_workers_take_only_their_models_work_and_unserved_models_fail_clearly(tiny_model, second_model):
    with Stack(tiny_model, env={"DGAE_UNSERVED_TIMEOUT": "3"}) as st:
        assert register(st, second_model).returncode == 0
        only_a = st.start_worker(env={"DGAE_WORKER_MODELS": A})
        only_b = st.start_worker(env={"DGAE_WORKER_MODELS": B})
        st.url = st.start_api()
        st.wait_healthy(st.url, workers=2)
        records = Records.connect(st.env["DGAE_REDIS_URL"], st.env["DGAE_KEY_PREFIX"])
        with httpx.Client(base_url=st.url, timeout=60) as client:
            wait_ready(client, B)
            serving = {m["name"]: m["workers"] for m in client.get("/api/health").json()["models"]}
            assert len(serving[A]) == len(serving[B]) == 1 and serving[A] != serving[B]
            ids = {name: [upload_to(client, toy_png(i, i, i), name).json()["id"] for i in range(3)]
                   for name in (A, B)}
            for name, images in ids.items():
                for i in images:
                    assert wait_image(client, i)["status"] == "ready"
                    assert records.get(records.image_key(i))["claimant"] in serving[name]

            os.kill(only_b.pid, signal.SIGSTOP)  # B's one worker hangs: its heartbeat stops
            try:
                queued = upload_to(client, toy_png(4, 4, 4), B).json()["id"]  # accepted: B looks served
                wait_for(lambda: client.get("/api/health").json()["workers"] == 1, 20, what="B's worker counted dead")
                refused = upload_to(client, toy_png(5, 5, 5), B)
                assert refused.status_code == 503 and B in refused.json()["detail"]
                failed = wait_image(client, queued, timeout=40)  # A's worker fails it after DGAE_UNSERVED_TIMEOUT
                assert failed["status"] == "failed" and "no live worker serves model" in failed["error"], failed
                assert client.post("/api/recombine", json={"base": ids[B][0]}).status_code == 503
                assert client.post("/api/recombine?wait=60", json={"base": ids[A][0]}).status_code == 200
            finally:
                os.kill(only_b.pid, signal.SIGCONT)
            only_a.terminate()
        records.close()


def test_an_evicted_model_reloads_to_the_same_results(tiny_model, second_model):
    with Stack(tiny_model, env={"DGAE_MAX_MODELS": "1"}) as st:
        assert register(st, second_model).returncode == 0
        st.start_worker()
        st.url = st.start_api()
        st.wait_healthy(st.url)
        with httpx.Client(base_url=st.url, timeout=60) as client:
            wait_ready(client, B)
            png = toy_png(1, 4, 7)
            a, b = upload(client, png).json()["id"], upload_to(client, png, B).json()["id"]
            def holds(name: str) -> bool:  # the heartbeat (every second here) says what the worker holds
                loaded = {m["name"]: m["loaded_on"] for m in client.get("/api/health").json()["models"]}
                return bool(loaded[name]) and not any(v for n, v in loaded.items() if n != name)

            first = client.post("/api/recombine?wait=60", json={"base": a, "x_T": "random", "seed": 3})
            wait_for(lambda: holds(A), 10, what=f"{A} alone loaded")
            assert client.post("/api/recombine?wait=60", json={"base": b}).status_code == 200
            wait_for(lambda: holds(B), 10, what=f"{B} alone loaded")  # one at a time: A was unloaded
            again = client.post("/api/recombine?wait=60", json={"base": a, "x_T": "random", "seed": 3})
            assert first.status_code == again.status_code == 200 and first.content == again.content
            job = client.post("/api/recombine", json={"base": a}).json()
            assert wait_job(client, job["id"])["state"] == "succeeded"
            assert json.loads(Records.connect(st.env["DGAE_REDIS_URL"], st.env["DGAE_KEY_PREFIX"])
                              .get(f"{st.env['DGAE_KEY_PREFIX']}job:{job['id']}")["spec"])["model"] == A
