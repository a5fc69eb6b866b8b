"""Health: Redis, live workers, and who serves each model (all about a model: GET /api/models/{name})."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import Services, ServicesDep
from backend.api.registry import ModelView, queue_depths, read_models
from backend.api.schemas import HealthOut, ModelHealth, ModelServing
from core.blobs import StoreUnavailable
from core.settings import redacted

router = APIRouter(prefix="/api/health", tags=["health"])


def serving(s: Services, view: ModelView) -> list[ModelServing]:
    """Per registered model: its status, the live workers that serve it and hold it, its queue's depth."""
    names = sorted(view.entries)
    depths = queue_depths(s, names)
    out = []
    for name in names:
        held = [(w, m) for w, m in view.loaded(name) if m.status == "ready"]
        out.append(ModelServing(name=name, status=view.status(name), workers=[w["id"] for w in view.serving(name)],
                                loaded_on=[w for w, _ in held], load_s=held[0][1].load_s if held else None,
                                source=held[0][1].source if held else None,
                                queued=depths[name]))
    return out


@router.get("", response_model=HealthOut)
def health(s: ServicesDep) -> HealthOut:
    """Always 200: "ok" when Redis answers and a live worker serves the default model, else "degraded". Small, to be
    polled: a model's attributes, value names and examples are in GET /api/models/{name}."""
    keys = bool(s.settings.api_keys)
    if not s.records.ping():
        where = redacted(s.settings.redis_url)
        return HealthOut(status="degraded", redis=False, workers=0, detail=f"Redis does not answer at {where}",
                         api_keys=keys)
    try:
        s.store.blobs.check()
        store_problem = None
    except StoreUnavailable as e:
        store_problem = str(e)
    view = read_models(s, fresh=True)
    status = view.status(view.default) if view.default else None
    runs = next((m for _, m in view.loaded(view.default) if m.status == "ready"), None) if view.default else None
    if not view.workers:
        detail = "no worker is running"
    elif status is None:
        detail = "no worker has published the models yet"
    else:
        detail = None if status == "ready" else f"the default model {view.default} is {status}"
    if store_problem:
        detail = store_problem
    return HealthOut(status="ok" if status == "ready" and not store_problem else "degraded", redis=True,
                     store=store_problem is None, workers=len(view.workers),
                     model=ModelHealth(name=view.default, device=runs.device, runtime=runs.runtime,
                                       runtime_note=runs.runtime_note) if runs else None,
                     models=serving(s, view),
                     model_error=status.removeprefix("failed: ") if status and status.startswith("failed") else None,
                     detail=detail, api_keys=keys)
