"""Two deployments on one Redis (two checkouts, each `diffusegae serve` with its defaults) keep to their own jobs."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis

from tests.service.helpers import toy_png, upload, wait_image, wait_job
from tests.stack import TEST_REDIS_URL, Stack, free_port, stop_process, wait_for

UPLOADS, EDITS = 4, 8


def _default_stack(model_dir) -> Stack:
    """A Stack whose processes get no DGAE_KEY_PREFIX / DGAE_QUEUE: `serve`'s defaults, its own store."""
    stack = Stack(model_dir)
    del stack.env["DGAE_KEY_PREFIX"], stack.env["DGAE_QUEUE"]
    return stack


def _edit_session(url: str, first: int) -> list[str]:
    """4 uploads (pictures of its own), then 8 edits at once; -> every job's final state ("no result" when its
    result cannot be downloaded)."""
    with httpx.Client(base_url=url, timeout=120) as client:
        ids = [upload(client, toy_png(i % 6, i, i % 10)).json()["id"] for i in range(first, first + UPLOADS)]
        assert all(wait_image(client, i, timeout=120)["status"] == "ready" for i in ids)
        bodies = [{"base": ids[n % UPLOADS], "attributes": {"pose": {"donor": ids[(n + 1) % UPLOADS]}}}
                  for n in range(EDITS)]
        with ThreadPoolExecutor(EDITS) as pool:
            jobs = list(pool.map(lambda b: client.post("/api/recombine", json=b).json()["id"], bodies))
        states = [wait_job(client, j, timeout=120)["state"] for j in jobs]
        return [s if s != "succeeded" or client.get(f"/api/jobs/{j}/result.png").status_code == 200 else "no result"
                for j, s in zip(jobs, states)]


def _drop_prefix(prefix: str) -> None:
    client = redis.Redis.from_url(TEST_REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for i in range(0, len(keys), 500):
        client.delete(*keys[i:i + 500])


@pytest.mark.slow
def test_two_default_deployments_on_one_redis(tiny_model):
    a, b = _default_stack(tiny_model), _default_stack(tiny_model)
    prefixes = []
    try:
        (_, url_a), (_, url_b) = a.start_serve(), b.start_serve()
        a.wait_healthy(url_a, timeout=120)
        b.wait_healthy(url_b, timeout=120)
        prefixes = [f"dgae:{(s.dir / 'store' / 'deployment-id').read_text().strip()}:" for s in (a, b)]
        assert prefixes[0] != prefixes[1]

        # A worker started by hand on A's prefix with B's store (what two deployments sharing DGAE_KEY_PREFIX
        # would do) gives A's units back to the queue instead of failing them.
        rogue = b.start_worker(env={"DGAE_KEY_PREFIX": prefixes[0], "DGAE_QUEUE": "diffusegae"}, queue="diffusegae")
        wait_for(lambda: len(redis.Redis.from_url(TEST_REDIS_URL).keys(f"{prefixes[0]}hb:*")) >= 3, 60,
                 what="the hand-started worker's heartbeat on A's prefix (beside A's worker and trainer)")
        with ThreadPoolExecutor(2) as pool:
            states = [s for run in pool.map(_edit_session, (url_a, url_b), (0, UPLOADS)) for s in run]
        assert states == ["succeeded"] * (2 * EDITS), states
        stop_process(rogue)
        assert "giving its task back to the queue" in b.logs(tail=10**6)  # it did take some of A's 12 tasks

        # `serve` on A's prefix with another store refuses to start while A's worker lives, and says why.
        refused = subprocess.run([sys.executable, "-m", "server.cli", "serve", "--port", str(free_port())], cwd=a.dir,
                                 env={**b.env, "DGAE_KEY_PREFIX": prefixes[0], "DGAE_STORE_DIR": str(a.dir / "other")},
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0
        assert "in use by a live deployment with another store" in refused.stderr, refused.stderr
    finally:
        a.stop()
        b.stop()
        for p in prefixes:
            _drop_prefix(p)
