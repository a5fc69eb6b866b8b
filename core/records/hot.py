"""A just-finished job's result, kept in Redis for a minute beside the store's copy.

A client that waits for a job (?wait=, or the event stream then result.png) reads its result the moment it is
done; from Redis that costs the API a fraction of an object-store GET (boto3's request signing and parsing were
a fifth of the API's CPU per edit) and SeaweedFS nothing. The store's copy is the real one: written first,
read whenever the hot one has expired or was never written (too big, or Redis refused it).
"""

from __future__ import annotations

from functools import cached_property

import redis

from core.records.part import Part

HOT_RESULT_S = 60  # how long a result stays in Redis after its job finished
HOT_RESULT_MAX_BYTES = 1 << 20  # larger results (long interpolation strips) are read from the store only


class HotResults(Part):
    @cached_property
    def _bytes(self) -> redis.Redis:
        """A client on the same server that returns bytes (the records' client decodes replies as text)."""
        pool = self._r.connection_pool
        return redis.Redis(connection_pool=type(pool)(connection_class=pool.connection_class,
                                                      **{**pool.connection_kwargs, "decode_responses": False}))

    def put_hot_result(self, key: str, png: bytes) -> None:
        """Keep the result of job `key` for HOT_RESULT_S seconds (after the store has it)."""
        if len(png) <= HOT_RESULT_MAX_BYTES:
            self._bytes.set(self.keys.hot_result(key), png, ex=HOT_RESULT_S)

    def hot_result(self, key: str) -> bytes | None:
        return self._bytes.get(self.keys.hot_result(key))

    def drop_hot_result(self, key: str) -> None:
        self._bytes.delete(self.keys.hot_result(key))
