"""A model contract (core.models) as workers would publish it, for API tests that run no worker."""

from __future__ import annotations

import time
from typing import Any

from core.models import LoadedModel, ModelContract, ModelEntry

ATTRIBUTES = ("identity", "background", "pose")


def fake_model(**overrides: Any) -> dict[str, Any]:
    """The contract JSON of a small 3-attribute model (T = 1000 unless `num_timesteps` says otherwise); validated."""
    values = overrides.pop("values", {a: tuple(str(i) for i in range(n)) for a, n in zip(ATTRIBUTES, (6, 6, 10))})
    T = overrides.pop("num_timesteps", 1000)
    fields = {"name": "fake", "fingerprint": "f", "resolution": 16, "attributes": tuple(values),
              "chunk_sizes": (6, 4, 4), "values": values, "num_timesteps": T, "steps": {"min": 1, "max": T},
              "default_steps": 2, "default_sampler": "ddim", "samplers": ("ddim",), "spacing": "lambda", **overrides}
    return ModelContract.model_validate(fields).model_dump(mode="json")


def publish_fake(records, *models: dict[str, Any], worker: str = "w1", ttl: float = 600.0) -> None:
    """Publish `models` (fake_model dicts; the first is the default) as a worker that serves and loaded them would."""
    entries = {m["name"]: ModelEntry(name=m["name"], shipped=True, created=time.time(), contract=m).model_dump_json()
               for m in models}
    records.publish_models(entries)
    loaded = {m["name"]: LoadedModel(status="ready", fingerprint=m["fingerprint"], device="cpu", runtime="torch")
              .model_dump(mode="json") for m in models}
    records.heartbeat(worker, {"id": worker, "store": "", "serves": [m["name"] for m in models],
                               "default": models[0]["name"], "loaded": loaded}, ttl)
