"""The API in-process on the test Redis, with no worker: a model is published by hand, tasks stay queued."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from backend.api.deps import Services
from tests.fake_model import fake_model, publish_fake
from tests.stack import TEST_REDIS_URL, redis_answers

MODEL = fake_model()


@pytest.fixture
def no_worker_api(tmp_path: Path) -> Iterator[tuple[TestClient, Services]]:
    """A TestClient of a fresh app (its own key prefix and queue) whose workers "loaded" MODEL."""
    if not redis_answers(TEST_REDIS_URL):
        pytest.skip("needs the test Redis (DGAE_TEST_REDIS_URL)")
    from backend.api.main import create_app
    from core.settings import Settings

    name = f"nowk{uuid.uuid4().hex[:8]}"
    settings = Settings(redis_url=TEST_REDIS_URL, key_prefix=f"{name}:", queue=name, store_dir=tmp_path / "store",
                        frontend_dir=tmp_path / "no-ui")
    try:
        with TestClient(create_app(settings)) as client:
            services: Services = client.app.state.services
            publish_fake(services.records, MODEL)
            yield client, services
    finally:
        r = redis.Redis.from_url(TEST_REDIS_URL)
        keys = list(r.scan_iter(match=f"*{name}*", count=1000))
        if keys:
            r.delete(*keys)
        r.close()
