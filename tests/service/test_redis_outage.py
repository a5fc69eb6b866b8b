"""Redis goes away while a worker decodes and comes back with its data (AOF): every job still finishes,
without restarting anything by hand and without waiting out the visibility timeout; while the worker cannot
reach Redis, health does not count it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time

import httpx
import pytest

from tests.service.helpers import toy_png, upload, wait_image
from tests.stack import Stack, free_port, stop_process, wait_for


class PrivateRedis:
    """A redis-server of the test's own, with an append-only file so a restart keeps the data."""

    def __init__(self) -> None:
        self.port, self.dir = free_port(), tempfile.mkdtemp(prefix="dgae-redis-")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "yes", "--appendfsync", "always", "--dir", self.dir],
                                     stdout=subprocess.DEVNULL)
        wait_for(lambda: subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).returncode == 0,
                 10, what="redis-server")

    def shutdown(self) -> None:
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown"], capture_output=True)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


def _get(client: httpx.Client, path: str) -> dict | None:
    try:
        r = client.get(path)
        return r.json() if r.status_code == 200 else None
    except httpx.HTTPError:
        return None


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
@pytest.mark.parametrize("mode", ["worker", "serve"])
def test_jobs_finish_after_a_redis_outage(tiny_model, mode):
    redis = PrivateRedis()
    redis.start()
    # The default visibility timeout (3600 s) and restore interval: recovery must not wait for them.
    env = {"DGAE_HEARTBEAT_TTL": "3", "DGAE_VISIBILITY_TIMEOUT": "3600", "DGAE_RESTORE_INTERVAL": "10",
           "DGAE_REDIS_TIMEOUT": "1"}
    try:
        with Stack(tiny_model, redis_url=redis.url, env=env) as stack:
            if mode == "worker":
                stack.start_worker_command()  # `diffusegae worker`
                url = stack.start_api()
            else:
                _, url = stack.start_serve()
            stack.wait_healthy(url, timeout=90)
            with httpx.Client(base_url=url, timeout=30) as client:
                image = upload(client, toy_png(2, 1, 3)).json()["id"]
                assert wait_image(client, image)["status"] == "ready"
                jobs = [client.post("/api/recombine", json={"base": image, "steps": 400 + i}).json()["id"] for i in range(3)]
                wait_for(lambda: (_get(client, f"/api/jobs/{jobs[0]}") or {}).get("progress", {}).get("done", 0) >= 20, 60,
                         what="the first job decoding")
                redis.shutdown()
                down = time.monotonic()
                health = wait_for(lambda: _get(client, "/api/health"), 10, what="health while Redis is down")
                assert health["redis"] is False and health["workers"] == 0
                time.sleep(max(0.0, down + 8 - time.monotonic()))  # an outage well past the heartbeat TTL (3 s)
                redis.start()
                back = time.monotonic()

                def all_done():
                    states = [(_get(client, f"/api/jobs/{j}") or {}).get("state") for j in jobs]
                    return states if all(s == "succeeded" for s in states) else None

                try:
                    wait_for(all_done, 90, 0.5, what="every job to finish after Redis came back")
                except TimeoutError:
                    states = [_get(client, f"/api/jobs/{j}") for j in jobs]
                    raise AssertionError(f"{states}\n{stack.logs(8000)}") from None
                assert time.monotonic() - back < 90
                # serve runs a model worker and a training worker
                assert stack.wait_healthy(url, timeout=30)["workers"] == (2 if mode == "serve" else 1)
    finally:
        redis.stop()
