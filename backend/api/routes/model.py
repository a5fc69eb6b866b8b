"""The model the workers serve."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import ModelDep
from backend.api.schemas import ModelOut

router = APIRouter(prefix="/api/model", tags=["model"])


@router.get("", response_model=ModelOut)
def get_model_info(model: ModelDep) -> ModelOut:
    """Attribute names, chunk sizes, value names, resolution, default steps and sampler (503 until a worker loaded it)."""
    return ModelOut.model_validate(model)
