"""The model the workers serve."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import ModelDep, ServicesDep
from backend.api.schemas import ModelOut
from backend.api.services import preview_steps

router = APIRouter(prefix="/api/model", tags=["model"])


@router.get("", response_model=ModelOut)
def get_model_info(s: ServicesDep, model: ModelDep) -> ModelOut:
    """Attribute names, chunk sizes, value names, resolution, default and preview steps, sampler (503 until a worker
    loaded it)."""
    return ModelOut.model_validate({**model, "preview_steps": preview_steps(s, model)})
