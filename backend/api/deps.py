"""Dependencies of the routes, as `Annotated` aliases."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Query, Request

from core.queue import Dispatcher
from core.records import Records
from core.settings import Settings
from core.store import Store


@dataclass
class Services:
    """What the app holds for its lifetime (built in create_app; nothing here loads a model)."""

    settings: Settings
    records: Records
    store: Store
    dispatcher: Dispatcher


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_owner(services: ServicesDep,
              x_api_key: Annotated[str | None, Header(description="API key (when the service has keys)")] = None,
              api_key: Annotated[str | None, Query(description="API key, for URLs a header cannot go with")] = None) -> str:
    """Who is asking: with keys configured, a hash of the caller's key; else everyone is "public"."""
    keys = services.settings.api_keys
    if not keys:
        return "public"
    key = x_api_key or api_key
    if not key:
        raise HTTPException(401, "an API key is required: send it in the X-API-Key header (or as ?api_key=)")
    if not any(hmac.compare_digest(key.encode(), k.encode()) for k in keys):
        raise HTTPException(401, "invalid API key")
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:24]


OwnerDep = Annotated[str, Depends(get_owner)]


def get_model(services: ServicesDep) -> dict[str, Any]:
    """The model the workers loaded (they publish it to Redis); 503 until one has."""
    info = services.records.model()
    if info:
        return info
    errors = [w.get("model_error") for w in services.records.workers() if w.get("model_error")]
    if errors:
        raise HTTPException(503, f"the worker could not load the model: {errors[0]}")
    raise HTTPException(503, "no worker has loaded the model yet; start one (diffusegae worker) or wait for it")


ModelDep = Annotated[dict[str, Any], Depends(get_model)]
