"""GET /metrics: Prometheus text from the API and the worker processes of one machine (prometheus_client's
multiprocess mode), scraped through a real `diffusegae serve` before and after real work."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from core import metrics
from core.records import CANCELLED, SUCCEEDED, Records
from core.specs import RecombineSpec
from tests.service.helpers import toy_png, upload, wait_image
from tests.stack import TEST_REDIS_URL, Stack, drop_prefix, free_port, stop_process, wait_for

Samples = list[tuple[str, dict[str, str], float]]


def scrape(client: httpx.Client) -> Samples:
    r = client.get("/metrics")  # no API key: public like /docs
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(r.text) for s in family.samples]


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels` (0 when there are none)."""
    return sum(v for n, lab, v in samples if n == name and labels.items() <= lab.items())


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def _env_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)


@pytest.mark.slow
def test_metrics_move_with_a_real_recombine_and_show_no_ids(tiny_model):
    """Counters of the API (requests) and of the worker child (jobs, encodes, sampler batches) move with real work;
    no label value is an id; the worker's counters outlive a killed worker, its live gauge does not."""
    with Stack(tiny_model) as stack:
        stack.env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # unset: serve makes a private folder and shares it with its worker
        proc, url = stack.start_serve()
        stack.wait_healthy(url, workers=2)  # the model worker and the training worker
        with httpx.Client(base_url=url, timeout=60) as client:
            before = scrape(client)
            # serve's two worker processes: the model worker and the training worker
            assert value(before, "diffusegae_redis_up") == 1 and value(before, "diffusegae_workers") == 2
            assert {lab["lane"] for n, lab, _ in before if n == "diffusegae_queue_depth"} == {"interactive", "bulk"}
            [(_, load_labels, load_s)] = [(n, lab, v) for n, lab, v in before if n == "diffusegae_model_load_seconds"]
            assert load_s > 0 and load_labels["device"] == "cpu"

            ids = [upload(client, toy_png(i, b, p), f"t{i}.png").json()["id"] for i, b, p in ((0, 1, 2), (3, 4, 5))]
            for i in ids:
                assert wait_image(client, i)["status"] == "ready"
            r = client.post("/api/recombine?wait=60", json={"base": ids[0], "attributes": {"background": {"donor": ids[1]}}})
            assert r.status_code == 200 and r.headers["content-type"] == "image/png"
            job_id = r.headers["x-job-id"]
            fake = "f" * 32
            assert client.get(f"/api/jobs/{fake}").status_code == 404
            assert client.get(f"/no/such/{fake}").status_code == 404

            def moved() -> Samples | None:  # the worker counts a job once it closed its record: just after the answer
                after = scrape(client)
                done = value(after, "diffusegae_jobs_total", kind="recombine", state="succeeded")
                return after if done > value(before, "diffusegae_jobs_total", kind="recombine", state="succeeded") else None

            after = wait_for(moved, 20, 0.2, "the recombine to be counted")

        def delta(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        # the API's requests, by route template and status
        assert delta("diffusegae_http_requests_total", method="POST", route="/api/recombine", status="200") == 1
        assert delta("diffusegae_http_requests_total", method="POST", route="/api/images", status="202") == 2
        assert delta("diffusegae_http_requests_total", method="GET", route="/api/images/{image_id}", status="200") >= 2
        assert delta("diffusegae_http_requests_total", method="GET", route="/api/jobs/{job_id}", status="404") == 1
        assert delta("diffusegae_http_requests_total", route="/{path}", status="404") == 1
        assert delta("diffusegae_http_requests_total", route="/metrics", status="200") >= 1
        assert delta("diffusegae_http_request_duration_seconds_count", route="/api/recombine") == 1
        # the worker's: units closed, the encoder, sampler batches, wait and run times
        assert delta("diffusegae_jobs_total", kind="recombine", state="succeeded") == 1
        assert delta("diffusegae_jobs_total", kind="encode", state="succeeded") == 2
        assert delta("diffusegae_jobs_total", state="failed") == 0
        assert delta("diffusegae_encodes_total") == 2
        assert delta("diffusegae_sampler_batch_size_count", op="decode") == 1
        assert delta("diffusegae_sampler_batch_size_sum", op="decode") == 1  # one recombination: one row
        assert 1 <= delta("diffusegae_sampler_batch_size_count", op="encode") <= 2
        assert delta("diffusegae_sampler_batch_size_sum", op="encode") == 2
        assert delta("diffusegae_sampler_steps_count", op="decode") == 1
        for kind, n in (("recombine", 1), ("encode", 2)):
            assert delta("diffusegae_job_wait_seconds_count", kind=kind) == n
            assert delta("diffusegae_job_run_seconds_count", kind=kind) == n
            assert delta("diffusegae_job_run_seconds_sum", kind=kind) > 0

        # no label value carries an id (images are sha256 hex, jobs hex too), nor any long hex string
        secrets = [*ids, job_id, fake]
        labels = {v for _, lab, _ in after for v in lab.values()}
        assert not [v for v in labels if any(s in v for s in secrets) or re.search(r"[0-9a-f]{16,}", v)]

        # the worker child shares serve's private folder; killed, its counters stay and its live gauge goes
        [worker] = [pid for pid in _children(proc.pid) if "celery" in (cmd := Path(f"/proc/{pid}/cmdline").read_text())
                    and "diffusegae-train" not in cmd]  # the model worker, not the training worker
        folder = Path(_env_of(worker)["PROMETHEUS_MULTIPROC_DIR"])
        assert folder.is_dir() and any(folder.glob(f"*_{worker}.db"))
        os.kill(worker, signal.SIGKILL)
        with httpx.Client(base_url=url, timeout=60) as client:
            def restarted() -> Samples | None:
                s = scrape(client)
                pids = {lab.get("pid") for n, lab, _ in s if n == "diffusegae_model_load_seconds"}
                return s if pids and str(worker) not in pids else None

            later = wait_for(restarted, 90, 0.5, "a new worker's model load time, without the killed one's")
        assert value(later, "diffusegae_encodes_total") == value(after, "diffusegae_encodes_total")
        assert value(later, "diffusegae_jobs_total", kind="recombine", state="succeeded") == value(
            after, "diffusegae_jobs_total", kind="recombine", state="succeeded")
        stop_process(proc, timeout=20)
        assert not folder.exists(), "serve removes the metrics folder it made"


def test_metrics_are_public_outside_the_schema_and_answer_without_redis(tmp_path):
    """With API keys set and no Redis: /metrics answers 200 without a key, says redis_up 0, and is not in the schema."""
    from fastapi.testclient import TestClient

    from backend.api.main import create_app
    from core.settings import Settings

    settings = Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0", api_keys=["k1"], store_dir=tmp_path / "store",
                        frontend_dir=tmp_path / "none", redis_timeout=0.5)
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/images").status_code == 401
        r = client.get("/metrics")
        assert r.status_code == 200
        samples = [(s.name, s.labels, s.value) for f in text_string_to_metric_families(r.text) for s in f.samples]
        assert value(samples, "diffusegae_redis_up") == 0
        assert not [n for n, _, _ in samples if n in ("diffusegae_workers", "diffusegae_queue_depth")]
        assert value(samples, "diffusegae_http_requests_total", method="GET", route="/api/images", status="401") >= 1
        assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_prepare_dir_removes_only_the_files_of_processes_that_are_gone(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        folder = tmp_path / "metrics"
        folder.mkdir()
        stale = [folder / f"counter_{gone.pid}.db", folder / f"gauge_liveall_{gone.pid}.db"]
        kept = [folder / f"counter_{alive.pid}.db", folder / f"histogram_{os.getpid()}.db", folder / "notes.txt"]
        for f in stale + kept:
            f.write_bytes(b"")
        assert metrics.prepare_dir(folder) == 2
        assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in kept)
        assert metrics.prepare_dir(tmp_path / "new" / "folder") == 0 and (tmp_path / "new" / "folder").is_dir()
    finally:
        alive.kill()
        alive.wait()


def test_jobs_are_counted_once_by_final_state_with_wait_and_run_times():
    """units_closed (after a batch) and unclaimed (a task whose unit is taken or ended) on real Redis records:
    a claimed job counts once when it ends, a job cancelled while queued once when its task comes."""
    def count(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    records = Records.connect(TEST_REDIS_URL, f"t-{uuid.uuid4().hex[:8]}:")
    spec = RecombineSpec(model="m", base="a" * 64, attributes={}, x_T="inferred", seed=0, steps=5, sampler="ddim")
    try:
        done, cancelled = (records.create_job(uuid.uuid4().hex, spec, owner="o") for _ in range(2))
        records.cancel(cancelled)
        before = {k: count("diffusegae_jobs_total", kind="recombine", state=k) for k in (SUCCEEDED, CANCELLED)}
        waits = count("diffusegae_job_wait_seconds_count", kind="recombine")
        runs = count("diffusegae_job_run_seconds_count", kind="recombine")
        records.heartbeat("w1", {"id": "w1"}, ttl=30)
        assert records.claim(done, "w1", 4) == [done]  # the cancelled one is not claimed with it
        time.sleep(0.05)
        metrics.units_closed(records, [done])  # not closed yet: nothing counted
        records.finish(done, SUCCEEDED)
        metrics.units_closed(records, [done])
        metrics.unclaimed(records, done)  # a batch mate's own task: counted by the worker that claimed it
        metrics.unclaimed(records, cancelled)  # cancelled before any claim: counted when its task finds it
        assert count("diffusegae_jobs_total", kind="recombine", state=SUCCEEDED) - before[SUCCEEDED] == 1
        assert count("diffusegae_jobs_total", kind="recombine", state=CANCELLED) - before[CANCELLED] == 1
        assert count("diffusegae_job_wait_seconds_count", kind="recombine") - waits == 1
        assert count("diffusegae_job_run_seconds_count", kind="recombine") - runs == 1
        metrics.units_closed(Records.connect(f"redis://127.0.0.1:{free_port()}/0", "x:", 0.5), [done])  # never raises
    finally:
        drop_prefix(records.keys.prefix)
        records.close()
