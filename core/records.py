"""Job, image and batch records in Redis, shared by the API and the workers (no HTTP, no tensors).

One unit of work is a Redis hash: an image's encoding (`image:<sha256>`) or a decode job
(`job:<id>`, a recombination or an interpolation). Fields every one has:

    state     queued | running | succeeded | failed | cancelled
    group     what can share a sampler batch (core.specs.sampler_group): "encode" or "decode:<steps>:<sampler>"
    done, total  sampler steps
    claimant  id of the worker process running it; leader: key of the unit whose task ran it
    error     a message for people when failed

A job or batch whose request named a callback_url has `callback` (the URL) and, once it ended, `webhook` (its
delivery's status as JSON; see `_ENDED` and core.webhooks).

A job's `spec` field is its typed spec (core.specs) as JSON. Queued units also sit in
`pending:<group>` (a sorted set by arrival). The API writes the record, then sends a Celery task
naming the unit (core.queue). The task *claims* its unit and, in the same atomic
step, up to `max_sampler_batch - 1` other pending units of its group (merging requests that
arrived together); the tasks of units claimed that way find them taken and return. A claim is
only honoured while its worker's heartbeat key lives, so when a worker dies (SIGKILL) its
redelivered task, or any task naming one of its units, claims them again and redoes them. Running units
are indexed in `running`; `orphans()` lists those whose worker is dead, so that a live worker can send
their tasks again (a restarted worker does this instead of waiting for Celery's visibility timeout).
Results are written before the state flips, and a finished (or cancelled) unit is never reopened:
re-running a task is harmless.

Every change of a unit's state or progress is also announced on the pub/sub channel `<key>:events`
(`events_channel`; the message is the new state), in the same script that makes it, so that the API's
event streams wait for a message instead of polling. A message carries no data: a listener reads the record.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterable
from typing import Any

import redis

from core.specs import ENCODE_GROUP, JobSpec, sampler_group

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})

_CLAIMABLE = """
local function claimable(key, me, hbp)
  local st = redis.call('HGET', key, 'state')
  if st == 'queued' then return true end
  if st == 'running' then
    local c = redis.call('HGET', key, 'claimant')
    if (not c) or c == '' or c == me or redis.call('EXISTS', hbp .. c) == 0 then return true end
  end
  return false
end
"""

# KEYS[1] the unit; ARGV: me, key prefix, max units, now. -> the claimed keys (the unit first) or {}.
_CLAIM = _CLAIMABLE + """
local me, prefix, maxn, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local hbp = prefix .. 'hb:'
local unit = KEYS[1]
if not claimable(unit, me, hbp) then return {} end
local pending = prefix .. 'pending:' .. (redis.call('HGET', unit, 'group') or '')
local sbatch = prefix .. 'sbatch:' .. unit
local function claim(key)
  redis.call('ZREM', pending, key)
  redis.call('ZADD', prefix .. 'running', now, key)
  redis.call('HSET', key, 'state', 'running', 'claimant', me, 'leader', unit, 'started', now)
  redis.call('PUBLISH', key .. ':events', 'running')
end
claim(unit)
local out = {unit}
-- units an earlier run of this same task had claimed, if their worker died with them
for _, k in ipairs(redis.call('SMEMBERS', sbatch)) do
  if k ~= unit and redis.call('HGET', k, 'leader') == unit and claimable(k, me, hbp) then
    claim(k)
    table.insert(out, k)
  end
end
-- requests of the same group that are waiting: one sampler batch
while #out < maxn do
  local nxt = redis.call('ZRANGE', pending, 0, 0)
  if #nxt == 0 then break end
  redis.call('ZREM', pending, nxt[1])
  if claimable(nxt[1], me, hbp) then
    claim(nxt[1])
    table.insert(out, nxt[1])
  end
end
redis.call('DEL', sbatch)
redis.call('SADD', sbatch, unpack(out))
redis.call('EXPIRE', sbatch, 86400)
return out
"""

# KEYS: units; ARGV: done, total. Records progress of the running ones -> every unit's state.
_PROGRESS = """
local out = {}
for i, k in ipairs(KEYS) do
  local st = redis.call('HGET', k, 'state')
  if st == 'running' then
    redis.call('HSET', k, 'done', ARGV[1], 'total', ARGV[2])
    redis.call('PUBLISH', k .. ':events', 'running')
  end
  out[i] = st or ''
end
return out
"""

# A unit that closes may owe a webhook (core.webhooks): its own when it names a callback, and its batch's when
# it is the batch's last open item. `ended` queues each at most once (the `webhook` field is set once) in the
# `webhooks` sorted set, scored by when it is due; the API's sender (backend.api.webhooks) delivers it. A batch
# counts its ended items (`ended`) only once it has a callback; `arm_batch_webhook` counts those that ended before.
_ENDED = """
local function queue_webhook(key, prefix, now)
  if redis.call('HSETNX', key, 'webhook', '{"state": "pending", "attempts": 0}') == 1 then
    redis.call('ZADD', prefix .. 'webhooks', now, key)
  end
end
local function ended(key, prefix, now)
  local cb = redis.call('HGET', key, 'callback')
  if cb and cb ~= '' then queue_webhook(key, prefix, now) end
  local batch = redis.call('HGET', key, 'batch')
  if batch and batch ~= '' then
    local b = prefix .. 'batch:' .. batch
    if redis.call('HEXISTS', b, 'callback') == 1 then
      local n = redis.call('HINCRBY', b, 'ended', 1)
      if n >= tonumber(redis.call('HGET', b, 'total') or '0') then queue_webhook(b, prefix, now) end
    end
  end
end
"""

# KEYS[1] unit, KEYS[2] the running index; ARGV: new state, error, now, key prefix, then field/value pairs.
# Only an open unit is closed.
_FINISH = _ENDED + """
local st = redis.call('HGET', KEYS[1], 'state')
if st ~= 'queued' and st ~= 'running' then return 0 end
redis.call('ZREM', KEYS[2], KEYS[1])
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'error', ARGV[2], 'finished', ARGV[3])
if ARGV[1] == 'succeeded' then
  local total = redis.call('HGET', KEYS[1], 'total')
  if total then redis.call('HSET', KEYS[1], 'done', total) end
end
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
ended(KEYS[1], ARGV[4], ARGV[3])
redis.call('PUBLISH', KEYS[1] .. ':events', ARGV[1])
return 1
"""

_CANCEL_UNIT = _ENDED + """
local function cancel_unit(key, prefix, now)
  local group = redis.call('HGET', key, 'group') or ''
  redis.call('ZREM', prefix .. 'pending:' .. group, key)
  redis.call('ZREM', prefix .. 'running', key)
  redis.call('HSET', key, 'state', 'cancelled', 'finished', now)
  ended(key, prefix, now)
  redis.call('PUBLISH', key .. ':events', 'cancelled')
end
"""

# KEYS[1] unit; ARGV: key prefix, now. -> the state after.
_CANCEL = _CANCEL_UNIT + """
local st = redis.call('HGET', KEYS[1], 'state')
if st == 'queued' or st == 'running' then
  cancel_unit(KEYS[1], ARGV[1], ARGV[2])
  return 'cancelled'
end
return st or ''
"""

# KEYS[1] the owner's supersede hash (key -> the job submitted last with it); ARGV: key prefix, the client's key,
# the new job's id, now. The job the key named before is cancelled if it is still queued (a running one finishes:
# its worker is at it already). -> the id of the job cancelled, or false.
_SUPERSEDE = _CANCEL_UNIT + """
local old = redis.call('HGET', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], 86400)
if not old or old == ARGV[3] then return false end
local key = ARGV[1] .. 'job:' .. old
if redis.call('HGET', key, 'state') ~= 'queued' then return false end
redis.call('HSET', key, 'error', 'superseded by job ' .. ARGV[3])
cancel_unit(key, ARGV[1], ARGV[4])
return old
"""

# KEYS[1] a batch; ARGV: key prefix, callback URL, now. Gives the batch its callback and counts its items that
# ended already; when that is all of them, its webhook is queued now (else by its last item's `ended`).
_ARM_BATCH = _ENDED + """
local p, b = ARGV[1], KEYS[1]
redis.call('HSET', b, 'callback', ARGV[2])
local n = 0
for _, j in ipairs(cjson.decode(redis.call('HGET', b, 'jobs') or '[]')) do
  local st = redis.call('HGET', p .. 'job:' .. j, 'state')
  if st ~= 'queued' and st ~= 'running' then n = n + 1 end
end
redis.call('HSET', b, 'ended', n)
if n >= tonumber(redis.call('HGET', b, 'total') or '0') then queue_webhook(b, p, ARGV[3]) end
return n
"""

# KEYS[1] the webhooks set; ARGV: now, lease. -> the key of the earliest due delivery, now leased to the caller
# (due again after `lease` seconds, so a sender that dies mid-delivery leaves it to another), or false.
_CLAIM_WEBHOOK = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #due == 0 then return false end
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), due[1])
return due[1]
"""

# KEYS[1] the webhooks set, KEYS[2] the record; ARGV: delivery status JSON, when it is due again ('' = never).
# A record deleted meanwhile (retention) is not written back.
_WEBHOOK_RESULT = """
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HSET', KEYS[2], 'webhook', ARGV[1]) end
if ARGV[2] == '' or redis.call('EXISTS', KEYS[2]) == 0 then redis.call('ZREM', KEYS[1], KEYS[2])
else redis.call('ZADD', KEYS[1], ARGV[2], KEYS[2]) end
return 1
"""

# KEYS[1] image; ARGV: key prefix, model fingerprint ('' = unknown), now, then field/value pairs.
# -> 'new' when (re)queued now, else the current state. A failed encoding, or one made with
# another model, is queued again; a queued or running one is left alone.
_QUEUE_ENCODE = """
local st = redis.call('HGET', KEYS[1], 'state')
local stale = st == 'succeeded' and ARGV[2] ~= '' and redis.call('HGET', KEYS[1], 'model') ~= ARGV[2]
if st == 'queued' or st == 'running' or (st == 'succeeded' and not stale) then return st end
redis.call('HDEL', KEYS[1], 'chunks', 'error', 'claimant', 'leader')
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'state', 'queued', 'group', '@ENCODE_GROUP@', 'done', 0, 'total', 0, 'queued_at', ARGV[3])
redis.call('ZADD', ARGV[1] .. 'pending:@ENCODE_GROUP@', ARGV[3], KEYS[1])
return 'new'
""".replace("@ENCODE_GROUP@", ENCODE_GROUP)


# KEYS[1] a record; ARGV: key prefix, cutoff. Deletes it when it was last used before the cutoff and is not
# open (an image: no open job uses it, as every job touches its images when made). -> 1 when deleted.
_FORGET = """
local p, cutoff, key = ARGV[1], tonumber(ARGV[2]), KEYS[1]
local used = redis.call('ZSCORE', p .. 'used', key)
if used and tonumber(used) >= cutoff then return 0 end
local st = redis.call('HGET', key, 'state')
if st == 'queued' or st == 'running' then return 0 end
redis.call('ZREM', p .. 'used', key)
local owners = p .. 'owners:' .. key
for _, o in ipairs(redis.call('SMEMBERS', owners)) do
  redis.call('ZREM', p .. 'owner:' .. o .. ':images', string.match(key, '[^:]+$'))
  redis.call('HDEL', p .. 'owner:' .. o .. ':names', string.match(key, '[^:]+$'))
end
local owner = redis.call('HGET', key, 'owner')
if owner then redis.call('ZREM', p .. 'owner:' .. owner .. ':jobs', string.match(key, '[^:]+$')) end
redis.call('DEL', key, owners, p .. 'sbatch:' .. key)
return 1
"""

# KEYS[1] an idempotency key; ARGV: body hash, ttl in ms. -> {'new', ''} when this call reserved it, else
# {the body hash it was reserved with, the id it produced ('' while the first call is still making it)}.
_IDEMPOTENT = """
local cur = redis.call('HGET', KEYS[1], 'body')
if not cur then
  redis.call('HSET', KEYS[1], 'body', ARGV[1], 'id', '')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'new', ''}
end
return {cur, redis.call('HGET', KEYS[1], 'id') or ''}
"""

# ARGV: key prefix. Units claimed by a worker whose heartbeat is gone -> their keys; index entries of
# units no longer running are dropped on the way.
_ORPHANS = """
local out = {}
for _, k in ipairs(redis.call('ZRANGE', ARGV[1] .. 'running', 0, -1)) do
  if redis.call('HGET', k, 'state') ~= 'running' then
    redis.call('ZREM', ARGV[1] .. 'running', k)
  else
    local c = redis.call('HGET', k, 'claimant')
    if (not c) or c == '' or redis.call('EXISTS', ARGV[1] .. 'hb:' .. c) == 0 then table.insert(out, k) end
  end
end
return out
"""


class Records:
    """Typed access to the records; one instance per process (the client pools connections)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r, self.p = client, prefix
        self._claim = client.register_script(_CLAIM)
        self._progress = client.register_script(_PROGRESS)
        self._finish = client.register_script(_FINISH)
        self._cancel = client.register_script(_CANCEL)
        self._supersede = client.register_script(_SUPERSEDE)
        self._queue_encode = client.register_script(_QUEUE_ENCODE)
        self._orphans = client.register_script(_ORPHANS)
        self._forget = client.register_script(_FORGET)
        self._idempotent = client.register_script(_IDEMPOTENT)
        self._arm_batch = client.register_script(_ARM_BATCH)
        self._claim_webhook = client.register_script(_CLAIM_WEBHOOK)
        self._webhook_result = client.register_script(_WEBHOOK_RESULT)

    @classmethod
    def connect(cls, url: str, prefix: str, timeout: float = 2.0) -> Records:
        client = redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=timeout,
                                      socket_timeout=max(timeout, 5.0), health_check_interval=10)
        return cls(client, prefix)

    # --- keys ---
    def image_key(self, image_id: str) -> str:
        return f"{self.p}image:{image_id}"

    def job_key(self, job_id: str) -> str:
        return f"{self.p}job:{job_id}"

    def batch_key(self, batch_id: str) -> str:
        return f"{self.p}batch:{batch_id}"

    def id_of(self, key: str) -> str:
        return key.rsplit(":", 1)[1]

    def shared_secret(self, name: str) -> str:
        """A random secret every process of this deployment agrees on: made by the first to ask, kept in Redis."""
        key = f"{self.p}secret:{name}"
        pipe = self.r.pipeline()
        pipe.set(key, secrets.token_hex(32), nx=True)
        pipe.get(key)
        return pipe.execute()[1]

    def close(self) -> None:
        self.r.close()

    def fields(self, key: str, *names: str) -> dict[str, str]:
        """Some fields of a record ("" for those it lacks)."""
        return {n: v or "" for n, v in zip(names, self.r.hmget(key, names))}

    def ping(self) -> bool:
        try:
            return bool(self.r.ping())
        except redis.RedisError:
            return False

    def get(self, key: str) -> dict[str, str] | None:
        return self.r.hgetall(key) or None

    def get_many(self, keys: Iterable[str]) -> list[dict[str, str] | None]:
        pipe = self.r.pipeline(transaction=False)
        for k in keys:
            pipe.hgetall(k)
        return [d or None for d in pipe.execute()]

    def set_fields(self, key: str, **fields: Any) -> None:
        self.r.hset(key, mapping={k: _str(v) for k, v in fields.items()})

    # --- images ---
    def queue_encode(self, image_id: str, model: str, **fields: Any) -> str:
        args: list[Any] = [self.p, model, time.time()]
        for k, v in fields.items():
            args += [k, _str(v)]
        self.touch(self.image_key(image_id))
        return self._queue_encode(keys=[self.image_key(image_id)], args=args)

    def add_image_owner(self, owner: str, image_id: str, filename: str = "") -> None:
        """`owner` uploaded `image_id` under `filename`; the name is the owner's own, never shown to another."""
        pipe = self.r.pipeline(transaction=True)
        pipe.zadd(f"{self.p}owner:{owner}:images", {image_id: time.time()})
        pipe.hset(f"{self.p}owner:{owner}:names", image_id, filename)
        pipe.sadd(f"{self.p}owners:{self.image_key(image_id)}", owner)
        pipe.execute()

    def image_names(self, owner: str, image_ids: list[str]) -> list[str]:
        return [n or "" for n in self.r.hmget(f"{self.p}owner:{owner}:names", image_ids)] if image_ids else []

    def owns_image(self, owner: str, image_id: str) -> bool:
        return self.r.zscore(f"{self.p}owner:{owner}:images", image_id) is not None

    def owned_images(self, owner: str, limit: int) -> list[str]:
        return self.r.zrevrange(f"{self.p}owner:{owner}:images", 0, limit - 1)

    # --- jobs and batches ---
    def create_job(self, job_id: str, spec: JobSpec, **fields: Any) -> str:
        """A queued job running `spec`; `fields` are for people (owner, batch). Kind, steps, sampler and
        frames are copied out of the spec so that the job's JSON can show them without parsing it."""
        key = self.job_key(job_id)
        now = time.time()
        group = sampler_group(spec)
        shown = {"kind": spec.kind, "steps": spec.steps, "sampler": spec.sampler, "frames": getattr(spec, "frames", 1),
                 "lane": spec.lane}
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(key, mapping={**{k: _str(v) for k, v in {**fields, **shown}.items()}, "id": job_id, "state": QUEUED,
                                "spec": spec.model_dump_json(), "group": group, "done": 0, "total": 0, "created": now})
        pipe.zadd(f"{self.p}pending:{group}", {key: now})
        pipe.zadd(f"{self.p}used", {key: now, **{self.image_key(i): now for i in spec.image_ids()}})
        if fields.get("owner"):
            pipe.zadd(f"{self.p}owner:{fields['owner']}:jobs", {job_id: now})
        pipe.execute()
        return key

    def owned_jobs(self, owner: str, limit: int = 1000) -> list[str]:
        """The owner's job ids, newest first."""
        return self.r.zrevrange(f"{self.p}owner:{owner}:jobs", 0, limit - 1)

    def waiting(self) -> dict[str, int]:
        """Queued units per lane: interactive (edits) and bulk (encodes and batch items)."""
        out = {"interactive": 0, "bulk": 0}
        for pending in self.r.scan_iter(match=f"{self.p}pending:*", count=1000):
            lane = "interactive" if pending.startswith(f"{self.p}pending:decode:interactive:") else "bulk"
            out[lane] += self.r.zcard(pending)
        return out

    def queue_position(self, rec: dict[str, str]) -> int | None:
        """How many queued units a worker takes before this queued job (None when it is not queued): the
        interactive ones that came earlier; for a bulk job, every interactive one and the earlier bulk ones."""
        if rec.get("state") != QUEUED:
            return None
        created, interactive = float(rec.get("created") or 0), rec.get("lane") == "interactive"
        ahead = 0
        for pending in self.r.scan_iter(match=f"{self.p}pending:*", count=1000):
            other_interactive = pending.startswith(f"{self.p}pending:decode:interactive:")
            if interactive and not other_interactive:
                continue
            upto = f"({created}" if other_interactive == interactive else "+inf"
            ahead += self.r.zcount(pending, "-inf", upto)
        return ahead

    def reserve_idempotency(self, owner: str, token: str, body_hash: str, ttl_s: float) -> tuple[str, str]:
        """-> ("new", "") when this request may create; else (the body hash first used with the token, its id)."""
        key = f"{self.p}idem:{owner}:{token}"
        status, made = self._idempotent(keys=[key], args=[body_hash, int(ttl_s * 1000)])
        return status, made

    def complete_idempotency(self, owner: str, token: str, made_id: str) -> None:
        self.r.hset(f"{self.p}idem:{owner}:{token}", "id", made_id)

    def release_idempotency(self, owner: str, token: str) -> None:
        self.r.delete(f"{self.p}idem:{owner}:{token}")

    def cancel(self, key: str) -> str:
        return self._cancel(keys=[key], args=[self.p, time.time()])

    def supersede(self, owner: str, token: str, job_id: str) -> str | None:
        """`job_id` is now the job of the owner's `token` (live preview: one per editor); the job the token named
        before is cancelled if it is still queued -> its id, or None."""
        return self._supersede(keys=[f"{self.p}owner:{owner}:supersede"], args=[self.p, token, job_id, time.time()])

    @staticmethod
    def events_channel(key: str) -> str:
        """The pub/sub channel on which every change of the unit `key` is announced (the message: its state)."""
        return f"{key}:events"

    def announce(self, key: str, **fields: Any) -> None:
        """Set fields of a unit (e.g. a running decode's x0 estimate) and announce the change on its channel."""
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(key, mapping={k: _str(v) for k, v in fields.items()})
        pipe.publish(self.events_channel(key), "running")
        pipe.execute()

    def create_batch(self, batch_id: str, job_ids: list[str], **fields: Any) -> None:
        key = self.batch_key(batch_id)
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(key, mapping={**{k: _str(v) for k, v in fields.items()}, "id": batch_id, "jobs": json.dumps(job_ids),
                                "total": len(job_ids), "cancelled": 0, "created": time.time()})
        pipe.zadd(f"{self.p}used", {key: time.time()})
        pipe.execute()

    # --- webhooks (core.webhooks; queued by `_ENDED` when a job or batch ends) ---
    def arm_batch_webhook(self, batch_id: str, callback: str) -> None:
        """POST the batch's JSON to `callback` once its last item ends (at once if they all have)."""
        self._arm_batch(keys=[self.batch_key(batch_id)], args=[self.p, callback, time.time()])

    def claim_webhook(self, lease_s: float) -> str | None:
        """The key of a job or batch whose webhook is due, leased to the caller for `lease_s`; None when none is due."""
        return self._claim_webhook(keys=[f"{self.p}webhooks"], args=[time.time(), lease_s])

    def webhook_result(self, key: str, status: dict[str, Any], retry_at: float | None) -> None:
        """Record a delivery attempt's outcome on the record; due again at `retry_at`, or done when None."""
        self._webhook_result(keys=[f"{self.p}webhooks", key], args=[json.dumps(status), "" if retry_at is None else retry_at])

    # --- retention ---
    def touch(self, key: str) -> None:
        """`key` (an image, job or batch) was used now: retention counts from here."""
        self.r.zadd(f"{self.p}used", {key: time.time()})

    def unused_since(self, cutoff: float, limit: int = 500) -> list[str]:
        """Records last used before `cutoff` (oldest first)."""
        return self.r.zrangebyscore(f"{self.p}used", "-inf", f"({cutoff}", start=0, num=limit)

    def forget(self, key: str, cutoff: float) -> bool:
        """Delete the record `key` (with its owner entries) if it is still unused since `cutoff` and not open."""
        return bool(self._forget(keys=[key], args=[self.p, cutoff]))

    def open_jobs(self) -> list[str]:
        """Keys of every queued or running job."""
        keys = set(self.r.zrange(f"{self.p}running", 0, -1))
        for pending in self.r.scan_iter(match=f"{self.p}pending:decode:*", count=1000):
            keys.update(self.r.zrange(pending, 0, -1))
        return sorted(k for k in keys if self.kind_of(k) == "job")

    def kind_of(self, key: str) -> str:
        """"image", "job" or "batch"."""
        return key[len(self.p):].split(":", 1)[0]

    # --- what workers do ---
    def claim(self, key: str, worker_id: str, max_units: int) -> list[str]:
        return self._claim(keys=[key], args=[worker_id, self.p, max_units, time.time()])

    def progress(self, keys: list[str], done: int, total: int) -> list[str]:
        return self._progress(keys=keys, args=[done, total]) if keys else []

    def states(self, keys: list[str]) -> list[str]:
        pipe = self.r.pipeline(transaction=False)
        for k in keys:
            pipe.hget(k, "state")
        return [st or "" for st in pipe.execute()]

    def finish(self, key: str, state: str, error: str = "", **fields: Any) -> bool:
        args: list[Any] = [state, error, time.time(), self.p]
        for k, v in fields.items():
            args += [k, _str(v)]
        return bool(self._finish(keys=[key, f"{self.p}running"], args=args))

    def orphans(self) -> list[str]:
        """Running units whose worker died (its heartbeat expired): their tasks may never come back on their own
        (a task whose acknowledgement failed sits unacknowledged until the visibility timeout)."""
        return self._orphans(keys=[], args=[self.p])

    def is_image_key(self, key: str) -> bool:
        return key.startswith(f"{self.p}image:")

    def heartbeat(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        pipe = self.r.pipeline(transaction=False)
        pipe.set(f"{self.p}hb:{worker_id}", json.dumps(info), px=int(ttl * 1000))
        pipe.zadd(f"{self.p}workers", {worker_id: time.time() + ttl})  # score: when it counts as dead
        pipe.execute()

    def drop_heartbeat(self, worker_id: str) -> None:
        pipe = self.r.pipeline(transaction=False)
        pipe.delete(f"{self.p}hb:{worker_id}")
        pipe.zrem(f"{self.p}workers", worker_id)
        pipe.execute()

    def workers(self) -> list[dict[str, Any]]:
        """Live workers (their heartbeat info)."""
        self.r.zremrangebyscore(f"{self.p}workers", "-inf", time.time())
        ids = self.r.zrange(f"{self.p}workers", 0, -1)
        values = self.r.mget([f"{self.p}hb:{i}" for i in ids]) if ids else []
        return [json.loads(v) for v in values if v]

    def publish_model(self, info: dict[str, Any]) -> None:
        self.r.set(f"{self.p}model", json.dumps(info))

    def model(self) -> dict[str, Any] | None:
        raw = self.r.get(f"{self.p}model")
        return json.loads(raw) if raw else None

    def publish_examples(self, pngs: list[bytes]) -> None:
        """A few images the loaded model knows (PNG bytes), for `GET /api/model/examples/{i}.png`."""
        self.r.set(f"{self.p}model:examples", json.dumps([base64.b64encode(p).decode() for p in pngs]))

    def model_example(self, index: int) -> bytes | None:
        raw = self.r.get(f"{self.p}model:examples")
        pngs = json.loads(raw) if raw else []
        return base64.b64decode(pngs[index]) if 0 <= index < len(pngs) else None


def _str(v: Any) -> str | int | float:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float, str)):
        return v
    if v is None:
        return ""
    return json.dumps(v)
