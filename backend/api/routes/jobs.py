"""Jobs: state and progress, a server-sent event stream, cancellation, the result images."""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from backend.api.deps import OwnerDep, ServicesDep, SignerDep
from backend.api.schemas import JobOut
from backend.api.services import job_out_now, owned_job, result_png, wait_until_finished
from core.records import SUCCEEDED, TERMINAL

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobOut)
def get_job(s: ServicesDep, owner: OwnerDep, sign: SignerDep, job_id: str) -> JobOut:
    """State (queued / running / succeeded / failed / cancelled) and progress in sampler steps."""
    return job_out_now(s, owned_job(s, owner, job_id), sign=sign)


@router.delete("/{job_id}", response_model=JobOut)
def cancel_job(s: ServicesDep, owner: OwnerDep, sign: SignerDep, job_id: str) -> JobOut:
    """Cancel: a queued job never runs, a running decode stops at its next sampler step."""
    owned_job(s, owner, job_id)
    s.records.cancel(s.records.job_key(job_id))
    return job_out_now(s, owned_job(s, owner, job_id), sign=sign)


PUSH_FALLBACK_S = 1.0  # with no message on the job's channel, read its record anyway this often (queue position)


@router.get("/{job_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def job_events(s: ServicesDep, owner: OwnerDep, sign: SignerDep, job_id: str, request: Request) -> StreamingResponse:
    """Server-sent events: `event: progress` with the job JSON whenever it changes, then `event: end`. A long
    decode's clean-image estimates are not in the stream: each event names the latest by its URL
    (`x0_preview_url`, GET /api/jobs/{id}/x0.png), so the stream stays small.

    Pushed, not polled: the stream subscribes to the job's Redis channel (core.records.events), on which
    the worker announces every step and state change, and reads the record when a message comes (and at least
    every PUSH_FALLBACK_S). It subscribes before the first read, so no change falls between the two."""
    await run_in_threadpool(owned_job, s, owner, job_id)
    key = s.records.job_key(job_id)

    async def stream() -> AsyncIterator[str]:
        async with s.records.changes(key) as changes:
            last, last_sent = "", time.monotonic()
            while not await request.is_disconnected():
                try:
                    rec = await run_in_threadpool(s.records.get, key)
                except Exception as e:  # Redis went away mid-stream
                    yield f"event: error\ndata: {{\"detail\": \"Redis is unavailable: {type(e).__name__}\"}}\n\n"
                    return
                if not rec:
                    gone = {"detail": f"job {job_id} not found: it expired, or the service lost its records (Redis "
                                      "restarted without its data); submit it again"}
                    yield f"event: error\ndata: {json.dumps(gone)}\n\n"
                    return
                data = job_out_now(s, rec, sign=sign).model_dump_json()
                if data != last:
                    yield f"event: progress\ndata: {data}\n\n"
                    last, last_sent = data, time.monotonic()
                if rec.get("state") in TERMINAL:
                    yield f"event: end\ndata: {data}\n\n"
                    return
                if time.monotonic() - last_sent > 15:
                    yield ": keep-alive\n\n"
                    last_sent = time.monotonic()
                await changes.wait(PUSH_FALLBACK_S)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


PNG_DATA_URL = "data:image/png;base64,"  # how the worker stores an estimate in the record (worker.progress)


@router.get("/{job_id}/x0.png", response_class=Response, responses={200: {"content": {"image/png": {}}}})
def job_x0(s: ServicesDep, owner: OwnerDep, job_id: str,
           step: Annotated[int | None, Query(ge=0, description="not read: the job's x0_preview_url names the step so "
                                                               "that every new estimate has a URL of its own")] = None,
           ) -> Response:
    """The latest clean-image estimate x0_hat of a long decode (steps >= DGAE_X0_PREVIEW_MIN_STEPS), as the job's
    `x0_preview_url` names it while it runs; 404 when the job has none."""
    rec = owned_job(s, owner, job_id)
    stored = rec.get("x0_preview") or ""
    try:
        png = base64.b64decode(stored.removeprefix(PNG_DATA_URL), validate=True) if stored.startswith(PNG_DATA_URL) else b""
    except binascii.Error:
        png = b""
    if not png:
        raise HTTPException(404, f"job {job_id} has no estimate of its image: only a running decode of "
                                 f"{s.settings.x0_preview_min_steps} steps or more makes them; a finished job has "
                                 "result.png")
    return Response(png, media_type="image/png",
                    headers={"Cache-Control": "no-store", "X-Step": rec.get("x0_step") or ""})


def _finished(rec: dict[str, str]) -> None:
    if rec.get("state") != SUCCEEDED:
        state = rec.get("state")
        why = f": {rec['error']}" if rec.get("error") else ""
        raise HTTPException(409, f"job {rec['id']} has no result: it is {state}{why}")


def _png(data: bytes | None, what: str) -> Response:
    """A stored PNG, streamed by the API (never a redirect to the store: see docs/deployment.md, "The store")."""
    if data is None:
        raise HTTPException(404, f"{what} is not in the store (deleted by retention?)")
    return Response(data, media_type="image/png")


@router.get("/{job_id}/result.png", response_class=Response, responses={200: {"content": {"image/png": {}}}})
async def job_result(s: ServicesDep, owner: OwnerDep, job_id: str,
                     wait: Annotated[float | None, Query(ge=0, description="wait up to this many seconds")] = None) -> Response:
    """The result image (an interpolation: its frames side by side); 409 while not done."""
    rec = await run_in_threadpool(owned_job, s, owner, job_id)
    if wait:
        rec = await wait_until_finished(s, s.records.job_key(job_id), wait) or rec
    _finished(rec)
    return _png(await run_in_threadpool(result_png, s, job_id), f"the result of job {job_id}")


@router.get("/{job_id}/sample.png", response_class=Response, responses={200: {"content": {"image/png": {}}}})
async def training_sample(s: ServicesDep, owner: OwnerDep, job_id: str,
                          step: Annotated[int | None, Query(ge=0, description="not read: the job's sample_url names "
                                                                              "the step so that every new figure has "
                                                                              "a URL of its own")] = None) -> Response:
    """A training's figure at its last checkpoint (its `training.sample_url`); 404 before the first."""
    rec = await run_in_threadpool(owned_job, s, owner, job_id)
    if rec.get("kind") != "train":
        raise HTTPException(404, f"job {job_id} is not a training")
    return _png(await run_in_threadpool(s.store.training_sample, job_id), f"a sample figure of training {job_id}")


@router.get("/{job_id}/frames/{index}.png", response_class=Response, responses={200: {"content": {"image/png": {}}}})
def job_frame(s: ServicesDep, owner: OwnerDep, job_id: str, index: int) -> Response:
    """Frame `index` (0-based) of an interpolation."""
    rec = owned_job(s, owner, job_id)
    if rec.get("kind") != "interpolate":
        raise HTTPException(404, f"job {job_id} is a {rec.get('kind')} job: it has no frames")
    _finished(rec)
    frames = int(rec.get("frames") or 0)
    if not 0 <= index < frames:
        raise HTTPException(404, f"frame {index} not found: the job has frames 0..{frames - 1}")
    return _png(s.store.frame(job_id, index), f"frame {index} of job {job_id}")
