"""The webhook sender: POSTs the JSON of ended jobs and batches to their callback_url, signed, with retries.

It runs in every API process (a task of the app's lifespan, so `diffusegae serve` and `diffusegae api` both
have it) while webhooks are on (DGAE_WEBHOOK_HOSTS), never in a worker: a worker only closes records, and
the closing Lua script queues the record's key in the `webhooks` sorted set, scored by when it is due
(core/records/lua/ended.lua; once per job or batch). The sender leases the earliest due key (`claim_webhook`;
another API process cannot take it during the lease, and a sender that dies mid-delivery leaves it due
again after the lease), POSTs, and records the outcome on the record's `webhook` field: delivered on a
2xx answer; otherwise due again after DGAE_WEBHOOK_BACKOFF x 2^(attempt - 1) seconds (at most
MAX_BACKOFF_S), failed after DGAE_WEBHOOK_ATTEMPTS attempts. The schedule lives in Redis, not in a
sleeping coroutine, so retries survive an API restart and any API process may make the next attempt.

Delivery is at least once: a receiver dedupes on X-DiffuseGAE-Event-Id. Redirects are not followed (a 3xx
counts as a failure) and proxies from the environment are not used, so only allowed hosts are ever reached.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.concurrency import run_in_threadpool

from backend.api.deps import Services
from backend.api.domain import job_warnings
from backend.api.services import batch_out, job_out
from core.webhooks import CallbackError, check_callback_url, signed_headers

log = logging.getLogger("diffusegae.webhooks")

MAX_BACKOFF_S = 600.0  # the longest wait between two attempts
LEASE_MARGIN_S = 30.0  # a delivery is leased for the HTTP timeout plus this


def backoff(base: float, attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): base, 2 base, 4 base, ..., at most MAX_BACKOFF_S."""
    return min(base * 2.0 ** (attempt - 1), MAX_BACKOFF_S)


def payload(s: Services, key: str, rec: dict[str, str]) -> bytes:
    """What is POSTed: the job's (or batch's, with its items) JSON as GET answers it, without the delivery status."""
    if s.records.kind_of(key) == "job":
        out = job_out(rec, warnings=job_warnings(s.records, [rec])[0])
    else:
        out = batch_out(s, rec)[0]
    return out.model_dump_json(exclude={"webhook"}).encode()


class WebhookSender:
    """Delivers due webhooks, up to `concurrency` at once; `run()` until `stop()`."""

    def __init__(self, s: Services, *, concurrency: int = 4, poll_s: float = 0.2) -> None:
        self.s, self.concurrency, self.poll_s = s, concurrency, poll_s
        self._stop = asyncio.Event()
        self._redis_down = False

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        settings = self.s.settings
        lease = settings.webhook_timeout + LEASE_MARGIN_S
        inflight: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(timeout=settings.webhook_timeout, follow_redirects=False, trust_env=False) as client:
            while not self._stop.is_set():
                try:
                    while len(inflight) < self.concurrency:
                        key = await run_in_threadpool(self.s.records.claim_webhook, lease)
                        if key is None:
                            break
                        task = asyncio.create_task(self._deliver(client, key))
                        inflight.add(task)
                        task.add_done_callback(inflight.discard)
                    self._redis_down = False
                except Exception as e:  # Redis away: try again later; the deliveries wait in Redis
                    if not self._redis_down:
                        log.warning("webhooks: cannot read the queue (%s: %s); retrying", type(e).__name__, e)
                    self._redis_down = True
                try:
                    await asyncio.wait_for(self._stop.wait(), self.poll_s)
                except TimeoutError:
                    pass
            if inflight:  # give running attempts a moment; the rest are due again when their lease ends
                _, pending = await asyncio.wait(inflight, timeout=5)
                for task in pending:
                    task.cancel()

    async def _deliver(self, client: httpx.AsyncClient, key: str) -> None:
        try:
            await self._attempt(client, key)
        except Exception:  # the lease runs out and the delivery is due again
            log.exception("webhooks: delivery of %s failed unexpectedly; it is retried after its lease", key)

    async def _attempt(self, client: httpx.AsyncClient, key: str) -> None:
        records, settings = self.s.records, self.s.settings
        rec = await run_in_threadpool(records.get, key)
        if not rec or not rec.get("callback"):  # deleted meanwhile (retention)
            await run_in_threadpool(records.webhook_result, key, {}, None)
            return
        status: dict[str, Any] = json.loads(rec.get("webhook") or '{"state": "pending", "attempts": 0}')
        if status["state"] in ("delivered", "failed"):  # a lease that outlived its delivery's end
            await run_in_threadpool(records.webhook_result, key, status, None)
            return
        url, kind, attempt = rec["callback"], records.kind_of(key), int(status["attempts"]) + 1
        host = urlsplit(url).netloc
        retry_at: float | None = None
        try:
            check_callback_url(url, settings.webhook_hosts)  # the allowed hosts may have changed since it was accepted
        except CallbackError as e:
            status = {"state": "failed", "attempts": status["attempts"], "last_error": str(e)}
        else:
            body = await run_in_threadpool(payload, self.s, key, rec)
            headers = signed_headers(settings.webhook_secret.get_secret_value(), body, kind, f"{kind}-{records.id_of(key)}")
            try:
                async with asyncio.timeout(settings.webhook_timeout):  # the whole attempt, however slowly it trickles
                    async with client.stream("POST", url, content=body, headers=headers) as answer:
                        code = answer.status_code  # the answer's body is not read
                error = None if 200 <= code < 300 else f"HTTP {code} (a 2xx answer is needed)"
            except TimeoutError:
                error = f"no answer within {settings.webhook_timeout:g} s (DGAE_WEBHOOK_TIMEOUT)"
            except httpx.HTTPError as e:
                error = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            if error is None:
                status = {"state": "delivered", "attempts": attempt, "last_error": None}
                log.info("webhooks: %s delivered to %s (attempt %d)", key, host, attempt)
            elif attempt >= settings.webhook_attempts:
                status = {"state": "failed", "attempts": attempt, "last_error": error}
                log.warning("webhooks: %s to %s failed for good after %d attempts: %s", key, host, attempt, error)
            else:
                status = {"state": "pending", "attempts": attempt, "last_error": error}
                retry_at = time.time() + backoff(settings.webhook_backoff, attempt)
                log.info("webhooks: %s to %s, attempt %d: %s; next in %.1f s", key, host, attempt, error,
                         retry_at - time.time())
        await run_in_threadpool(records.webhook_result, key, status, retry_at)
