"""Fixtures of the core tests: a Records on the test Redis under a key prefix of its own, emptied afterwards."""

from __future__ import annotations

import uuid

import pytest

from core.records import Records
from tests.stack import TEST_REDIS_URL


@pytest.fixture
def records():
    rec = Records.connect(TEST_REDIS_URL, f"t-{uuid.uuid4().hex[:8]}:")
    if not rec.ping():
        pytest.fail(f"Redis does not answer at {TEST_REDIS_URL} (DGAE_TEST_REDIS_URL)")
    yield rec
    keys = list(rec.r.scan_iter(f"{rec.p}*"))
    if keys:
        rec.r.delete(*keys)
    rec.r.close()
