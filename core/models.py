"""The typed contracts of models: what workers publish of the models a deployment knows, what the API reads.

- `ModelEntry`: one registered model (diffusegae.registry) with its `ModelContract` (what its folder defines:
  request limits, attributes, values, defaults), published by every worker from the registry it reads;
  the API lists them (`GET /api/models`) and checks each request against its image's model.
- `LoadedModel`: a model as one worker holds it (loading, ready, failed), in that worker's heartbeat.
- `ServedModel`: the contract as a route gets it, with where it runs when a worker has it loaded.

No torch here: the worker fills them from `diffusegae.editing.ModelInfo` and the model's files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# A model's name; also a Celery queue's suffix. The library's twin is diffusegae.registry.MODEL_NAME (the library
# imports nothing of core): the two must agree.
MODEL_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
DomainScore = Literal["roundtrip", "mahalanobis", "roundtrip+chunks"]


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StepRange(_Contract):
    """Sampling steps a request may ask for: at least 1 (2 with "linspace" spacing), at most the schedule's T."""

    min: int = Field(ge=1)
    max: int = Field(ge=1)


class DomainCheck(_Contract):
    """How the model decides whether an upload is of a kind it knows (diffusegae.domain)."""

    score: DomainScore = Field(description="what decides the verdict: the GAE round-trip error of z_sem "
                                           "(roundtrip), the z_sem Mahalanobis distance, or the round trip and "
                                           "every z_dis chunk's cycle error (roundtrip+chunks)")


class ModelContract(_Contract):
    """One model, as its folder defines it."""

    name: str
    fingerprint: str = Field(description="of the model folder's weights and manifest: latents of another differ")
    resolution: int
    attributes: tuple[str, ...]
    chunk_sizes: tuple[int, ...]
    values: dict[str, tuple[str, ...]]
    num_timesteps: int = Field(description="T of the noise schedule")
    steps: StepRange
    default_steps: int
    default_sampler: str
    samplers: tuple[str, ...]
    spacing: str = Field(description="how the sampling steps are spread over the schedule (model.json)")
    description: str = ""
    dataset: str = ""
    examples: int = Field(0, description="how many example images it serves")
    example_labels: tuple[dict[str, str], ...] = ()
    domain: DomainCheck | None = Field(None, description="None: no domain statistics, uploads are not judged")
    value_edits: bool = Field(False, description="it has value prototypes: an attribute can be set to a named value "
                                                 "without a donor image")
    diffae_edits: bool = Field(False, description="it has Diff-AE's directions: method diffae moves z_sem towards a "
                                                  "named value")

    @model_validator(mode="after")
    def _consistent(self) -> ModelContract:
        if len(self.chunk_sizes) != len(self.attributes) or set(self.values) != set(self.attributes):
            raise ValueError("attributes, chunk_sizes and values must name the same attributes")
        if not self.steps.min <= self.default_steps <= self.steps.max:
            raise ValueError(f"default_steps {self.default_steps} is outside {self.steps.min}..{self.steps.max}")
        if self.default_sampler not in self.samplers:
            raise ValueError(f"default_sampler {self.default_sampler!r} is not one of {list(self.samplers)}")
        return self

    def check_steps(self, steps: int) -> None:
        """ValueError, saying the range and why, when a request's steps are outside what this model can run."""
        if not self.steps.min <= steps <= self.steps.max:
            raise ValueError(f"{steps} is outside {self.steps.min}..{self.steps.max}, the steps model {self.name} can run "
                             f"(its schedule has T = {self.num_timesteps}, {self.spacing} spacing)")

    def check_sampler(self, sampler: str) -> None:
        if sampler not in self.samplers:
            raise ValueError(f"unknown sampler {sampler!r}; model {self.name} has {', '.join(self.samplers)}")


class ModelEntry(_Contract):
    """A model of the deployment's registry, as workers publish it (Redis `models`, core.records.presence)."""

    name: str
    shipped: bool = Field(description="comes with the deployment (cannot be deleted)")
    created: float = Field(description="when its folder was made (unix seconds)")
    error: str = Field("", description="its folder does not read as a model: why (then contract is null)")
    contract: ModelContract | None = None
    metrics: dict[str, Any] = Field(default_factory=dict, description="key figures of its eval/metrics.json")
    figures: tuple[str, ...] = Field((), description="its evaluation figures (eval/*.png)")
    card: bool = Field(False, description="it has a model card (MODEL_CARD.md)")


class LoadedModel(_Contract):
    """A model in one worker's memory (its heartbeat lists them)."""

    status: Literal["loading", "ready", "failed"]
    error: str = ""
    fingerprint: str = ""
    device: str = ""
    runtime: str = ""
    runtime_note: str = ""
    load_s: float | None = Field(None, description="how long loading took (fetching from the store included)")
    source: str = Field("", description="where it was loaded from: its folder, the cache, or the store")
    used: float = Field(0.0, description="last used (unix seconds): the least recently used one is unloaded first")


class ServedModel(ModelContract):
    """A model as a route gets it: the contract plus where it runs (empty while no live worker has it loaded)."""

    device: str = ""
    runtime: str = Field("", description="what runs the networks: onnx (ONNX Runtime) or torch")
    runtime_note: str = Field("", description="why the runtime set is not the one in use (empty when it is)")


ALL_MODELS = "all"  # a worker that serves every registered model (DGAE_WORKER_MODELS=all)


def serves(worker: dict[str, Any], model: str, registered: Collection[str]) -> bool:
    """Whether a live worker (its heartbeat info) serves `model`; one that serves all serves the registered ones."""
    names = worker.get("serves") or ()
    return model in names or (ALL_MODELS in names and model in registered)


def model_queue(queue: str, model: str) -> str:
    """The Celery queue of one model's units: only workers that serve the model consume it."""
    return f"{queue}.{model}"


def model_stem(text: str) -> str:
    """A model name made of any text (a dataset's file name): lowercase, other characters as '-'."""
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower().rsplit(".", 1)[0]).strip("-._")[:56] or "model"


def free_version(stem: str, taken: Callable[[str], bool]) -> str | None:
    """`stem`, else `stem`-v2, -v3, ...: the first that is not `taken` (None past -v999). A training named by
    default gets a new version; a model is never overwritten."""
    for version in range(1, 1000):
        name = stem if version == 1 else f"{stem}-v{version}"
        if not taken(name):
            return name
    return None
