"""The models as the API sees them: the registry the workers publish, which live workers serve each, and the
model a request runs in (its base image's)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException
from pydantic import ValidationError

from backend.api.deps import Services, ServicesDep
from core.models import LoadedModel, ModelEntry, ServedModel, serves
from core.queue import waiting_messages


@dataclass(frozen=True)
class ModelView:
    """One registry read: every entry, the live workers, and the deployment's default model's name."""

    entries: dict[str, ModelEntry]
    workers: list[dict[str, Any]]
    default: str | None
    served: dict[str, ServedModel] = field(default_factory=dict)  # served_model's answers from this read

    def serving(self, name: str) -> list[dict[str, Any]]:
        return [w for w in self.workers if serves(w, name, self.entries)]

    def loaded(self, name: str) -> list[tuple[str, LoadedModel]]:
        """(worker id, what it holds of the model) for every live worker that loaded or tried to load it."""
        out = []
        for w in self.workers:
            raw = (w.get("loaded") or {}).get(name)
            if raw:
                try:
                    out.append((w["id"], LoadedModel.model_validate(raw)))
                except ValidationError:
                    continue
        return out

    def status(self, name: str) -> str:
        """ready (a live worker serves it), loading, failed: why, or unserved (no live worker serves it)."""
        entry = self.entries[name]
        if entry.error or entry.contract is None:
            return f"failed: {entry.error or 'its folder does not read as a model'}"
        held = [m for _, m in self.loaded(name)]
        if not self.serving(name):
            return "unserved"
        if any(m.status == "loading" for m in held):
            return "loading"
        if held and all(m.status == "failed" for m in held):
            return f"failed: {held[0].error}"
        return "ready"


MODELS_FRESH_S = 1.0  # a registry read serves the requests of this long (workers publish it every few seconds)


def read_models(s: Services, *, fresh: bool = False) -> ModelView:
    """The registry and the live workers, read at most once per MODELS_FRESH_S per API process (unless `fresh`)."""
    now = time.monotonic()
    if not fresh and s.models_read is not None and now - s.models_read[0] < MODELS_FRESH_S:
        return s.models_read[1]
    entries = {}
    for name, raw in s.records.models().items():
        try:
            entries[name] = ModelEntry.model_validate_json(raw)
        except ValidationError:
            continue  # a worker of another release: its entries are not this API's contract
    workers = s.records.workers()
    defaults = sorted({w["default"] for w in workers if w.get("default") in entries})
    view = ModelView(entries, workers, defaults[0] if defaults else None)
    s.models_read = (now, view)
    return view


def served_model(s: Services, name: str, view: ModelView | None = None) -> ServedModel:
    """The model `name` as a request uses it: 422 when it is not registered, 503 when it cannot run now."""
    view = view or read_models(s)
    if name in view.served:
        return view.served[name]
    entry = view.entries.get(name)
    if entry is None:
        known = ", ".join(sorted(view.entries)) or "none yet (no worker has published the registry)"
        raise HTTPException(422, f"model {name!r} is not registered (deleted, or never added); the models: {known}")
    if entry.contract is None:
        raise HTTPException(503, f"model {name} cannot be used: {entry.error}")
    status = view.status(name)
    if status == "unserved":
        raise HTTPException(503, f"no live worker serves model {name}: start one with `diffusegae worker --models {name}` "
                                 "(or --models all)")
    if status.startswith("failed"):
        raise HTTPException(503, f"model {name} cannot be used: {status.removeprefix('failed: ')}")
    runs = next((m for _, m in view.loaded(name) if m.status == "ready"), None)
    where = {"device": runs.device, "runtime": runs.runtime, "runtime_note": runs.runtime_note} if runs else {}
    view.served[name] = ServedModel.model_validate({**entry.contract.model_dump(), **where})
    return view.served[name]


def chosen_model(s: Services, name: str | None, view: ModelView | None = None) -> ServedModel:
    """The model a request names, else the deployment's default (uploads that name none go to it); 503 until a worker
    published it."""
    view = view or read_models(s)
    if name is None and view.default is None:
        raise HTTPException(503, "no worker has published the models yet; start one (diffusegae worker) or wait for it")
    return served_model(s, name or view.default, view)


def get_default_model(s: ServicesDep) -> ServedModel:
    return chosen_model(s, None)


ModelDep = Annotated[ServedModel, Depends(get_default_model)]  # the default model (GET /api/model)


def model_of_image(s: Services, image_id: str, view: ModelView | None = None) -> str:
    """The model an image is encoded in (images from before models were named: the default model)."""
    name = s.records.fields(s.records.image_key(image_id), "model_name")["model_name"]
    if name:
        return name
    view = view or read_models(s)
    if view.default is None:
        raise HTTPException(503, "no worker has published the models yet; start one (diffusegae worker) or wait for it")
    return view.default


def queue_depths(s: Services, names: list[str]) -> dict[str, int]:
    """Task messages waiting in each model's queue."""
    return waiting_messages(s.records, s.settings, names)
