"""A short retention in a real stack: images, jobs and their files are gone after it; GETs answer 404."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.service.helpers import toy_png, upload, wait_image, wait_job
from tests.stack import Stack, wait_for


@pytest.mark.slow
def test_records_and_files_expire(tiny_model):
    with Stack(tiny_model, env={"DGAE_RETENTION_S": "4"}) as stack:
        stack.start_worker()
        url = stack.start_api()
        stack.wait_healthy(url)
        store = Path(stack.env["DGAE_STORE_DIR"])
        with httpx.Client(base_url=url, timeout=60) as client:
            image = upload(client, toy_png(1, 2, 3)).json()["id"]
            assert wait_image(client, image)["status"] == "ready"
            job = client.post("/api/recombine", json={"base": image, "steps": 4}).json()["id"]
            assert wait_job(client, job)["state"] == "succeeded"
            assert (store / "images" / image / "latents.safetensors").is_file() and (store / "results" / f"{job}.png").is_file()

            def gone() -> bool:
                return (client.get(f"/api/images/{image}").status_code == 404 and client.get(f"/api/jobs/{job}").status_code == 404
                        and not (store / "images" / image).exists() and not (store / "results" / f"{job}.png").exists())

            wait_for(gone, 30, 0.5, what="the image and the job to expire")
            assert client.get("/api/images").json()["images"] == []
