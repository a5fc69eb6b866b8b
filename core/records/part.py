"""What every part of the records shares: the Redis client, the key layout, and plain reads and writes of a record."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import redis

from core.records.keys import Keys


class Part:
    """The base of each part (core.records.Records mixes them): one client, its pool shared by all parts."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r, self.keys = client, keys

    # --- keys, for callers that name a unit ---
    def image_key(self, image_id: str) -> str:
        return self.keys.image(image_id)

    def job_key(self, job_id: str) -> str:
        return self.keys.job(job_id)

    def batch_key(self, batch_id: str) -> str:
        return self.keys.batch(batch_id)

    def id_of(self, key: str) -> str:
        return self.keys.id_of(key)

    def kind_of(self, key: str) -> str:
        """"image", "job" or "batch"."""
        return self.keys.kind_of(key)

    def is_image_key(self, key: str) -> bool:
        return self.keys.is_image(key)

    def events_channel(self, key: str) -> str:
        """The pub/sub channel on which every change of the unit `key` is announced (the message: its state)."""
        return self.keys.events(key)

    # --- plain reads and writes ---
    def ping(self) -> bool:
        try:
            return bool(self._r.ping())
        except redis.RedisError:
            return False

    def get(self, key: str) -> dict[str, str] | None:
        return self._r.hgetall(key) or None

    def get_many(self, keys: Iterable[str]) -> list[dict[str, str] | None]:
        pipe = self._r.pipeline(transaction=False)
        for k in keys:
            pipe.hgetall(k)
        return [d or None for d in pipe.execute()]

    def fields(self, key: str, *names: str) -> dict[str, str]:
        """Some fields of a record ("" for those it lacks)."""
        return {n: v or "" for n, v in zip(names, self._r.hmget(key, names))}

    def many_fields(self, keys: Iterable[str], *names: str) -> list[dict[str, str]]:
        """`fields` of each record, in one round trip."""
        pipe = self._r.pipeline(transaction=False)
        for k in keys:
            pipe.hmget(k, names)
        return [{n: v or "" for n, v in zip(names, values)} for values in pipe.execute()]

    def set_fields(self, key: str, **fields: Any) -> None:
        self._r.hset(key, mapping={k: as_field(v) for k, v in fields.items()})

    def drop_fields(self, key: str, *names: str) -> None:
        self._r.hdel(key, *names)

    def lengths(self, lists: Iterable[str]) -> list[int]:
        """Lengths of Redis lists (Celery's queue lists: core.queue.queue_lists), in one round trip."""
        pipe = self._r.pipeline(transaction=False)
        for key in lists:
            pipe.llen(key)
        return [int(n) for n in pipe.execute()]


def as_field(v: Any) -> str | int | float:
    """A value as a hash field holds it: numbers and strings as they are, a bool as 0/1, None as "", else JSON."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float, str)):
        return v
    if v is None:
        return ""
    return json.dumps(v)
