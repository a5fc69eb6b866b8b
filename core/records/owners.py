"""Who may see what: the images and jobs of each owner (an API key's id), idempotency keys, superseded jobs."""

from __future__ import annotations

import time

import redis

from core.records.keys import Keys
from core.records.part import Part
from core.records.scripts import register


class Owners(Part):
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        super().__init__(client, keys)
        self._idempotent = register(client, "idempotent")
        self._supersede = register(client, "supersede")

    def add_image_owner(self, owner: str, image_id: str, filename: str = "") -> None:
        """`owner` uploaded `image_id` under `filename`; the name is the owner's own, never shown to another."""
        pipe = self._r.pipeline(transaction=True)
        pipe.zadd(self.keys.owner_images(owner), {image_id: time.time()})
        pipe.hset(self.keys.owner_names(owner), image_id, filename)
        pipe.sadd(self.keys.owners(self.keys.image(image_id)), owner)
        pipe.execute()

    def image_names(self, owner: str, image_ids: list[str]) -> list[str]:
        return [n or "" for n in self._r.hmget(self.keys.owner_names(owner), image_ids)] if image_ids else []

    def owns_image(self, owner: str, image_id: str) -> bool:
        return self._r.zscore(self.keys.owner_images(owner), image_id) is not None

    def owned_images(self, owner: str, limit: int) -> list[str]:
        return self._r.zrevrange(self.keys.owner_images(owner), 0, limit - 1)

    def add_dataset_owner(self, owner: str, dataset_id: str) -> None:
        self._r.zadd(self.keys.owner_datasets(owner), {dataset_id: time.time()})

    def owns_dataset(self, owner: str, dataset_id: str) -> bool:
        return self._r.zscore(self.keys.owner_datasets(owner), dataset_id) is not None

    def owned_datasets(self, owner: str, limit: int = 1000) -> list[str]:
        """The owner's dataset ids, newest first."""
        return self._r.zrevrange(self.keys.owner_datasets(owner), 0, limit - 1)

    def drop_dataset_owner(self, owner: str, dataset_id: str) -> None:
        self._r.zrem(self.keys.owner_datasets(owner), dataset_id)

    def owned_jobs(self, owner: str, limit: int = 1000) -> list[str]:
        """The owner's job ids, newest first."""
        return self._r.zrevrange(self.keys.owner_jobs(owner), 0, limit - 1)

    # --- Idempotency-Key ---
    def reserve_idempotency(self, owner: str, token: str, body_hash: str, ttl_s: float) -> tuple[str, str]:
        """-> ("new", "") when this request may create; else (the body hash first used with the token, its id)."""
        status, made = self._idempotent(keys=[self.keys.idempotency(owner, token)], args=[body_hash, int(ttl_s * 1000)])
        return status, made

    def complete_idempotency(self, owner: str, token: str, made_id: str) -> None:
        self._r.hset(self.keys.idempotency(owner, token), "id", made_id)

    def release_idempotency(self, owner: str, token: str) -> None:
        self._r.delete(self.keys.idempotency(owner, token))

    def supersede(self, owner: str, token: str, job_id: str) -> str | None:
        """`job_id` is now the job of the owner's `token` (live preview: one per editor); the job the token named
        before is cancelled if it is still queued -> its id, or None."""
        return self._supersede(keys=[self.keys.owner_supersede(owner), self.keys.running, self.keys.webhooks],
                               args=[self.keys.layout, token, job_id, time.time()])
