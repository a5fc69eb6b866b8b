"""Trainings: an uploaded dataset becomes a model of its own (a job on the training queue, core.specs.TrainSpec)."""

from __future__ import annotations

import hashlib
import json

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from backend.api.deps import IdempotencyKey, OwnerDep, Services, ServicesDep, SignerDep, UrlSigner
from backend.api.errors import error_responses
from backend.api.registry import ModelView, chosen_model, read_models
from backend.api.routes.datasets import owned_dataset
from backend.api.schemas import JobOut, TrainingRequest
from backend.api.services import callback, idempotent, job_out_now, owned_job
from core.models import MODEL_NAME, free_version, model_stem
from core.records import CANCELLED, FAILED
from core.specs import TrainSpec, parse_train_spec
from core.store import new_id

router = APIRouter(prefix="/api/trainings", tags=["trainings"])


@router.post("", status_code=202, response_model=JobOut, responses=error_responses(404, 409, 422, 503))
async def start_training(s: ServicesDep, owner: OwnerDep, sign: SignerDep, body: TrainingRequest,
                         idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Train a GAE for the caller's dataset on the base model's diffusion autoencoder, then its domain check and value
    prototypes, and register the result as `name` (served without a restart). A job: GET /api/jobs/{id} (and its
    events) shows the steps done, DELETE /api/jobs/{id} stops it; once it succeeded its `model` is the new model's."""
    async def create() -> str:
        return await run_in_threadpool(_start, s, owner, body, callback(s, body.callback_url))

    body_hash = hashlib.sha256(f"train\0{body.model_dump_json()}".encode()).hexdigest()
    return await run_in_threadpool(_answer, s, sign, await idempotent(s, owner, idempotency_key, body_hash, create))


def _start(s: Services, owner: str, body: TrainingRequest, url: str) -> str:
    facts = owned_dataset(s, owner, body.dataset)
    view = read_models(s, fresh=True)
    if body.name is not None:
        if not MODEL_NAME.fullmatch(body.name):
            raise HTTPException(422, f"name: {body.name!r} is not a model name (1-64 lowercase letters, digits, '.', "
                                     "'_' or '-', starting with a letter or digit)")
        _name_free(s, view, body.name)
    base = chosen_model(s, body.base_model, view)
    if facts["resolution"] < base.resolution:
        raise HTTPException(422, f"dataset {body.dataset} was checked at {facts['resolution']} px, model {base.name} "
                                 f"works at {base.resolution} px: upload it again with resolution {base.resolution} or "
                                 "more")
    if body.chunk_sizes is not None:
        _check_chunks(body.chunk_sizes, facts["attributes"])
    _training_worker(view)
    spec = TrainSpec(dataset=body.dataset, base_model=base.name, name=body.name or _new_version(s, view, facts["name"]),
                     versioned=body.name is None,
                     steps=body.steps, budget_s=body.budget_s or 0, seed=body.seed,
                     checkpoint_every=body.checkpoint_every or (50 if body.budget_s else max(50, body.steps // 10)),
                     chunk_sizes=tuple(body.chunk_sizes) if body.chunk_sizes else None)
    return _submit(s, owner, spec, url)


def _check_chunks(sizes: list[int], attributes: list[str]) -> None:
    if len(sizes) != len(attributes):
        raise HTTPException(422, f"chunk_sizes: {len(sizes)} sizes for the dataset's {len(attributes)} attributes "
                                 f"({', '.join(attributes)}): one per attribute, in that order")
    if not all(1 <= c <= 256 for c in sizes) or sum(sizes) > 512:
        raise HTTPException(422, f"chunk_sizes: {sizes}: each must be 1-256 and all together at most 512")


def _new_version(s: Services, view: ModelView, dataset_name: str) -> str:
    stem = model_stem(dataset_name)
    name = free_version(stem, lambda n: n in view.entries or s.store.model_registered(n))
    if name is None:
        raise HTTPException(409, f"models {stem} to {stem}-v999 exist: name this one")
    return name


@router.post("/{job_id}/resume", status_code=202, response_model=JobOut, responses=error_responses(404, 409, 503))
def resume_training(s: ServicesDep, owner: OwnerDep, sign: SignerDep, job_id: str) -> JSONResponse:
    """Continue a cancelled or failed training from its last checkpoint: a new training job (its `training.resume_from`
    names this one) that trains the same steps on the same dataset, starting at the checkpoint's step. 409 while it
    is still queued or running, after it succeeded, or when it stopped before its first checkpoint."""
    rec = owned_job(s, owner, job_id)
    try:
        spec = parse_train_spec(rec.get("spec", ""))
    except ValidationError:
        raise HTTPException(409, f"job {job_id} is not a training") from None
    state = rec.get("state")
    if state not in (CANCELLED, FAILED):
        raise HTTPException(409, f"training {job_id} is {state}: only a cancelled or failed one can be resumed")
    # its own checkpoint, else (stopped before its first) the one it had resumed from
    source = job_id if s.store.training_state(job_id, "gae") is not None else spec.resume_from
    if not source or s.store.training_state(source, "gae") is None:
        raise HTTPException(409, f"training {job_id} stopped before its first checkpoint (every "
                                 f"{spec.checkpoint_every} steps): start it again with POST /api/trainings")
    owned_dataset(s, owner, spec.dataset)
    view = read_models(s, fresh=True)
    _name_free(s, view, spec.name)
    _training_worker(view)
    planned = int(rec.get("total") or spec.steps)  # the steps the stopped one planned (its budget's)
    resumed = spec.model_copy(update={"resume_from": source, "steps": planned, "budget_s": 0})
    new = _submit(s, owner, resumed, rec.get("callback", ""))
    step = int(rec.get("checkpoint_step") or 0)  # the curve so far, until the new run's worker takes it on
    points = [p for p in json.loads(rec.get("losses") or "[]") if p[0] <= step]
    s.records.set_fields(s.records.job_key(new), losses=json.dumps(points), checkpoint_step=step)
    return _answer(s, sign, new)


def _name_free(s: Services, view: ModelView, name: str) -> None:
    """409 when `name` is taken: served, or registered a moment ago and not yet published by a worker."""
    if name in view.entries or s.store.model_registered(name):
        raise HTTPException(409, f"a model named {name!r} exists already; choose another name")


def _training_worker(view: ModelView) -> None:
    if not any(w.get("train") for w in view.workers):
        raise HTTPException(503, "no live worker runs trainings: start one with `diffusegae worker --train` "
                                 "(`diffusegae serve` starts one)")


def _submit(s: Services, owner: str, spec: TrainSpec, url: str) -> str:
    job_id = new_id()
    s.records.create_job(job_id, spec, owner=owner, deployment=s.deployment, **({"callback": url} if url else {}))
    s.dispatcher.train(job_id)
    return job_id


def _answer(s: Services, sign: UrlSigner, job_id: str) -> JSONResponse:
    rec = s.records.get(s.records.job_key(job_id))
    return JSONResponse(job_out_now(s, rec, sign=sign).model_dump(), status_code=202)
