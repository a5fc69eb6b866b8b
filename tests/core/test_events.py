"""Waiting on announcements (core.records.events) and the hot copy of results (core.records.hot), on the real
Redis: one pub/sub connection per event loop serves every waiter, and waiters poll when it breaks."""

from __future__ import annotations

import asyncio
import time
import uuid

from core.records import SUCCEEDED, Records
from core.records.hot import HOT_RESULT_MAX_BYTES, HOT_RESULT_S
from core.specs import RecombineSpec


def _job(records: Records) -> str:
    spec = RecombineSpec(model="m", base="a" * 64, attributes={}, x_T="inferred", seed=0, steps=4, sampler="ddim")
    return records.create_job(uuid.uuid4().hex, spec, owner="o")


def _subscribers(rdb, channel: str) -> int:
    return dict(rdb.pubsub_numsub(channel))[channel]


def test_waiters_on_many_channels_share_one_connection_and_each_wakes_on_its_own_unit(records, rdb):
    keys = [_job(records) for _ in range(3)]
    channels = [records.events_channel(k) for k in keys]

    async def main() -> None:
        woken: list[str] = []

        async def waiter(key: str) -> None:
            async with records.changes(key) as changes:
                assert changes.subscribed
                started = time.monotonic()
                await changes.wait(5)
                assert time.monotonic() - started < 4, "woken by the announcement, not the timeout"
                woken.append(key)

        tasks = [asyncio.create_task(waiter(k)) for k in (*keys, keys[0])]  # two waiters on the first unit
        while not all(_subscribers(rdb, c) for c in channels):
            await asyncio.sleep(0.01)
        assert [_subscribers(rdb, c) for c in channels] == [1, 1, 1], "one subscription per channel"
        pubsub_clients = [c for c in rdb.client_list() if c.get("sub") not in (None, "0")]
        assert len(pubsub_clients) == 1, "one pub/sub connection for every waiter of the event loop"
        await asyncio.to_thread(records.cancel, keys[0])
        await asyncio.sleep(0.3)
        assert sorted(woken) == [keys[0], keys[0]], "only the announced unit's waiters woke"
        for k in keys[1:]:
            await asyncio.to_thread(records.cancel, k)
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        assert [_subscribers(rdb, c) for c in channels] == [0, 0, 0], "the last waiter out unsubscribes"

    asyncio.run(main())


def test_waiters_poll_when_the_connection_breaks_and_the_next_one_connects_again(records, rdb):
    key = _job(records)

    async def main() -> None:
        async with records.changes(key) as changes:
            assert changes.subscribed
            for client in rdb.client_list():
                if client.get("sub") not in (None, "0"):
                    rdb.client_kill_filter(_id=client["id"])
            for _ in range(100):  # the listener notices and wakes everyone, who poll from then on
                if not changes.subscribed:
                    break
                await changes.wait(0.05)
            assert not changes.subscribed
            started = time.monotonic()
            await changes.wait(5)
            assert time.monotonic() - started < 0.5, "a broken subscription polls instead of waiting out the timeout"
        async with records.changes(key) as again:
            assert again.subscribed
            await asyncio.to_thread(records.finish, key, SUCCEEDED)
            started = time.monotonic()
            await again.wait(5)
            assert time.monotonic() - started < 4

    asyncio.run(main())


def test_a_hot_result_is_the_bytes_for_a_minute_and_big_ones_are_not_kept(records, rdb):
    key = _job(records)
    png = bytes(range(256)) * 4  # not text: the records' client would fail to decode it
    records.put_hot_result(key, png)
    assert records.hot_result(key) == png
    assert 0 < rdb.ttl(records.keys.hot_result(key)) <= HOT_RESULT_S
    records.drop_hot_result(key)
    assert records.hot_result(key) is None
    records.put_hot_result(key, b"x" * (HOT_RESULT_MAX_BYTES + 1))
    assert records.hot_result(key) is None
