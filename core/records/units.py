"""Making units (an image's encoding, a decode job) and batches, and reading the queue by lane."""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from core.records.claims import QUEUED
from core.records.keys import Keys
from core.records.part import Part, as_field
from core.records.scripts import register
from core.specs import ENCODE_LANE, JobSpec, Lane, TrainSpec, encode_group, sampler_group


def lane(field: str) -> Lane:
    """A unit's `lane` field -> its lane. Units written before the lane was stored (every image, and the jobs of
    deployments older than lanes) have none: they were all bulk."""
    return "interactive" if field == "interactive" else "bulk"


class Units(Part):
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        super().__init__(client, keys)
        self._queue_encode = register(client, "queue_encode")
        self._pending_lanes = register(client, "pending_lanes")

    def queue_encode(self, image_id: str, model: str, fingerprint: str, **fields: Any) -> str:
        """Queue the image's encoding in `model` unless it is queued, running or done with the model's weights
        `fingerprint` ('' = whichever) -> "new" when queued now, else its state. Either way the image counts as
        used now. An image is encoded in one model (its record's `model_name`)."""
        key, group = self.keys.image(image_id), encode_group(model)
        args: list[Any] = [fingerprint, time.time(), group, ENCODE_LANE, "model_name", model]
        for k, v in fields.items():
            args += [k, as_field(v)]
        return self._queue_encode(keys=[key, self.keys.pending(group), self.keys.used], args=args)

    def images_in_model(self, model: str, limit: int) -> list[str]:
        """Up to `limit` ids of images encoded in `model` (a scan of every image record: for rare questions)."""
        out: list[str] = []
        keys = list(self._r.scan_iter(match=self.keys.image("*"), count=1000))
        for i in range(0, len(keys), 500):
            pipe = self._r.pipeline(transaction=False)
            for k in keys[i:i + 500]:
                pipe.hget(k, "model_name")
            out += [self.keys.id_of(k) for k, m in zip(keys[i:i + 500], pipe.execute()) if m == model]
            if len(out) >= limit:
                break
        return out[:limit]

    def create_job(self, job_id: str, spec: JobSpec | TrainSpec, **fields: Any) -> str:
        """A queued job running `spec`; `fields` are for people (owner, batch). Kind, steps, sampler and
        frames are copied out of the spec so that the job's JSON can show them without parsing it."""
        key = self.keys.job(job_id)
        now = time.time()
        group = sampler_group(spec)
        shown = {"kind": spec.kind, "steps": spec.steps, "sampler": getattr(spec, "sampler", ""),
                 "frames": getattr(spec, "frames", 1),
                 "lane": spec.lane}
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(key, mapping={**{k: as_field(v) for k, v in {**fields, **shown}.items()}, "id": job_id, "state": QUEUED,
                                "spec": spec.model_dump_json(), "group": group, "done": 0, "total": 0, "created": now})
        pipe.zadd(self.keys.pending(group), {key: now})
        pipe.zadd(self.keys.used, {key: now, **{self.keys.image(i): now for i in spec.image_ids()}})
        if fields.get("owner"):
            pipe.zadd(self.keys.owner_jobs(fields["owner"]), {job_id: now})
        pipe.execute()
        return key

    def create_batch(self, batch_id: str, job_ids: list[str], **fields: Any) -> None:
        key = self.keys.batch(batch_id)
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(key, mapping={**{k: as_field(v) for k, v in fields.items()}, "id": batch_id, "jobs": json.dumps(job_ids),
                                "total": len(job_ids), "cancelled": 0, "created": time.time()})
        pipe.zadd(self.keys.used, {key: time.time()})
        pipe.execute()

    # --- lanes ---
    def lane_of(self, key: str) -> Lane:
        return lane(self.fields(key, "lane")["lane"])

    def pending_groups(self) -> dict[str, float]:
        """Every group with queued units -> when its oldest was queued (unix seconds)."""
        sets = list(self._r.scan_iter(match=self.keys.pending("*"), count=1000))
        pipe = self._r.pipeline(transaction=False)
        for key in sets:
            pipe.zrange(key, 0, 0, withscores=True)
        start = len(self.keys.pending(""))
        return {key[start:]: first[0][1] for key, first in zip(sets, pipe.execute()) if first}

    def _pending(self) -> list[tuple[str, Lane]]:
        """Every pending set with the lane of its units (one group's units share it: core.specs.sampler_group)."""
        sets = list(self._r.scan_iter(match=self.keys.pending("*"), count=1000))
        return list(zip(sets, map(lane, self._pending_lanes(keys=sets)))) if sets else []

    def waiting(self) -> dict[str, int]:
        """Queued units per lane: interactive (edits) and bulk (encodes and batch items)."""
        out = {"interactive": 0, "bulk": 0}
        pending = self._pending()
        pipe = self._r.pipeline(transaction=False)
        for key, _ in pending:
            pipe.zcard(key)
        for (_, unit_lane), n in zip(pending, pipe.execute()):
            out[unit_lane] += n
        return out

    def queue_position(self, rec: dict[str, str]) -> int | None:
        """How many queued units a worker takes before this queued job (None when it is not queued): the
        interactive ones that came earlier; for a bulk job, every interactive one and the earlier bulk ones."""
        if rec.get("state") != QUEUED:
            return None
        created, own = float(rec.get("created") or 0), lane(rec.get("lane", ""))
        pipe = self._r.pipeline(transaction=False)
        for key, other in self._pending():
            if own == "interactive" and other != "interactive":
                continue
            pipe.zcount(key, "-inf", f"({created}" if other == own else "+inf")
        return sum(pipe.execute())
