"""The typed contract of a decode job: what the API writes into a job record and the worker reads back.

A job record's `spec` field holds one of these as JSON (`spec.model_dump_json()`); the worker parses
it with `parse_job_spec`. By then every id has been checked to belong to the caller and the steps
and sampler are resolved (the model's defaults filled in), so the worker only computes.

Units that can share one sampler batch have the same group, and a group never spans two models: the
encodes of one model share `encode_group(model)`; decode jobs share a group (`sampler_group`) when
they run the same model with the same sampler for the same steps in the same lane. The lane says
how urgent a job is: "interactive" edits (recombine, interpolate) go before "bulk" work (encodes,
batch items) in the queue, and never share a sampler batch with it.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

Lane = Literal["interactive", "bulk"]
ENCODE_LANE: Lane = "bulk"


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Blend(_Spec):
    """One attribute's chunk: base + weight (source - base), the source a donor image's chunk or a value's prototype
    chunk (diffusegae.fitting.prototypes); neither keeps the base's chunk."""

    donor: str | None
    value: str | None = None  # a value name of the attribute (never with a donor)
    weight: float


class Sampling(_Spec):
    model: str  # the registered model the job runs in (every image it names is encoded in that model)
    x_T: Literal["inferred", "random"]  # the base's inferred stochastic code, or a seeded N(0, I) one
    seed: int
    steps: int
    sampler: str
    lane: Lane = "interactive"


class RecombineSpec(Sampling):
    kind: Literal["recombine"] = "recombine"
    base: str
    attributes: dict[str, Blend]  # only the named attributes change
    method: Literal["gae", "diffae"] = "gae"  # diffae: values only, each weight the amplitude of a z_sem move

    def image_ids(self) -> list[str]:
        return [self.base, *(b.donor for b in self.attributes.values() if b.donor)]


class InterpolateSpec(Sampling):
    kind: Literal["interpolate"] = "interpolate"
    base: str
    donor: str
    attributes: tuple[str, ...] | None  # the chunks to interpolate; None: all (and x_T is slerped too)
    frames: int

    def image_ids(self) -> list[str]:
        return [self.base, self.donor]


class TrainSpec(_Spec):
    """A training job (diffusegae.training.quick): a GAE for an uploaded dataset on a base model's autoencoder, the
    result registered as the model `name`. Runs on the training queue, one at a time."""

    kind: Literal["train"] = "train"
    dataset: str
    base_model: str
    name: str
    versioned: bool = False  # the name was chosen by default: taken by the time it registers, the next version is
    steps: int  # with budget_s: at most this many
    budget_s: float = 0  # > 0: the worker plans the steps that fit (diffusegae.training.quick.steps_for_budget)
    seed: int = 0
    checkpoint_every: int = 0  # GAE steps between checkpoints in the store (0: none before the end)
    chunk_sizes: tuple[int, ...] | None = None  # z_dis dimensions per attribute (None: config.default_chunk_sizes)
    resume_from: str = ""  # the id of the stopped training whose last checkpoint this one continues
    lane: Lane = "bulk"

    def image_ids(self) -> list[str]:
        return []


TRAIN_GROUP = "train"  # trainings share no batch: each is claimed alone

JobSpec = Annotated[RecombineSpec | InterpolateSpec, Field(discriminator="kind")]
_JOB_SPEC: TypeAdapter[RecombineSpec | InterpolateSpec] = TypeAdapter(JobSpec)


def parse_job_spec(raw: str) -> RecombineSpec | InterpolateSpec:
    """A job record's `spec` field -> its spec (pydantic.ValidationError when it is not one, or a training's)."""
    return _JOB_SPEC.validate_json(raw)


def spec_model(raw: str) -> str:
    """The model a job record's `spec` field names ("" when none: a record from before models were named, a
    training's, or one that is not JSON)."""
    try:
        model = json.loads(raw or "{}").get("model")
    except (ValueError, AttributeError):
        return ""
    return model if isinstance(model, str) else ""


def parse_train_spec(raw: str) -> TrainSpec:
    return TrainSpec.model_validate_json(raw)


def encode_group(model: str) -> str:
    """The batching group of an image's encoding in `model`: z_sem, z_dis and the inferred x_T, at its defaults."""
    return f"encode:{model}"


def model_of_group(group: str) -> str:
    """The model whose units a group holds (encode_group, sampler_group)."""
    return group.split(":")[1] if group.count(":") >= 1 else ""


def sampler_group(spec: RecombineSpec | InterpolateSpec | TrainSpec) -> str:
    """The batching group of a decode job: jobs of one group can run as one sampler batch (a training: its own)."""
    if isinstance(spec, TrainSpec):
        return TRAIN_GROUP
    return f"decode:{spec.model}:{spec.lane}:{spec.steps}:{spec.sampler}"
