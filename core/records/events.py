"""Waiting for a unit to change without polling: its announcements on Redis pub/sub (`Keys.events`).

    async with records.changes(key) as changes:
        while True:
            rec = read the record ...          # subscribed first, then read: no change falls in between
            await changes.wait(1.0)            # the next announcement, or 1 s (then read anyway)

When the subscription cannot be made or breaks, `wait` sleeps a short poll interval instead.
"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

POLL_S = 0.05  # without a subscription: how often the record is read


class Changes:
    def __init__(self, url: str, timeout: float, channel: str) -> None:
        self.url, self.timeout, self.channel = url, timeout, channel
        self._client: aioredis.Redis | None = None
        self._pubsub = None

    async def __aenter__(self) -> Changes:
        try:
            self._client = aioredis.Redis.from_url(self.url, decode_responses=True, socket_connect_timeout=self.timeout)
            self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            await self._pubsub.subscribe(self.channel)
        except Exception:  # Redis unreachable: the caller's record read reports it; poll meanwhile
            await self._close()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._close()

    @property
    def subscribed(self) -> bool:
        return self._pubsub is not None

    async def wait(self, timeout: float) -> None:
        """Until the next announcement (those that came meanwhile count as one) or `timeout` seconds."""
        timeout = max(0.0, timeout)
        if self._pubsub is None:
            await asyncio.sleep(min(timeout, POLL_S))
            return
        try:
            if await self._pubsub.get_message(timeout=timeout):
                while await self._pubsub.get_message(timeout=0):
                    pass
        except Exception:  # the subscription broke: poll from now on
            await self._close()

    async def _close(self) -> None:
        pubsub, client, self._pubsub, self._client = self._pubsub, self._client, None, None
        try:
            if pubsub is not None:
                await pubsub.aclose()
            if client is not None:
                await client.aclose()
        except Exception:
            pass
