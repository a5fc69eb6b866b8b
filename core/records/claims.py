"""The claim protocol (see core.records): what workers do with units, and cancelling one."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import redis

from core.records.keys import Keys
from core.records.part import Part, as_field
from core.records.scripts import register

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})


class Claims(Part):
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        super().__init__(client, keys)
        self._claim = register(client, "claim")
        self._progress = register(client, "progress")
        self._finish = register(client, "finish")
        self._cancel = register(client, "cancel")
        self._orphans = register(client, "orphans")

    def claim(self, key: str, worker_id: str, max_units: int, peers: Iterable[str] = ()) -> list[str]:
        """Claim `key` for `worker_id` with up to `max_units - 1` queued units of its group -> the claimed keys
        (`key` first), or [] when `key` is closed or a live worker holds it. `peers`: the other live workers that
        could run the group; of what waits, this worker takes its share among itself and the idle ones."""
        return self._claim(keys=[key, self.keys.running, self.keys.sbatch(key)],
                           args=[self.keys.layout, worker_id, max_units, time.time(), *peers])

    def progress(self, keys: list[str], done: int, total: int) -> list[str]:
        """Record the steps done of the running units among `keys` -> every unit's state."""
        return self._progress(keys=keys, args=[self.keys.layout, done, total]) if keys else []

    def announce(self, key: str, **fields: Any) -> None:
        """Set fields of a unit (e.g. a running decode's x0 estimate) and announce the change on its channel."""
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(key, mapping={k: as_field(v) for k, v in fields.items()})
        pipe.publish(self.keys.events(key), RUNNING)
        pipe.execute()

    def states(self, keys: list[str]) -> list[str]:
        pipe = self._r.pipeline(transaction=False)
        for k in keys:
            pipe.hget(k, "state")
        return [st or "" for st in pipe.execute()]

    def finish(self, key: str, state: str, error: str = "", **fields: Any) -> bool:
        """Close an open unit with `state` (results in `fields`) -> False when it was closed already."""
        args: list[Any] = [self.keys.layout, state, error, time.time()]
        for k, v in fields.items():
            args += [k, as_field(v)]
        return bool(self._finish(keys=[key, self.keys.running, self.keys.webhooks], args=args))

    def cancel(self, key: str) -> str:
        """Cancel a queued or running unit -> its state after (a closed one is left as it is)."""
        return self._cancel(keys=[key, self.keys.running, self.keys.webhooks], args=[self.keys.layout, time.time()])

    def fail_queued(self, group: str, before: float, error: str) -> list[str]:
        """Fail the units of `group` queued before `before` (unix seconds) -> their keys (those still queued)."""
        pending = self.keys.pending(group)
        failed = [k for k in self._r.zrangebyscore(pending, "-inf", f"({before}") if self.finish(k, FAILED, error)]
        self._r.zremrangebyscore(pending, "-inf", f"({before}")
        return failed

    def orphans(self) -> list[str]:
        """Running units whose worker died (its heartbeat expired): their tasks may never come back on their own
        (a task whose acknowledgement failed sits unacknowledged until the visibility timeout)."""
        return self._orphans(keys=[self.keys.running], args=[self.keys.layout])
