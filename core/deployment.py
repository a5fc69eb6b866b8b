"""A deployment's identity: the store it writes to, and the Redis namespace that follows from it.

Two deployments on one Redis must not share a key prefix: each one's workers would take the other's
jobs, find their images missing from their own store and fail them (or worse, decode another model's
latents). The identity is the store's own id (core.store.Store.identity), so the processes that share a
store (`serve`'s API and worker, Compose's containers on one volume) agree on it and two checkouts differ:

- DGAE_KEY_PREFIX unset: the prefix is `dgae:<store id>:` (Celery's keys, queue included, live under it).
- DGAE_KEY_PREFIX set: kept, and a command refuses to start while live workers of another store use it.

Every unit the API writes names its deployment; a worker handed a unit of another one gives it back to
the queue instead of failing it (worker.process).
"""

from __future__ import annotations

from core.records import Records


def derived_prefix(store_id: str) -> str:
    return f"dgae:{store_id}:"


class NamespaceTaken(RuntimeError):
    """Live workers of another store use this key prefix."""


def check_namespace(records: Records, store_id: str, store_where: str) -> None:
    """Raise NamespaceTaken, with the reason and the fix, when live workers of another deployment use the prefix."""
    others = sorted({w["store"] for w in records.workers() if w.get("store") and w["store"] != store_id})
    if others:
        raise NamespaceTaken(
            f"the Redis key prefix {records.keys.prefix!r} is in use by a live deployment with another store ({', '.join(others)}; "
            f"this one's store is {store_where}, id {store_id}): its workers would take this deployment's jobs. "
            "Unset DGAE_KEY_PREFIX to derive a prefix from the store, or give each deployment its own DGAE_KEY_PREFIX")
