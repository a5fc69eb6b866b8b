"""A real stack for the service tests: a Celery worker process and the API (uvicorn process) on the
real Redis at 127.0.0.1:6379 (DB 12, a key prefix and queue of this session), tiny model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.service.helpers import toy_png, upload, wait_image
from tests.stack import Stack

UPLOAD_LIMIT = 1_000_000  # bytes; small, so the oversize test stays small


@pytest.fixture(scope="session")
def stack(tiny_model: Path) -> Iterator[Stack]:
    with Stack(tiny_model, env={"DGAE_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT)}) as st:
        st.start_worker()
        st.url = st.start_api()
        st.wait_healthy(st.url)
        yield st


@pytest.fixture(scope="session")
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def images(client: httpx.Client) -> list[str]:
    """Three encoded images (different identity, background and pose)."""
    ids = [upload(client, toy_png(i, b, p), f"toy{i}.png").json()["id"] for i, b, p in ((0, 1, 2), (3, 4, 5), (5, 2, 8))]
    for i in ids:
        assert wait_image(client, i)["status"] == "ready"
    return ids
