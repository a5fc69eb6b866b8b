"""The records' side of retention (core.retention sweeps): when each record was last used, and forgetting one."""

from __future__ import annotations

import time

import redis

from core.records.keys import Keys
from core.records.part import Part
from core.records.scripts import register
from core.specs import encode_group


class Retention(Part):
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        super().__init__(client, keys)
        self._forget = register(client, "forget")

    def touch(self, key: str) -> None:
        """`key` (an image, job or batch) was used now: retention counts from here."""
        self._r.zadd(self.keys.used, {key: time.time()})

    def unused_since(self, cutoff: float, limit: int = 500) -> list[str]:
        """Records last used before `cutoff` (oldest first)."""
        return self._r.zrangebyscore(self.keys.used, "-inf", f"({cutoff}", start=0, num=limit)

    def forget(self, key: str, cutoff: float) -> bool:
        """Delete the record `key` (with its owner entries) if it is still unused since `cutoff` and not open."""
        return bool(self._forget(keys=[key, self.keys.used, self.keys.owners(key), self.keys.sbatch(key),
                                       self.keys.hot_result(key)],
                                 args=[self.keys.layout, cutoff, self.keys.id_of(key)]))

    def open_jobs(self) -> list[str]:
        """Keys of every queued or running job."""
        keys = set(self._r.zrange(self.keys.running, 0, -1))
        encodes = self.keys.pending(encode_group(""))
        for pending in self._r.scan_iter(match=self.keys.pending("*"), count=1000):
            if not pending.startswith(encodes):
                keys.update(self._r.zrange(pending, 0, -1))
        return sorted(k for k in keys if self.keys.kind_of(k) == "job")
