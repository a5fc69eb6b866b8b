"""What the processes of a deployment publish for each other: worker heartbeats, the loaded model, shared secrets."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

from core.records.part import Part


class Presence(Part):
    def heartbeat(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        """`worker_id` lives for `ttl` more seconds (its claims are honoured while it does)."""
        pipe = self._r.pipeline(transaction=False)
        pipe.set(self.keys.hb(worker_id), json.dumps(info), px=int(ttl * 1000))
        pipe.zadd(self.keys.workers, {worker_id: time.time() + ttl})  # score: when it counts as dead
        pipe.execute()

    def drop_heartbeat(self, worker_id: str) -> None:
        pipe = self._r.pipeline(transaction=False)
        pipe.delete(self.keys.hb(worker_id))
        pipe.zrem(self.keys.workers, worker_id)
        pipe.execute()

    def workers(self) -> list[dict[str, Any]]:
        """Live workers (their heartbeat info)."""
        self._r.zremrangebyscore(self.keys.workers, "-inf", time.time())
        ids = self._r.zrange(self.keys.workers, 0, -1)
        values = self._r.mget([self.keys.hb(i) for i in ids]) if ids else []
        return [json.loads(v) for v in values if v]

    def publish_model(self, info: dict[str, Any]) -> None:
        self._r.set(self.keys.model, json.dumps(info))

    def model(self) -> dict[str, Any] | None:
        raw = self._r.get(self.keys.model)
        return json.loads(raw) if raw else None

    def publish_examples(self, pngs: list[bytes]) -> None:
        """A few images the loaded model knows (PNG bytes), for `GET /api/model/examples/{i}.png`."""
        self._r.set(self.keys.examples, json.dumps([base64.b64encode(p).decode() for p in pngs]))

    def model_example(self, index: int) -> bytes | None:
        raw = self._r.get(self.keys.examples)
        pngs = json.loads(raw) if raw else []
        return base64.b64decode(pngs[index]) if 0 <= index < len(pngs) else None

    def shared_secret(self, name: str) -> str:
        """A random secret every process of this deployment agrees on: made by the first to ask, kept in Redis."""
        key = self.keys.secret(name)
        pipe = self._r.pipeline()
        pipe.set(key, secrets.token_hex(32), nx=True)
        pipe.get(key)
        return pipe.execute()[1]
