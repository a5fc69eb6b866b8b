"""Fixtures of the core tests: a Records on the test Redis under a key prefix of its own, emptied afterwards."""

from __future__ import annotations

import uuid

import pytest
import redis

from core.records import Records
from tests.stack import TEST_REDIS_URL, drop_prefix


@pytest.fixture
def records():
    rec = Records.connect(TEST_REDIS_URL, f"t-{uuid.uuid4().hex[:8]}:")
    if not rec.ping():
        pytest.fail(f"Redis does not answer at {TEST_REDIS_URL} (DGAE_TEST_REDIS_URL)")
    yield rec
    drop_prefix(rec.keys.prefix)
    rec.close()


@pytest.fixture
def rdb():
    """A plain client on the test Redis, for what a test checks of the storage itself (Records hides its client)."""
    client = redis.Redis.from_url(TEST_REDIS_URL, decode_responses=True)
    yield client
    client.close()
