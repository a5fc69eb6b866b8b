"""A model contract (core.models) as a worker would publish it, for API tests that run no worker."""

from __future__ import annotations

from typing import Any

from core.models import ServedModel

ATTRIBUTES = ("identity", "background", "pose")


def fake_model(**overrides: Any) -> dict[str, Any]:
    """The published JSON of a small 3-attribute model (T = 1000 unless `num_timesteps` says otherwise); validated."""
    values = overrides.pop("values", {a: tuple(str(i) for i in range(n)) for a, n in zip(ATTRIBUTES, (6, 6, 10))})
    T = overrides.pop("num_timesteps", 1000)
    fields = {"name": "fake", "fingerprint": "f", "resolution": 16, "attributes": tuple(values),
              "chunk_sizes": (6, 4, 4), "values": values, "num_timesteps": T, "steps": {"min": 1, "max": T},
              "default_steps": 2, "default_sampler": "ddim", "samplers": ("ddim",), "spacing": "lambda",
              "device": "cpu", "runtime": "torch", **overrides}
    return ServedModel.model_validate(fields).model_dump(mode="json")
