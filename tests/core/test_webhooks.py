"""Webhooks without a network: the signature (a fixed vector), the receiver's check in the README, the host
guard against SSRF, the settings, and the Lua that queues exactly one delivery per ended job or batch (real Redis)."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import pytest
import redis
from pydantic import ValidationError

from core.records import FAILED, SUCCEEDED, Records
from core.settings import Settings
from core.specs import RecombineSpec
from core.webhooks import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    CallbackError,
    check_callback_url,
    signature,
    signed_headers,
    verify,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec-test"
BODY = b'{"id":"abc","state":"succeeded"}'


# --- signing ---

def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    # printf '1700000000.{"id":"abc","state":"succeeded"}' | openssl dgst -sha256 -hmac whsec-test
    assert signature(SECRET, 1700000000, BODY) == "sha256=f40573bb6ec87b51c14f980ce189705351ddef0431e5e17f596d3f5bcc4bad52"


def test_verify_accepts_a_fresh_delivery_and_refuses_changes_other_secrets_and_replays():
    now = 1700000000.0
    headers = signed_headers(SECRET, BODY, "job", "job-abc", now=now)
    assert headers[TIMESTAMP_HEADER] == "1700000000" and headers[EVENT_ID_HEADER] == "job-abc"
    assert verify(SECRET, headers, BODY, now=now + 299)
    assert not verify(SECRET, headers, BODY + b" ", now=now)  # body changed
    assert not verify("another-secret", headers, BODY, now=now)
    assert not verify(SECRET, headers, BODY, now=now + 301)  # an old delivery sent again
    assert not verify(SECRET, headers, BODY, now=now - 301)  # from the future
    assert not verify(SECRET, {**headers, TIMESTAMP_HEADER: "1700000001"}, BODY, now=now)  # timestamp is signed
    assert not verify(SECRET, {**headers, TIMESTAMP_HEADER: "-5"}, BODY, now=now)
    assert not verify(SECRET, {k: v for k, v in headers.items() if k != SIGNATURE_HEADER}, BODY, now=now)


def _readme_receiver() -> dict:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Webhooks"):readme.index("### Metrics")]
    [code] = re.findall(r"```python\n(.*?)```", section, re.S)
    scope: dict = {}
    exec(compile(code, "README.md (Webhooks)", "exec"), scope)
    return scope


def test_the_readme_receiver_accepts_what_the_service_signs_and_refuses_replays():
    scope = _readme_receiver()
    verify_ = scope["verify"]
    headers = signed_headers(SECRET, BODY, "job", f"job-{uuid.uuid4().hex}")
    assert verify_(SECRET.encode(), headers, BODY)
    assert not verify_(SECRET.encode(), headers, BODY)  # the same event again
    fresh = signed_headers(SECRET, BODY, "job", "job-2")
    assert not verify_(b"wrong", fresh, BODY)
    assert not verify_(SECRET.encode(), fresh, BODY + b"x")
    old = signed_headers(SECRET, BODY, "job", "job-3", now=time.time() - 600)
    assert not verify_(SECRET.encode(), old, BODY)


# --- the host guard (SSRF) ---

ALLOWED = ["hooks.example.com", "127.0.0.1:9000", "[::1]:8080"]


@pytest.mark.parametrize("url", [
    "https://hooks.example.com/x?token=1", "http://hooks.example.com:8443/", "http://HOOKS.example.com/",
    "http://127.0.0.1:9000/hook", "http://[::1]:8080/",
])
def test_allowed_hosts_pass(url):
    assert check_callback_url(url, ALLOWED) == url


@pytest.mark.parametrize(("url", "why"), [
    ("http://127.0.0.1:9001/", "127.0.0.1:9001 is not one"),  # the port is part of the entry
    ("http://127.0.0.1/", "127.0.0.1:80 is not one"),
    ("http://localhost:9000/", "localhost:9000 is not one"),  # names are not resolved to match
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254:80 is not one"),
    ("http://2130706433:9000/", "is not one"),  # 127.0.0.1 spelled as a number
    ("http://a.hooks.example.com/", "is not one"),
    ("http://hooks.example.com.evil.net/", "is not one"),
    ("http://[::1]:8081/", "[::1]:8081 is not one"),
    ("http://user:pw@hooks.example.com/", "user name or password"),
    ("http://hooks.example.com@127.0.0.1:9001/", "user name or password"),
    ("ftp://hooks.example.com/", "http:// or https://"),
    ("file:///etc/passwd", "http:// or https://"),
    ("hooks.example.com/x", "http:// or https://"),
    ("http:///x", "no host"),
    ("http://hooks.example.com:99999/", "port"),
    ("http://hooks.example.com/\nX-Injected: 1", "control characters"),
    ("http://hooks.example.com/" + "a" * 2000, "at most 2000"),
])
def test_other_urls_are_refused_with_the_reason(url, why):
    with pytest.raises(CallbackError, match=re.escape(why)):
        check_callback_url(url, ALLOWED)


def test_no_allowed_hosts_means_webhooks_are_off():
    with pytest.raises(CallbackError, match="webhooks are off"):
        check_callback_url("http://127.0.0.1:9000/", [])


def test_settings_need_a_secret_with_hosts_and_never_show_it():
    with pytest.raises(ValidationError, match="DGAE_WEBHOOK_SECRET is empty"):
        Settings(webhook_hosts="127.0.0.1:9000")
    with pytest.raises(ValidationError, match="not a number"):
        Settings(webhook_hosts="127.0.0.1:port", webhook_secret="s3cret-value")
    s = Settings(webhook_hosts=" 127.0.0.1:9000 , hooks.example.com ", webhook_secret="s3cret-value")
    assert s.webhook_hosts == ["127.0.0.1:9000", "hooks.example.com"] and s.webhooks_on()
    assert "s3cret-value" not in repr(s) and "s3cret-value" not in str(s) and "s3cret-value" not in s.model_dump_json()
    assert not Settings().webhooks_on()


# --- exactly one delivery queued per ending (the Lua of core.records) ---

def _job(records: Records, **fields) -> str:
    spec = RecombineSpec(model="m", base="a" * 64, attributes={}, x_T="inferred", seed=0, steps=2, sampler="ddim", lane="bulk")
    return records.create_job(uuid.uuid4().hex, spec, owner="o", **fields)


def _queued(records: Records, rdb: redis.Redis) -> list[str]:
    return rdb.zrange(records.keys.webhooks, 0, -1)


def test_a_job_with_a_callback_queues_one_delivery_when_it_ends_however_often_it_is_closed(records, rdb):
    plain, hooked, cancelled = _job(records), _job(records, callback="http://h/1"), _job(records, callback="http://h/2")
    assert _queued(records, rdb) == []
    for key in (plain, hooked):
        assert records.finish(key, SUCCEEDED)
        assert not records.finish(key, FAILED, "a redelivered task")  # a closed record stays closed
    assert records.cancel(cancelled) == "cancelled" and records.cancel(cancelled) == "cancelled"
    assert sorted(_queued(records, rdb)) == sorted([hooked, cancelled])
    assert json.loads(records.get(hooked)["webhook"]) == {"state": "pending", "attempts": 0}
    assert "webhook" not in records.get(plain)


def test_a_batch_queues_one_delivery_when_its_last_item_ends_also_if_items_ended_before_it_was_armed(records, rdb):
    bid = uuid.uuid4().hex
    items = [_job(records, batch=bid) for _ in range(3)]
    assert records.finish(items[0], SUCCEEDED)  # ended before the batch record and its callback exist
    records.create_batch(bid, [records.id_of(k) for k in items], owner="o")
    records.arm_batch_webhook(bid, "http://h/b")
    assert records.finish(items[1], FAILED, "x")
    assert _queued(records, rdb) == []
    assert records.cancel(items[2]) == "cancelled"
    assert _queued(records, rdb) == [records.batch_key(bid)]
    assert not records.finish(items[2], SUCCEEDED)
    assert _queued(records, rdb) == [records.batch_key(bid)] and records.get(records.batch_key(bid))["ended"] == "3"

    done = uuid.uuid4().hex  # every item ended before arming: queued by the arming itself
    [item] = [_job(records, batch=done)]
    records.finish(item, SUCCEEDED)
    records.create_batch(done, [records.id_of(item)], owner="o")
    records.arm_batch_webhook(done, "http://h/c")
    assert records.batch_key(done) in _queued(records, rdb)


def test_a_claimed_delivery_is_leased_retried_when_due_and_dropped_when_done(records, rdb):
    key = _job(records, callback="http://h/1")
    records.finish(key, SUCCEEDED)
    assert records.claim_webhook(lease_s=0.3) == key
    assert records.claim_webhook(lease_s=0.3) is None  # leased: no other sender takes it
    time.sleep(0.35)
    assert records.claim_webhook(lease_s=30) == key  # the first sender died: due again
    records.webhook_result(key, {"state": "pending", "attempts": 1, "last_error": "HTTP 500"}, time.time() + 0.2)
    assert records.claim_webhook(lease_s=30) is None
    time.sleep(0.25)
    assert records.claim_webhook(lease_s=30) == key
    records.webhook_result(key, {"state": "delivered", "attempts": 2, "last_error": None}, None)
    assert _queued(records, rdb) == [] and json.loads(records.get(key)["webhook"])["state"] == "delivered"
    rdb.delete(key)  # a record deleted (retention) while its delivery waits: not recreated
    rdb.zadd(records.keys.webhooks, {key: 0})
    records.webhook_result(key, {"state": "failed", "attempts": 3}, time.time())
    assert _queued(records, rdb) == [] and not rdb.exists(key)
