"""Trainings: an uploaded dataset becomes a model of its own (a job on the training queue, core.specs.TrainSpec)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse

from backend.api.deps import OwnerDep, ServicesDep, SignerDep
from backend.api.errors import error_responses
from backend.api.registry import chosen_model, read_models
from backend.api.routes.datasets import owned_dataset
from backend.api.schemas import JobOut, TrainingRequest
from backend.api.services import job_out_now
from core.models import MODEL_NAME
from core.specs import TrainSpec
from core.store import new_id

router = APIRouter(prefix="/api/trainings", tags=["trainings"])


@router.post("", status_code=202, response_model=JobOut, responses=error_responses(404, 409, 422, 503))
def start_training(s: ServicesDep, owner: OwnerDep, sign: SignerDep, body: TrainingRequest) -> JSONResponse:
    """Train a GAE for the caller's dataset on the base model's diffusion autoencoder, then its domain check and value
    prototypes, and register the result as `name` (served without a restart). A job: GET /api/jobs/{id} (and its
    events) shows the steps done, DELETE /api/jobs/{id} stops it; once it succeeded its `model` is the new model's."""
    facts = owned_dataset(s, owner, body.dataset)
    if not MODEL_NAME.fullmatch(body.name):
        raise HTTPException(422, f"name: {body.name!r} is not a model name (1-64 lowercase letters, digits, '.', '_' or "
                                 "'-', starting with a letter or digit)")
    view = read_models(s, fresh=True)
    if body.name in view.entries:
        raise HTTPException(409, f"a model named {body.name!r} exists already; choose another name")
    base = chosen_model(s, body.base_model, view)
    if facts["resolution"] < base.resolution:
        raise HTTPException(422, f"dataset {body.dataset} was checked at {facts['resolution']} px, model {base.name} "
                                 f"works at {base.resolution} px: upload it again with resolution {base.resolution} or "
                                 "more")
    if not any(w.get("train") for w in view.workers):
        raise HTTPException(503, "no live worker runs trainings: start one with `diffusegae worker --train` "
                                 "(`diffusegae serve` starts one)")
    job_id = new_id()
    spec = TrainSpec(dataset=body.dataset, base_model=base.name, name=body.name, steps=body.steps, seed=body.seed)
    s.records.create_job(job_id, spec, owner=owner, deployment=s.deployment)
    s.dispatcher.train(job_id)
    rec = s.records.get(s.records.job_key(job_id))
    return JSONResponse(job_out_now(s, rec, sign=sign).model_dump(), status_code=202)
