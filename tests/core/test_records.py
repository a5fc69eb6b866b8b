"""The Redis claim protocol (core.records' Lua scripts) against the real Redis, one fresh key prefix per test."""

from __future__ import annotations

import time
import uuid

from core.records import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, Records
from core.specs import RecombineSpec, encode_group, sampler_group
from tests.stack import TEST_REDIS_URL


def _spec(steps: int = 10, sampler: str = "ddim") -> RecombineSpec:
    return RecombineSpec(model="m", base="a" * 64, attributes={}, x_T="inferred", seed=0, steps=steps, sampler=sampler)


def _jobs(records: Records, n: int, **spec) -> list[str]:
    keys = []
    for _ in range(n):
        keys.append(records.create_job(uuid.uuid4().hex, _spec(**spec), owner="o"))
        time.sleep(0.002)  # distinct arrival times
    return keys


def _alive(records: Records, worker: str) -> None:
    records.heartbeat(worker, {"id": worker}, ttl=30)


def test_a_claim_takes_its_unit_and_waiting_units_of_its_group_up_to_the_batch_size(records):
    keys = _jobs(records, 5)
    other = _jobs(records, 2, steps=20)  # another sampler group: never in the same batch
    _alive(records, "w1")
    got = records.claim(keys[2], "w1", 4)
    assert got[0] == keys[2] and len(got) == 4 and set(got) <= set(keys)
    assert records.states(got) == [RUNNING] * 4
    assert records.states(other) == [QUEUED, QUEUED]
    rest = [k for k in keys if k not in got]
    assert records.claim(rest[0], "w1", 4) == rest  # the one left, alone
    assert records.get(rest[0])["group"] == sampler_group(_spec())


def test_a_unit_claimed_by_a_live_worker_is_not_taken_but_a_dead_worker_s_is(records):
    [key] = _jobs(records, 1)
    records.heartbeat("w1", {"id": "w1"}, ttl=0.3)
    assert records.claim(key, "w1", 1) == [key]
    _alive(records, "w2")
    assert records.claim(key, "w2", 1) == []  # w1's heartbeat still lives
    time.sleep(0.5)  # w1 dies: its heartbeat key expires
    assert records.claim(key, "w2", 1) == [key]
    assert records.get(key)["claimant"] == "w2"


def test_a_redelivered_task_takes_back_the_batch_mates_its_dead_worker_had_claimed(records):
    keys = _jobs(records, 3)
    records.heartbeat("w1", {"id": "w1"}, ttl=0.3)
    assert len(records.claim(keys[0], "w1", 3)) == 3
    time.sleep(0.5)
    _alive(records, "w2")
    assert sorted(records.claim(keys[0], "w2", 1)) == sorted(keys)  # the leader's batch, whatever the size


def test_finish_closes_only_open_units_and_cancel_leaves_the_queue(records):
    a, b = _jobs(records, 2)
    _alive(records, "w1")
    assert records.cancel(b) == CANCELLED
    assert records.claim(a, "w1", 8) == [a]  # b left the pending set: not merged
    records.progress([a], 3, 10)
    assert records.get(a)["done"] == "3"
    assert records.finish(a, SUCCEEDED) is True
    assert records.get(a)["done"] == "10"
    assert records.finish(a, FAILED, "late") is False and records.get(a)["state"] == SUCCEEDED
    assert records.finish(b, SUCCEEDED) is False and records.get(b)["state"] == CANCELLED
    assert records.cancel(a) == SUCCEEDED  # a finished unit is never reopened


def test_queue_encode_requeues_a_failed_image_or_one_made_by_another_model(records):
    image = "b" * 64
    key = records.image_key(image)
    assert records.queue_encode(image, "tiny", "m1", filename="x.png") == "new"
    assert records.queue_encode(image, "tiny", "m1") == QUEUED  # already waiting
    assert records.get(key)["group"] == encode_group("tiny") and records.get(key)["model_name"] == "tiny"
    _alive(records, "w1")
    assert records.claim(key, "w1", 1) == [key]
    records.finish(key, SUCCEEDED, model="m1")
    assert records.queue_encode(image, "tiny", "m1") == SUCCEEDED  # done with these weights: left alone
    assert records.queue_encode(image, "tiny", "") == SUCCEEDED  # weights unknown yet: left alone
    assert records.queue_encode(image, "tiny", "m2") == "new"  # other weights: encoded again
    records.claim(key, "w1", 1)
    records.finish(key, FAILED, "bad")
    assert records.queue_encode(image, "tiny", "m2") == "new" and "error" not in records.get(key)


def test_orphans_are_running_units_of_dead_workers_only(records, rdb):
    a, b, c = _jobs(records, 3)
    records.heartbeat("dies", {"id": "dies"}, ttl=0.3)
    _alive(records, "lives")
    assert records.claim(a, "dies", 1) == [a]
    assert records.claim(b, "lives", 1) == [b]
    records.claim(c, "lives", 1)
    records.finish(c, SUCCEEDED)
    assert records.orphans() == []
    time.sleep(0.5)
    assert records.orphans() == [a]
    assert records.claim(a, "lives", 1) == [a]  # what the task sent again does
    assert records.orphans() == []
    assert set(rdb.zrange(records.keys.running, 0, -1)) == {a, b}


def test_interactive_tasks_are_taken_before_bulk_ones_and_never_share_a_batch_with_them(records, rdb):
    """The queue's Redis lists as Celery's transport fills them: a consumer takes the interactive lane first."""
    from core.queue import Dispatcher, make_celery, queue_lists
    from core.settings import Settings

    settings = Settings(redis_url=TEST_REDIS_URL, key_prefix=records.keys.prefix, queue="lanes")
    app = make_celery(settings)
    dispatcher = Dispatcher(app, settings.queue)
    bulk = [records.create_job(uuid.uuid4().hex, _spec().model_copy(update={"lane": "bulk"}), owner="o") for _ in range(3)]
    for key in bulk:
        dispatcher.decode(records.id_of(key), "bulk", "m")
    dispatcher.encode("c" * 64, "m")
    urgent = records.create_job(uuid.uuid4().hex, _spec(), owner="o")
    dispatcher.decode(records.id_of(urgent), "interactive", "m")
    lists = queue_lists(settings, "m")
    assert rdb.llen(lists["interactive"]) == 1 and rdb.llen(lists["bulk"]) == 4
    with app.connection_for_read() as conn:
        first = conn.SimpleQueue(f"{settings.queue}.m").get(timeout=5)  # kombu's consumer, as the worker's
        assert first.headers["task"] == "diffusegae.decode" and first.payload[0] == [records.id_of(urgent)]
        first.ack()
    _alive(records, "w1")
    assert records.claim(urgent, "w1", 16) == [urgent]  # the bulk jobs of the same sampler and steps stay queued
    app.close()


def test_supersede_cancels_the_previous_job_of_the_key_only_while_it_is_queued(records, rdb):
    first, second, third, other = _jobs(records, 4)
    ids = [records.id_of(k) for k in (first, second, third, other)]
    assert records.supersede("o", "editor-1", ids[0]) is None  # nothing before it
    assert records.supersede("o", "editor-2", ids[3]) is None  # another key: left alone below
    assert records.supersede("o", "editor-1", ids[1]) == ids[0]
    rec = records.get(first)
    assert rec["state"] == CANCELLED and rec["error"] == f"superseded by job {ids[1]}"
    assert first not in rdb.zrange(records.keys.pending(sampler_group(_spec())), 0, -1)
    # a job that started is not stopped: its worker is at it
    _alive(records, "w1")
    assert records.claim(second, "w1", 1) == [second]
    assert records.supersede("o", "editor-1", ids[2]) is None
    assert records.get(second)["state"] == RUNNING
    assert records.get(other)["state"] == QUEUED
    # keys are per owner
    assert records.supersede("someone-else", "editor-1", uuid.uuid4().hex) is None
    assert records.get(third)["state"] == QUEUED


def test_every_state_and_progress_change_is_announced_on_the_units_channel(records, rdb):
    (key,) = _jobs(records, 1)
    sub = rdb.pubsub(ignore_subscribe_messages=True)
    sub.subscribe(records.events_channel(key))
    sub.get_message(timeout=1)  # the subscription's confirmation

    def messages() -> list[str]:
        out = []
        while (m := sub.get_message(timeout=0.2)) is not None:
            out.append(m["data"])
        return out

    _alive(records, "w1")
    records.claim(key, "w1", 1)
    records.progress([key], 1, 10)
    records.announce(key, x0_preview="data:image/png;base64,AA==", x0_step=1)
    records.finish(key, SUCCEEDED)
    assert messages() == ["running", "running", "running", "succeeded"]
    assert records.get(key)["x0_step"] == "1"
    (queued,) = _jobs(records, 1)
    sub.subscribe(records.events_channel(queued))
    sub.get_message(timeout=1)
    records.cancel(queued)
    assert messages() == ["cancelled"]
    sub.close()


def test_the_lane_is_read_from_the_units_field_never_out_of_its_group(records, rdb):
    image = "c" * 64
    records.queue_encode(image, "m", "fp")
    (urgent,) = _jobs(records, 1)
    assert records.get(records.image_key(image))["lane"] == "bulk" and records.lane_of(urgent) == "interactive"
    assert records.waiting() == {"interactive": 1, "bulk": 1}
    assert records.queue_position(records.get(urgent)) == 0
    rdb.hdel(urgent, "lane")  # as written before units stored their lane: bulk, whatever its group says
    assert records.lane_of(urgent) == "bulk" and records.waiting() == {"interactive": 0, "bulk": 2}


def test_queued_units_of_a_group_fail_once_they_waited_too_long(records):
    old, new = "d" * 64, "e" * 64
    records.queue_encode(old, "b", "fp")
    cutoff = time.time()
    time.sleep(0.01)
    records.queue_encode(new, "b", "fp")
    records.queue_encode("f" * 64, "a", "fp")
    groups = records.pending_groups()
    assert set(groups) == {encode_group("a"), encode_group("b")} and groups[encode_group("b")] < cutoff
    assert records.fail_queued(encode_group("b"), cutoff, "no worker") == [records.image_key(old)]
    assert records.get(records.image_key(old))["state"] == FAILED and records.get(records.image_key(old))["error"] == "no worker"
    assert records.get(records.image_key(new))["state"] == QUEUED
    assert records.pending_groups()[encode_group("b")] > cutoff


def test_a_claim_takes_its_share_of_what_waits_among_the_idle_workers(records):
    keys = _jobs(records, 16)
    for w in ("w1", "w2", "w3"):
        _alive(records, w)
    first = records.claim(keys[0], "w1", 16, peers=["w2"])
    assert len(first) == 8, "two idle workers: half each"
    second = records.claim(keys[8], "w2", 16, peers=["w1"])
    assert len(second) == 8 and not set(first) & set(second), "the other busy: all that is left"
    more = _jobs(records, 9)
    third = records.claim(more[0], "w3", 16, peers=["w1", "w2"])
    assert len(third) == 9, "every peer busy: everything, up to the batch size"
    alone = _jobs(records, 5)
    assert len(records.claim(alone[0], "w3", 3)) == 3, "no peers: up to the batch size"
