"""The typed contract of a served model: what a worker publishes of the model it loaded, what the API reads.

A worker builds one `ServedModel` from its loaded model folder (worker.process) and publishes it as JSON
in Redis; the API parses it back (`parse_served_model`) and hands it to routes typed: request limits
(steps, attributes, values), the defaults a request falls back to, and `GET /api/model` all read it.
It names everything a registry of several models needs (name, fingerprint, dataset, status); a
deployment that serves several models publishes a list of these.

No torch here: the worker fills it from `diffusegae.editing.ModelInfo` and the model's schedule.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


class ServedModel(ModelContract):
    """A model as one worker serves it: the contract plus where and how it runs."""

    status: Literal["ready"] = "ready"
    device: str
    runtime: str = Field(description="what runs the networks: onnx (ONNX Runtime) or torch")
    runtime_note: str = Field("", description="why the runtime set is not the one in use (empty when it is)")


def parse_served_model(raw: str | bytes) -> ServedModel:
    """A published model's JSON -> the contract (pydantic.ValidationError when it is not one)."""
    return ServedModel.model_validate_json(raw)
