"""The default model (clients from before several models; every model: GET /api/models)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from backend.api.deps import ServicesDep, SignerDep
from backend.api.errors import error_responses
from backend.api.registry import ModelDep, chosen_model
from backend.api.schemas import Limits, ModelOut
from backend.api.services import preview_steps

router = APIRouter(prefix="/api/model", tags=["model"])


@router.get("", response_model=ModelOut, responses=error_responses(422, 503))
def get_model_info(s: ServicesDep, sign: SignerDep,
                   name: Annotated[str | None, Query(max_length=64, description="a model (GET /api/models); "
                                                                                "default: the default model")] = None,
                   ) -> ModelOut:
    """Attribute names, chunk sizes, value names, resolution, default and preview steps, sampler, what inputs it
    knows and a few example images with their value names, of the default model or the one named (503 until a live
    worker serves it)."""
    model = chosen_model(s, name)
    examples = [sign(f"/api/models/{model.name}/examples/{i}.png") for i in range(model.examples)]
    known = model.example_labels  # per example the worker serves; {} where not known
    labels = [(known[i] or None) if i < len(known) else None for i in range(model.examples)]
    return ModelOut.model_validate({**model.model_dump(exclude={"examples", "example_labels", "steps"}),
                                    "examples": examples, "example_labels": labels,
                                    "preview_steps": preview_steps(s, model),
                                    "limits": Limits(steps=(model.steps.min, model.steps.max))})


@router.get("/examples/{index}.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, **error_responses(404)})
def get_model_example(s: ServicesDep, model: ModelDep, index: int) -> Response:
    """One of a few images the model knows (from its model.json), to show what inputs it expects."""
    png = s.records.model_file(model.name, f"examples/{index}.png")
    if png is None:
        raise HTTPException(404, f"the model has no example image {index}")
    return Response(png, media_type="image/png")
