"""Waiting for a unit to change without polling: its announcements on Redis pub/sub (`Keys.events`).

    async with records.changes(key) as changes:
        while True:
            rec = read the record ...          # subscribed first, then read: no change falls in between
            await changes.wait(1.0)            # the next announcement, or 1 s (then read anyway)

A process holds one pub/sub connection per event loop (`Announcements`), shared by all its waiters: the first
waiter on a channel subscribes, the last one out unsubscribes, and one listener task wakes the waiters of
each message's channel. A connection per wait cost the API more CPU per request (connect, HELLO, SUBSCRIBE,
close) than the rest of a ?wait= recombine together. When the subscription cannot be made or breaks, the
waiters fall back to sleeping a short poll interval; the next `changes` connects again.
"""

from __future__ import annotations

import asyncio
import contextlib

import redis.asyncio as aioredis

POLL_S = 0.05  # without a subscription: how often the record is read
SUBSCRIBED_S = 1.0  # how long a waiter waits for Redis to confirm its subscription before polling instead


class Changes:
    """One waiter's view of one channel: `wait` returns at its next announcement (or the timeout)."""

    def __init__(self, hub: Announcements, channel: str) -> None:
        self.hub, self.channel = hub, channel
        self.subscribed = False
        self._woken = asyncio.Event()

    async def __aenter__(self) -> Changes:
        self.subscribed = await self.hub.attach(self)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.hub.detach(self)

    def wake(self, *, broken: bool = False) -> None:
        if broken:
            self.subscribed = False
        self._woken.set()

    async def wait(self, timeout: float) -> None:
        """Until the next announcement (those that came meanwhile count as one) or `timeout` seconds."""
        timeout = max(0.0, timeout)
        if not self.subscribed:
            await asyncio.sleep(min(timeout, POLL_S))
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), timeout)
        self._woken.clear()


class Announcements:
    """The pub/sub connection of one event loop and the waiters on each of its channels."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url, self.timeout = url, timeout
        self._client: aioredis.Redis | None = None
        self._pubsub: aioredis.client.PubSub | None = None
        self._listener: asyncio.Task | None = None
        self._waiters: dict[str, set[Changes]] = {}
        self._confirmed: dict[str, asyncio.Future] = {}
        self._connecting = asyncio.Lock()

    def changes(self, channel: str) -> Changes:
        return Changes(self, channel)

    async def attach(self, waiter: Changes) -> bool:
        """Add a waiter; subscribe its channel if it is the first. -> whether announcements will reach it."""
        channel = waiter.channel
        self._waiters.setdefault(channel, set()).add(waiter)
        try:
            pubsub = await self._connected()
            confirmed = self._confirmed.get(channel)
            if confirmed is None:
                confirmed = self._confirmed[channel] = asyncio.get_running_loop().create_future()
                await pubsub.subscribe(channel)
            # confirmed: Redis has the subscription, so the record read that follows cannot miss a change
        except Exception:  # Redis unreachable: the caller's record read reports it; poll meanwhile
            await self._reset()
            return False
        try:
            await asyncio.wait_for(asyncio.shield(confirmed), SUBSCRIBED_S)
            return True
        except (TimeoutError, asyncio.CancelledError):  # slow, or the connection broke meanwhile: poll
            if asyncio.current_task().cancelling():
                raise
            return False

    async def detach(self, waiter: Changes) -> None:
        waiters = self._waiters.get(waiter.channel)
        if waiters is None:
            return
        waiters.discard(waiter)
        if not waiters:
            del self._waiters[waiter.channel]
            confirmed = self._confirmed.pop(waiter.channel, None)
            if confirmed is not None and not confirmed.done():
                confirmed.cancel()
            if self._pubsub is not None:
                with contextlib.suppress(Exception):
                    await self._pubsub.unsubscribe(waiter.channel)

    async def _connected(self) -> aioredis.client.PubSub:
        async with self._connecting:
            if self._pubsub is None:
                client = aioredis.Redis.from_url(self.url, decode_responses=True, socket_connect_timeout=self.timeout)
                pubsub = client.pubsub()
                try:
                    await pubsub.connect()
                except Exception:
                    await client.aclose()
                    raise
                self._client, self._pubsub = client, pubsub
                self._listener = asyncio.get_running_loop().create_task(self._listen(pubsub))
            return self._pubsub

    async def _listen(self, pubsub: aioredis.client.PubSub) -> None:
        try:
            while True:
                msg = await pubsub.get_message(timeout=1.0)
                if not msg:
                    continue
                channel = msg.get("channel")
                if msg["type"] == "subscribe":
                    confirmed = self._confirmed.get(channel)
                    if confirmed is not None and not confirmed.done():
                        confirmed.set_result(True)
                elif msg["type"] == "message":
                    for waiter in self._waiters.get(channel, ()):
                        waiter.wake()
        except asyncio.CancelledError:
            raise
        except Exception:  # the connection broke: everyone polls; the next `changes` connects again
            await self._reset()

    async def close(self) -> None:
        await self._reset()

    async def _reset(self) -> None:
        pubsub, client, listener = self._pubsub, self._client, self._listener
        self._pubsub = self._client = self._listener = None
        if listener is not None and listener is not asyncio.current_task():
            listener.cancel()
        for confirmed in self._confirmed.values():
            if not confirmed.done():
                confirmed.cancel()
        self._confirmed.clear()
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.wake(broken=True)
        with contextlib.suppress(Exception):
            if pubsub is not None:
                await pubsub.aclose()
            if client is not None:
                await client.aclose()
