"""A job survives its worker being SIGKILLed mid-decode and completes on a restarted worker."""

from __future__ import annotations

import signal

import httpx
import pytest

from tests.service.helpers import toy_png, upload, wait_image, wait_job
from tests.stack import Stack, wait_for


@pytest.mark.slow
def test_job_survives_sigkill_mid_decode(tiny_model):
    with Stack(tiny_model) as stack:
        first = stack.start_worker()
        url = stack.start_api()
        stack.wait_healthy(url)
        with httpx.Client(base_url=url, timeout=60) as client:
            image = upload(client, toy_png(3, 1, 4)).json()["id"]
            assert wait_image(client, image)["status"] == "ready"
            job = client.post("/api/recombine", json={"base": image, "steps": 600}).json()
            wait_for(lambda: client.get(f"/api/jobs/{job['id']}").json()["progress"]["done"] >= 20, 30, what="decoding")
            first.send_signal(signal.SIGKILL)
            first.wait()
            killed_at = client.get(f"/api/jobs/{job['id']}").json()
            assert killed_at["state"] == "running" and killed_at["progress"]["done"] < 600

            stack.start_worker()  # the task is redelivered (visibility timeout) and the job is claimed again
            done = wait_job(client, job["id"], timeout=120)
            assert done["state"] == "succeeded", (done, stack.logs())
            assert done["progress"]["done"] == 600
            assert client.get(f"/api/jobs/{job['id']}/result.png").headers["content-type"] == "image/png"
