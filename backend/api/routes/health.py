"""Health: Redis, live workers, the model they loaded (in brief: all about the model is GET /api/model)."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import ServicesDep
from backend.api.schemas import HealthOut, ModelHealth
from core.settings import redacted

router = APIRouter(prefix="/api/health", tags=["health"])


@router.get("", response_model=HealthOut)
def health(s: ServicesDep) -> HealthOut:
    """Always 200: "ok" when Redis answers and a live worker has the model loaded, else "degraded". Small, to be
    polled: the model's attributes, value names and examples are in GET /api/model."""
    keys = bool(s.settings.api_keys)
    if not s.records.ping():
        where = redacted(s.settings.redis_url)
        return HealthOut(status="degraded", redis=False, workers=0, detail=f"Redis does not answer at {where}",
                         api_keys=keys)
    workers = s.records.workers()
    ready = [w for w in workers if w.get("model_status") == "ready" and w.get("model")]
    errors = [w["model_error"] for w in workers if w.get("model_error")]
    detail = None if ready else ("no worker is running" if not workers else "no worker has the model loaded")
    return HealthOut(status="ok" if ready else "degraded", redis=True, workers=len(workers),
                     model=ModelHealth.model_validate(ready[0]["model"]) if ready else None,
                     model_error=errors[0] if errors else None, detail=detail, api_keys=keys)
