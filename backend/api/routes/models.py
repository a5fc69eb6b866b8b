"""The registry of models: list, one model with its card and figures, its files, deleting a registered one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from markdown_it import MarkdownIt

from backend.api.deps import ServicesDep, SignerDep, UrlSigner
from backend.api.errors import error_responses
from backend.api.registry import ModelView, read_models
from backend.api.schemas import Limits, ModelDetail, ModelList, ModelSummary
from core.models import MODEL_NAME, ModelEntry
from core.specs import spec_model

router = APIRouter(prefix="/api/models", tags=["models"])

Name = Annotated[str, Path(pattern=f"^{MODEL_NAME.pattern}$", description="a model's name (GET /api/models)")]
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")  # the card's raw HTML is escaped, not rendered


def summary(view: ModelView, entry: ModelEntry, sign: UrlSigner) -> dict:
    c = entry.contract
    base = {"name": entry.name, "status": view.status(entry.name), "default": entry.name == view.default,
            "shipped": entry.shipped, "created": entry.created, "metrics": entry.metrics,
            "url": f"/api/models/{entry.name}"}
    if c is None:
        return base
    return {**base, "resolution": c.resolution, "attributes": list(c.attributes),
            "values": {a: list(v) for a, v in c.values.items()}, "chunk_sizes": list(c.chunk_sizes),
            "default_steps": c.default_steps, "limits": Limits(steps=(c.steps.min, c.steps.max)),
            "dataset": c.dataset, "description": c.description, "value_edits": c.value_edits,
            "diffae_edits": c.diffae_edits,
            "thumbnail_url": sign(f"/api/models/{entry.name}/examples/0.png") if c.examples else None}


def _entry(view: ModelView, name: str) -> ModelEntry:
    entry = view.entries.get(name)
    if entry is None:
        raise HTTPException(404, f"no model named {name!r}; the models: {', '.join(sorted(view.entries)) or 'none'}")
    return entry


@router.get("", response_model=ModelList)
def list_models(s: ServicesDep, sign: SignerDep) -> ModelList:
    """Every model the deployment knows (shipped and registered), the default first, with who serves it."""
    view = read_models(s, fresh=True)
    order = sorted(view.entries.values(), key=lambda e: (e.name != view.default, not e.shipped, e.name))
    return ModelList(models=[ModelSummary.model_validate(summary(view, e, sign)) for e in order], default=view.default)


@router.get("/{name}", response_model=ModelDetail, responses=error_responses(404))
def get_model_detail(s: ServicesDep, sign: SignerDep, name: Name) -> ModelDetail:
    """One model: what the list says, plus its card (rendered), example images, evaluation figures and workers."""
    view = read_models(s)
    entry = _entry(view, name)
    c = entry.contract
    card = s.records.model_file(name, "MODEL_CARD.md") if entry.card else None
    text = card.decode("utf-8", "replace") if card else None
    extra = {"figures": [sign(f"/api/models/{name}/files/eval/{f}") for f in entry.figures],
             "card_markdown": text, "card_html": _MARKDOWN.render(text) if text else None,
             "workers": [w["id"] for w in view.serving(name)],
             "loaded_on": [w for w, m in view.loaded(name) if m.status == "ready"]}
    if c is not None:
        labels = list(c.example_labels)
        extra.update(samplers=list(c.samplers), default_sampler=c.default_sampler, spacing=c.spacing,
                     num_timesteps=c.num_timesteps,
                     examples=[sign(f"/api/models/{name}/examples/{i}.png") for i in range(c.examples)],
                     example_labels=[(labels[i] or None) if i < len(labels) else None for i in range(c.examples)])
    return ModelDetail.model_validate({**summary(view, entry, sign), **extra})


@router.get("/{name}/examples/{index}.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, **error_responses(404)})
def get_example(s: ServicesDep, name: Name, index: int) -> Response:
    """One of a few images the model knows (its model.json `examples`)."""
    png = s.records.model_file(name, f"examples/{index}.png")
    if png is None:
        raise HTTPException(404, f"model {name} has no example image {index}")
    return Response(png, media_type="image/png")


@router.get("/{name}/files/eval/{figure}", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, **error_responses(404)})
def get_figure(s: ServicesDep, name: Name, figure: Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,100}\.png$")]) -> Response:
    """One of the model's evaluation figures (eval/*.png)."""
    png = s.records.model_file(name, f"eval/{figure}")
    if png is None:
        raise HTTPException(404, f"model {name} has no figure {figure}")
    return Response(png, media_type="image/png")


@router.delete("/{name}", status_code=204, response_class=Response, responses=error_responses(404, 409))
def delete_model(s: ServicesDep, name: Name,
                 force: Annotated[bool, Query(description="delete it even while images or open jobs use it")] = False
                 ) -> Response:
    """Delete a registered model (its folder in the store); shipped models stay (409). While images or open jobs use
    it: 409 with how many, unless ?force=true (then its images can no longer be edited and its queued jobs fail)."""
    view = read_models(s)
    entry = _entry(view, name)
    if entry.shipped:
        raise HTTPException(409, f"model {name} is shipped with the deployment and cannot be deleted")
    if not force:
        images = s.records.images_in_model(name, limit=1000)
        jobs = [k for k in s.records.open_jobs() if spec_model(s.records.fields(k, "spec")["spec"]) == name]
        if images or jobs:
            raise HTTPException(409, f"model {name} is used by {len(images)}{'+' if len(images) >= 1000 else ''} image(s) "
                                     f"and {len(jobs)} queued or running job(s); DELETE with ?force=true to delete it "
                                     "anyway (its images can no longer be edited, its queued jobs fail)")
    s.store.remove_model(name)
    s.records.drop_model(name)
    s.models_read = None  # this process's next read sees it gone
    return Response(status_code=204)
