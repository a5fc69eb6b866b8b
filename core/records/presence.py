"""What the processes of a deployment publish for each other: worker heartbeats, the registry of models, shared secrets."""

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

    def publish_models(self, entries: dict[str, str], gone: set[str] = frozenset()) -> None:
        """Registry entries (name -> core.models.ModelEntry JSON) as a worker read them; `gone`: names it no
        longer finds (removed models)."""
        pipe = self._r.pipeline(transaction=True)
        if entries:
            pipe.hset(self.keys.models, mapping=entries)
        for name in gone:
            pipe.hdel(self.keys.models, name)
            pipe.delete(self.keys.model_files(name))
        pipe.execute()

    def models(self) -> dict[str, str]:
        """Every published registry entry: name -> JSON."""
        return self._r.hgetall(self.keys.models)

    def drop_model(self, name: str) -> None:
        self.publish_models({}, {name})

    def model_files_fingerprint(self, name: str) -> str:
        """The fingerprint of the folder a model's published files were read from ("" when none are)."""
        return self._r.hget(self.keys.model_files(name), "fingerprint") or ""

    def publish_model_files(self, name: str, fingerprint: str, files: dict[str, bytes]) -> None:
        """A model's examples, figures and card (relative path -> bytes), replacing what was there."""
        key = self.keys.model_files(name)
        pipe = self._r.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, mapping={"fingerprint": fingerprint,
                                **{f"file:{p}": base64.b64encode(b).decode() for p, b in files.items()}})
        pipe.execute()

    def model_file(self, name: str, path: str) -> bytes | None:
        raw = self._r.hget(self.keys.model_files(name), f"file:{path}")
        return base64.b64decode(raw) if raw else None

    def shared_secret(self, name: str) -> str:
        """A random secret every process of this deployment agrees on: made by the first to ask, kept in Redis."""
        key = self.keys.secret(name)
        pipe = self._r.pipeline()
        pipe.set(key, secrets.token_hex(32), nx=True)
        pipe.get(key)
        return pipe.execute()[1]
