"""The model the workers serve."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response

from backend.api.deps import ModelDep, ServicesDep, SignerDep
from backend.api.errors import error_responses
from backend.api.schemas import ModelOut
from backend.api.services import preview_steps

router = APIRouter(prefix="/api/model", tags=["model"])


@router.get("", response_model=ModelOut)
def get_model_info(s: ServicesDep, model: ModelDep, sign: SignerDep) -> ModelOut:
    """Attribute names, chunk sizes, value names, resolution, default and preview steps, sampler, what inputs it
    knows and a few example images with their value names (503 until a worker loaded it)."""
    count = int(model.get("examples") or 0)
    examples = [sign(f"/api/model/examples/{i}.png") for i in range(count)]
    known = model.get("example_labels") or []  # per example the worker serves; {} where not known
    labels = [(known[i] or None) if i < len(known) else None for i in range(count)]
    return ModelOut.model_validate({**model, "examples": examples, "example_labels": labels,
                                    "preview_steps": preview_steps(s, model)})


@router.get("/examples/{index}.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, **error_responses(404)})
def get_model_example(s: ServicesDep, index: int) -> Response:
    """One of a few images the model knows (from its model.json), to show what inputs it expects."""
    png = s.records.model_example(index)
    if png is None:
        raise HTTPException(404, f"the model has no example image {index}")
    return Response(png, media_type="image/png")
