"""Editing requests that become jobs: recombination and interpolation."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from backend.api.deps import IdempotencyKey, OwnerDep, ServicesDep, SignerDep, UrlSigner
from backend.api.schemas import InterpolateRequest, JobOut, RecombineRequest
from backend.api.services import (
    callback,
    idempotent,
    interpolate_spec,
    job_out_now,
    recombine_spec,
    result_png,
    submit_job,
    wait_until_finished,
)
from core.records import SUCCEEDED

router = APIRouter(prefix="/api", tags=["edits"])

Wait = Annotated[float | None, Query(ge=0, description="wait up to this many seconds and return the PNG if done by then")]
_RESPONSES = {202: {"model": JobOut, "description": "the job (queued, or not done within ?wait=)"},
              200: {"content": {"image/png": {}}, "description": "with ?wait=: the result image"}}


async def _respond(s: ServicesDep, job_id: str, wait: float | None, sign: UrlSigner) -> Response:
    key = s.records.job_key(job_id)
    rec = await wait_until_finished(s, key, wait) if wait else await run_in_threadpool(s.records.get, key)
    if wait and rec and rec.get("state") == SUCCEEDED:
        png = await run_in_threadpool(result_png, s, job_id)
        if png is not None:
            return Response(png, media_type="image/png", headers={"X-Job-Id": job_id})
    return JSONResponse(job_out_now(s, rec, sign=sign).model_dump(), status_code=202)


def _body_hash(route: str, body: RecombineRequest | InterpolateRequest) -> str:
    return hashlib.sha256(f"{route}\0{body.model_dump_json()}".encode()).hexdigest()


@router.post("/recombine", status_code=202, response_model=JobOut, responses=_RESPONSES)
async def recombine(s: ServicesDep, owner: OwnerDep, sign: SignerDep, body: RecombineRequest, wait: Wait = None,
                    idempotency_key: IdempotencyKey = None) -> Response:
    """Decode the base's z_dis with chosen chunks blended towards donors' (chunk = base + weight (donor - base)), in
    the base image's model (donors must be encoded in it too: 422 otherwise).

    Attributes not named keep the base's chunk. x_T: the base's inferred one (default) or a seeded random one.
    While a slider moves, a client sends `preview: true` (few steps) with a `supersede` key, then the final request.
    """
    def start(url: str) -> str:
        job_id = submit_job(s, owner, recombine_spec(s, owner, body), "", url)
        if body.supersede:
            s.records.supersede(owner, body.supersede, job_id)
        return job_id

    async def create() -> str:
        return await run_in_threadpool(start, callback(s, body.callback_url))  # one thread hop: each costs CPU

    job_id = await idempotent(s, owner, idempotency_key, _body_hash("recombine", body), create)
    return await _respond(s, job_id, wait, sign)


@router.post("/interpolate", status_code=202, response_model=JobOut, responses=_RESPONSES)
async def interpolate(s: ServicesDep, owner: OwnerDep, sign: SignerDep, body: InterpolateRequest,
                      wait: Wait = None, idempotency_key: IdempotencyKey = None) -> Response:
    """Frames from base to donor: lerp of z_dis (the named chunks, or all) and slerp of x_T.

    The result is the frames side by side in one strip; each frame is at /api/jobs/{id}/frames/{i}.png.
    """
    async def create() -> str:
        url = callback(s, body.callback_url)
        return await run_in_threadpool(lambda: submit_job(s, owner, interpolate_spec(s, owner, body), "", url))

    job_id = await idempotent(s, owner, idempotency_key, _body_hash("interpolate", body), create)
    return await _respond(s, job_id, wait, sign)
