"""The webhook outbox: deliveries owed by jobs and batches that ended (queued by lua/ended.lua; core.webhooks)."""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from core.records.keys import Keys
from core.records.part import Part
from core.records.scripts import register


class Outbox(Part):
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        super().__init__(client, keys)
        self._arm_batch = register(client, "arm_batch")
        self._claim_webhook = register(client, "claim_webhook")
        self._webhook_result = register(client, "webhook_result")

    def arm_batch_webhook(self, batch_id: str, callback: str) -> None:
        """POST the batch's JSON to `callback` once its last item ends (at once if they all have)."""
        self._arm_batch(keys=[self.keys.batch(batch_id), self.keys.webhooks], args=[self.keys.layout, callback, time.time()])

    def claim_webhook(self, lease_s: float) -> str | None:
        """The key of a job or batch whose webhook is due, leased to the caller for `lease_s`; None when none is due."""
        return self._claim_webhook(keys=[self.keys.webhooks], args=[time.time(), lease_s])

    def webhook_result(self, key: str, status: dict[str, Any], retry_at: float | None) -> None:
        """Record a delivery attempt's outcome on the record; due again at `retry_at`, or done when None."""
        self._webhook_result(keys=[self.keys.webhooks, key], args=[json.dumps(status), "" if retry_at is None else retry_at])
