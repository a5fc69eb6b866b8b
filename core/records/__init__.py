"""Job, image and batch records in Redis, shared by the API and the workers (no HTTP, no tensors).

One unit of work is a Redis hash: an image's encoding (`image:<sha256>`) or a decode job
(`job:<id>`, a recombination or an interpolation). Fields every one has:

    state     queued | running | succeeded | failed | cancelled
    group     what can share a sampler batch, never two models: "encode:<model>" or
              "decode:<model>:<lane>:<steps>:<sampler>" (core.specs)
    lane      interactive | bulk (core.specs.Lane; every encode is bulk): the batch size a worker claims with,
              read from this field, never out of the group (units written before it was stored were all bulk)
    done, total  sampler steps
    claimant  id of the worker process running it; leader: key of the unit whose task ran it
    error     a message for people when failed

An image's record also names the registered model it is encoded in (`model_name`; one model per image,
core.specs) and, once encoded, that model's fingerprint (`model`): latents of another fingerprint are redone.

A job or batch whose request named a callback_url has `callback` (the URL) and, once it ended, `webhook` (its
delivery's status as JSON; see lua/ended.lua and core.webhooks).

A job's `spec` field is its typed spec (core.specs) as JSON. Queued units also sit in
`pending:<group>` (a sorted set by arrival). The API writes the record, then sends a Celery task
naming the unit (core.queue). The task *claims* its unit and, in the same atomic
step, up to `max_sampler_batch - 1` other pending units of its group (merging requests that
arrived together); the tasks of units claimed that way find them taken and return. A claim is
only honoured while its worker's heartbeat key (`hb:<worker>`) lives, so when a worker dies (SIGKILL) its
redelivered task, or any task naming one of its units, claims them again and redoes them (`sbatch:<unit key>`
remembers which units a task claimed together). Running units are indexed in `running`; `orphans()` lists
those whose worker is dead, so that a live worker can send their tasks again (a restarted worker does this
instead of waiting for Celery's visibility timeout). Results are written before the state flips, and a
finished (or cancelled) unit is never reopened: re-running a task is harmless.

Every change of a unit's state or progress is also announced on the pub/sub channel `<key>:events`
(`Keys.events`; the message is the new state), in the same script that makes it, so that the API's
event streams wait for a message instead of polling (`Records.changes`, core.records.events). A message
carries no data: a listener reads the record.

The package, by concern:

    keys.py       every key's name, written once (`Keys`); the Lua gets the names from it, never the prefix
    lua/          the scripts, one file each; scripts.py sends each with the files it includes
    part.py       what the parts share: the client, the keys, plain reads and writes of a record
    units.py      making units and batches; lanes and the queue's length and order
    claims.py     the claim protocol: claim, progress, finish, cancel, orphans; the states
    owners.py     ownership, Idempotency-Key, superseded jobs
    outbox.py     the webhook outbox
    presence.py   heartbeats, the published registry of models, shared secrets
    retention.py  last use of each record, forgetting one
    hot.py        a just-finished job's result, for a minute, so that a waiting client need not ask the store
    events.py     waiting on a unit's announcements (async)

`Records` mixes the parts into the one object a process holds, so a caller writes `records.finish(...)` and
no part's signature is written twice; each part is a class of its own that needs only a client and `Keys`.
No code outside this package touches the Redis client.
"""

from __future__ import annotations

import asyncio
import weakref

import redis

from core.records.claims import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, TERMINAL, Claims
from core.records.events import Announcements, Changes
from core.records.hot import HotResults
from core.records.keys import Keys
from core.records.outbox import Outbox
from core.records.owners import Owners
from core.records.presence import Presence
from core.records.retention import Retention
from core.records.units import Units

__all__ = ["CANCELLED", "FAILED", "QUEUED", "RUNNING", "SUCCEEDED", "TERMINAL", "Changes", "Keys", "Records"]


class Records(Units, Claims, Owners, Outbox, Presence, Retention, HotResults):
    """Typed access to the records; one instance per process (the client pools connections)."""

    def __init__(self, client: redis.Redis, prefix: str, url: str = "", timeout: float = 2.0) -> None:
        super().__init__(client, Keys(prefix))
        self._url, self._timeout = url, timeout  # for the asyncio client of `changes`
        self._announcements: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Announcements] = \
            weakref.WeakKeyDictionary()  # one pub/sub connection per event loop

    @classmethod
    def connect(cls, url: str, prefix: str, timeout: float = 2.0) -> Records:
        client = redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=timeout,
                                      socket_timeout=max(timeout, 5.0), health_check_interval=10)
        return cls(client, prefix, url, timeout)

    def changes(self, key: str) -> Changes:
        """The announcements of the unit `key`, to wait on in the running event loop (core.records.events)."""
        if not self._url:
            raise RuntimeError("these Records were made without a Redis URL and cannot subscribe: use Records.connect")
        loop = asyncio.get_running_loop()
        hub = self._announcements.get(loop)
        if hub is None:
            hub = self._announcements[loop] = Announcements(self._url, self._timeout)
        return hub.changes(self.keys.events(key))

    async def close_changes(self) -> None:
        """Close the running event loop's pub/sub connection (at shutdown; waiters left poll)."""
        hub = self._announcements.pop(asyncio.get_running_loop(), None)
        if hub is not None:
            await hub.close()

    def close(self) -> None:
        self._r.close()
        if "_bytes" in self.__dict__:
            self._bytes.close()
