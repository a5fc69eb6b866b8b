"""Small helpers the service tests share (and the UI tests may use)."""

from __future__ import annotations

import io
import time

import httpx


def toy_png(identity: int, background: int, pose: int, size: int = 32, fmt: str = "PNG") -> bytes:
    from diffusegae.data import toys

    buf = io.BytesIO()
    toys.render(identity, background, pose, size).save(buf, format=fmt)
    return buf.getvalue()


def upload(client: httpx.Client, data: bytes, name: str = "x.png", **kw) -> httpx.Response:
    return client.post("/api/images", files={"file": (name, data, "application/octet-stream")}, **kw)


def wait_image(client: httpx.Client, image_id: str, timeout: float = 60, **kw) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/api/images/{image_id}", **kw).json()
        if body["status"] in ("ready", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def wait_job(client: httpx.Client, job_id: str, timeout: float = 60, **kw) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/api/jobs/{job_id}", **kw).json()
        if body["state"] in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
            return body
        time.sleep(0.1)
