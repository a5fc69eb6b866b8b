"""Request and response bodies of the API (pydantic v2); requests and responses are separate models."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from fastapi import UploadFile
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.models import DomainCheck
from core.webhooks import MAX_URL_LENGTH

MAX_WEIGHT = 3.0
MIN_STEPS = 1  # the most any model allows; each model's own range is in GET /api/model (`limits.steps`)
MIN_FRAMES, MAX_FRAMES = 2, 16


# --- requests ---

class RequestModel(BaseModel):
    """A request body: a field it does not have is a 422 naming it, never silently dropped (a misspelt
    `wieght` would otherwise run at the default weight); the OpenAPI schema says `additionalProperties: false`."""

    model_config = ConfigDict(extra="forbid")


CallbackUrl = Annotated[str | None, Field(
    None, max_length=MAX_URL_LENGTH,
    description="when the job (a batch: its last item) ends, POST its JSON here, signed with the X-DiffuseGAE-Signature "
                "header (see the README, Webhooks); only hosts the service allows (DGAE_WEBHOOK_HOSTS), else 422")]


class AttributeEdit(RequestModel):
    donor: str | None = Field(None, description="image id whose chunk to blend in; null keeps the base's chunk")
    value: str | None = Field(None, min_length=1, max_length=200,
                              description="instead of a donor: a value of the attribute, as the model names it (GET "
                                          "/api/model `values`), whose prototype chunk to blend in (models with "
                                          "`value_edits`)")
    weight: float = Field(1.0, description="0 keeps the base, 1 takes the donor's (or the value's) chunk; |weight| <= 3")

    @model_validator(mode="after")
    def _one_source(self) -> AttributeEdit:
        if self.donor is not None and self.value is not None:
            raise ValueError("give a donor image or a value, not both")
        return self

    @field_validator("weight")
    @classmethod
    def _weight(cls, v: float) -> float:
        if not math.isfinite(v) or abs(v) > MAX_WEIGHT:
            raise ValueError(f"weight must be a finite number between -{MAX_WEIGHT:g} and {MAX_WEIGHT:g}, got {v}")
        return v


class Sampling(RequestModel):
    x_T: Literal["inferred", "random"] = Field("inferred", description="the base's inferred x_T, or a seeded random one")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="seed of the random x_T")
    steps: int | None = Field(None, ge=MIN_STEPS, description="sampling steps (default: the model's); at most the "
                                                                "model's schedule length T (GET /api/model `limits.steps`)")
    sampler: str | None = Field(None, description="ddim or dpmpp_2m (default: the model's)")


class RecombineRequest(Sampling):
    """Minimal: {"base": "<image id>", "attributes": {"background": {"donor": "<image id>", "weight": 1.0}}}."""

    base: str = Field(description="image id of the base image")
    attributes: dict[str, AttributeEdit] = Field(default_factory=dict,
                                                 description="per attribute an optional donor and a weight; others keep the base")
    method: Literal["gae", "diffae"] = Field("gae", description="gae: the GAE's z_dis chunks blended towards donors' "
                                             "or values' (the paper's swap). diffae: Diff-AE's direction edit: z_sem "
                                             "moved towards each attribute's named value along its classifier's "
                                             "weight, `weight` the amplitude alpha (Diff-AE's demo: -0.5..0.5); values "
                                             "only, no donors (422), and only where the model has the directions "
                                             "(GET /api/models: diffae_edits)")
    callback_url: CallbackUrl = None
    preview: bool = Field(False, description="a quick draft while a control moves: the model's preview_steps "
                                             "(GET /api/model) unless steps is given")
    supersede: str | None = Field(None, min_length=1, max_length=200,
                                  description="a key of the client's choosing (e.g. one per editor): the job submitted "
                                              "last with the same key is cancelled if it has not started yet")


class InterpolateRequest(Sampling):
    base: str
    donor: str
    attributes: list[str] | None = Field(None, description="chunks to interpolate; null: all")
    frames: int = Field(7, ge=MIN_FRAMES, le=MAX_FRAMES)
    callback_url: CallbackUrl = None


ModelName = Annotated[str | None, Field(None, min_length=1, max_length=64,
                                        description="a registered model (GET /api/models); null: the default model")]


class BatchRequest(RequestModel):
    items: list[RecombineRequest] = Field(min_length=1, description="recombine bodies, without callback_url, preview or supersede")
    callback_url: CallbackUrl = None
    model: ModelName = Field(None, description="the model every item runs in (its images must be encoded in it; the "
                                               "zip's images are uploaded into it); null: the default model")


class ImageUpload(RequestModel):
    """The multipart form of an image upload."""

    file: UploadFile = Field(description="PNG, JPEG or WebP")
    model: ModelName = None


class DatasetUpload(RequestModel):
    """The multipart form of a dataset upload."""

    file: UploadFile = Field(description="a zip or tar of the images with labels.csv (a 'file' column with each "
                                         "image's path relative to it, and one column per attribute)")
    name: str | None = Field(None, max_length=100, description="for people (default: the archive's file name)")
    resolution: int = Field(64, ge=8, le=1024, description="the resolution a model will be trained at: every image "
                                                           "must be at least this large on each side")


class TrainingRequest(RequestModel):
    dataset: str = Field(description="an uploaded dataset's id (POST /api/datasets)")
    base_model: str | None = Field(None, max_length=64, description="whose diffusion autoencoder the new GAE is "
                                                                    "trained on (default: the default model)")
    name: str | None = Field(None, min_length=1, max_length=64, description="the new model's name: 1-64 lowercase "
                             "letters, digits, '.', '_' or '-' (409 when taken: a model is never overwritten). "
                             "Default: the dataset's name made a model name, with -v2, -v3, ... when a training "
                             "made it before")
    chunk_sizes: list[int] | None = Field(None, min_length=2, max_length=10, description="z_dis dimensions per "
                                          "attribute, in the dataset's column order (each 1-256, at most 512 in all). "
                                          "Default: 60/20/20 for three attributes, else 100 split evenly")
    stages: Literal["gae"] = Field("gae", description="gae: a new GAE on the base's frozen autoencoder (the paper's "
                                                      "quick path), then its domain check and value prototypes")
    steps: int = Field(2000, ge=1, le=200_000, description="GAE optimiser steps (about 0.7 s each on a 2-core CPU); "
                                                          "with budget_s, at most this many")
    budget_s: float | None = Field(None, ge=10, le=7 * 86400, description="a time budget in seconds: the training "
                                   "worker measures its pace and trains the GAE steps that fill 60% of it (the rest: "
                                   "encoding, domain check, prototypes); the job's progress total says how many")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    callback_url: CallbackUrl = None
    checkpoint_every: int | None = Field(None, ge=1, le=200_000, description="GAE steps between checkpoints in the "
                                         "store, from which a training continues after its worker died or after "
                                         "POST /api/trainings/{id}/resume (default: a tenth of the steps, at least 50; 50 with "
                                         "budget_s)")


class EncodeRequest(RequestModel):
    model: str = Field(min_length=1, max_length=64, description="a registered model (GET /api/models)")


# --- responses ---

class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="where: body, query, path or header, then the field")
    msg: str


class ErrorOut(BaseModel):
    """Every error response (4xx, 503): a message for people; request validation adds the single issues."""

    detail: str = Field(description="what went wrong and, where it helps, what to do")
    errors: list[ValidationIssue] | None = Field(None, description="request validation (422): each issue")


class DomainVerdict(BaseModel):
    """Scores of the check the model's domain calibration chose (its domain/model.json `score`): the round trip
    below by default; only a model calibrated with `mahalanobis` reports the RMS Mahalanobis distance of z_sem per
    dimension (about 1 for a training image) instead."""

    in_domain: bool = Field(description="looks like the model's training images: score <= threshold (for a whole "
                                        "image checked with roundtrip+chunks, every chunk in domain too)")
    score: float = Field(description="how unlike the training images: of the image, the GAE round-trip error "
                                     "|D(E(z)) - z| / |z| of its normalised z_sem (a few hundredths for "
                                     "training images); of a chunk, its z_dis cycle error over the training chunks' spread")
    threshold: float = Field(description="calibrated on held-out training-set images (models/<name>/domain/model.json)")


class DomainOut(DomainVerdict):
    """Whether the model knows this kind of image (its z_sem), and per attribute chunk of z_dis (an image may hold
    a known object on an unknown background). Out of domain: its edits are unreliable."""

    chunks: dict[str, DomainVerdict] | None = Field(None, description="the same per z_dis chunk (attribute)")


class CropOut(BaseModel):
    """What preprocessing did to the upload: the centre square the model sees, resized to the model's resolution."""

    box: tuple[int, int, int, int] = Field(description="left, top, right, bottom of the square kept, in the upright "
                                                       "upload's pixels")
    cropped: bool = Field(description="the upload was not square: the parts outside `box` were cut off")
    resized: bool = Field(description="the square was scaled to the model's resolution")
    source_size: tuple[int, int] = Field(description="width, height of the upright upload")
    resolution: int = Field(description="the model's input size (pixels per side)")


class ImageOut(BaseModel):
    id: str
    model: str | None = Field(None, description="the model it is encoded in (null: uploaded before models were named, "
                                                "the default model)")
    status: Literal["queued", "encoding", "ready", "failed"]
    progress: float
    error: str | None = None
    chunks: dict[str, list[float]] | None = None
    filename: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    url: str = Field(description="the image as the model sees it (PNG at model resolution); with API keys a signed URL")
    original_url: str
    domain: DomainOut | None = Field(None, description="once encoded: is this the kind of image the model knows? null "
                                                       "while encoding, or when the model has no domain statistics")
    crop: CropOut | None = Field(None, description="once encoded: how the upload was cropped and resized")


class ImageList(BaseModel):
    images: list[ImageOut]


class Limits(BaseModel):
    """What requests may ask for, so that a client's controls can offer exactly that."""

    weight: tuple[float, float] = (-MAX_WEIGHT, MAX_WEIGHT)
    steps: tuple[int, int] = Field(description="the model's: 1 (2 with linspace spacing) .. its schedule's T")
    frames: tuple[int, int] = (MIN_FRAMES, MAX_FRAMES)


class ModelOut(BaseModel):
    name: str
    attributes: list[str]
    chunk_sizes: list[int]
    values: dict[str, list[str]]
    resolution: int
    default_steps: int
    default_sampler: str
    samplers: list[str]
    spacing: str = Field(description="how the sampling steps spread over the schedule (lambda, trailing, linspace)")
    num_timesteps: int = Field(description="T of the noise schedule: the most steps a request may ask for")
    dataset: str = ""
    domain: DomainCheck | None = Field(None, description="how uploads are judged in or out of domain; null: they are not")
    value_edits: bool = Field(False, description="an attribute can be set to one of its `values` by name, without a "
                                                 "donor image (recombine `{\"value\": ...}`)")
    diffae_edits: bool = Field(False, description="recombine takes method diffae (Diff-AE's direction edits)")
    device: str | None = None
    runtime: str | None = Field(None, description="what runs the model: onnx (ONNX Runtime) or torch")
    runtime_note: str | None = Field(None, description="why the runtime set is not the one in use (empty when it is)")
    description: str | None = Field(None, description="one line: the inputs the model knows (its training data)")
    examples: list[str] = Field(default_factory=list, description="URLs of a few images the model knows (PNG)")
    example_labels: list[dict[str, str] | None] = Field(
        default_factory=list, description="per example (in the order of `examples`), the value name of each attribute "
                                          "it shows, e.g. {\"identity\": \"bus\", ...}; null where not known")
    preview_steps: int | None = Field(None, description="sampler steps of a `preview` request (live preview while dragging)")
    limits: Limits = Field(description="ranges of weight, steps and frames a request may use")


class ModelSummary(BaseModel):
    """A registered model in the list of models."""

    name: str
    status: str = Field(description="ready (a live worker serves it), loading, unserved, or failed: why")
    default: bool = Field(description="uploads that name no model go to it")
    shipped: bool = Field(description="comes with the deployment (cannot be deleted)")
    created: float = Field(description="when its folder was made (unix seconds)")
    resolution: int | None = None
    attributes: list[str] = Field(default_factory=list)
    values: dict[str, list[str]] = Field(default_factory=dict)
    chunk_sizes: list[int] = Field(default_factory=list)
    default_steps: int | None = None
    limits: Limits | None = None
    dataset: str = ""
    description: str = ""
    value_edits: bool = Field(False, description="an attribute can be set to a named value without a donor image")
    diffae_edits: bool = Field(False, description="recombine takes method diffae (Diff-AE's direction edits)")
    thumbnail_url: str | None = Field(None, description="its first example image")
    metrics: dict = Field(default_factory=dict, description="key figures of its evaluation (eval/metrics.json)")
    url: str = Field(description="all about it: its card, examples and figures")


class ModelList(BaseModel):
    models: list[ModelSummary]
    default: str | None = Field(description="the default model's name")


class ModelDetail(ModelSummary):
    samplers: list[str] = Field(default_factory=list)
    default_sampler: str | None = None
    spacing: str | None = None
    num_timesteps: int | None = None
    examples: list[str] = Field(default_factory=list, description="URLs of a few images it knows (PNG)")
    example_labels: list[dict[str, str] | None] = Field(default_factory=list)
    figures: list[str] = Field(default_factory=list, description="URLs of its evaluation figures (PNG)")
    card_html: str | None = Field(None, description="its model card (MODEL_CARD.md) rendered to HTML")
    card_markdown: str | None = None
    workers: list[str] = Field(default_factory=list, description="live workers that serve it")
    loaded_on: list[str] = Field(default_factory=list)


class DatasetOut(BaseModel):
    id: str
    name: str
    created: float
    resolution: int
    images: int
    bytes: int
    attributes: list[str]
    values: dict[str, list[str]] = Field(description="each attribute's values, in order of first appearance")
    counts: dict[str, dict[str, int]] = Field(description="images per value of each attribute")
    warnings: list[str] = Field(description="what is allowed but worth a look: imbalance, duplicate images")
    contact_sheets: dict[str, str] = Field(description="per attribute, a PNG of thumbnails per value")


class DatasetList(BaseModel):
    datasets: list[DatasetOut]


class Progress(BaseModel):
    done: int
    total: int


JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class DomainWarning(BaseModel):
    """An image of the job that its domain verdict says the model does not know (`domain.in_domain` false, the
    UI's out-of-domain banner): the edit may come out unreliable."""

    image: str = Field(description="the image id")
    role: Literal["base", "donor"]
    attribute: str | None = Field(description="the attribute whose chunk a recombine donor gives; null for the "
                                              "base and for an interpolation's donor")
    message: str = Field(description="the same for people")


Warnings = Annotated[list[DomainWarning], Field(
    default_factory=list, description="images of the job the model does not know (out of its training domain), "
                                      "once they are encoded; empty when all are in domain or the model has no "
                                      "domain statistics")]


class WebhookOut(BaseModel):
    """The delivery of a job's or batch's callback (it is not part of the JSON that is POSTed)."""

    url: str
    state: Literal["waiting", "pending", "delivered", "failed"] = Field(
        description="waiting: the job has not ended; pending: being sent or retried; delivered: a 2xx answer; "
                    "failed: every attempt failed")
    attempts: int
    last_error: str | None = None


class TrainingProgress(BaseModel):
    stage: str = Field(description="queued, gae (training the GAE), domain (its domain check), prototypes, "
                                   "registering, done")
    losses: list[tuple[int, float]] = Field(description="the GAE's loss: [step, loss] about once a second")
    eta_s: float | None = Field(None, description="while the GAE trains: seconds left at the pace so far")
    checkpoint_step: int | None = Field(None, description="the step of the last checkpoint in the store")
    resumed_step: int | None = Field(None, description="the checkpoint's step this run continued from (after its "
                                                       "worker died, or a resume)")
    resume_from: str | None = Field(None, description="a resumed training: the id of the one it continues")
    steps_per_s: float | None = Field(None, description="while the GAE trains: this run's pace")
    sample_step: int | None = Field(None, description="the step of the figure at sample_url")
    dataset: str | None = Field(None, description="the dataset it trains on")
    name: str | None = Field(None, description="the model it registers (a default name may move to the next version "
                                               "if another training took it meanwhile: the job's `model` says)")
    base_model: str | None = None
    seed: int | None = None
    checkpoint_every: int | None = None
    budget_s: float | None = Field(None, description="its time budget, when it was given one")
    sample_url: str | None = Field(None, description="the figure of the last checkpoint: a few of the dataset's "
                                                     "images, their reconstructions, then one row of swaps per "
                                                     "attribute (each image takes it from the next)")


class JobOut(BaseModel):
    id: str
    kind: Literal["recombine", "interpolate", "train"]
    model: str | None = Field(None, description="a training that succeeded: the model it registered")
    training: TrainingProgress | None = Field(None, description="a training: its stage, loss series and time left")
    state: JobState
    progress: Progress
    error: str | None = None
    result_url: str | None = None
    frames: int | None = None
    frame_urls: list[str] | None = None
    events_url: str = Field(description="the server-sent event stream; with API keys a signed URL (see README)")
    batch: str | None = None
    steps: int
    sampler: str
    created: float
    queue_position: int | None = Field(None, description="while queued: how many queued units a worker takes before it")
    webhook: WebhookOut | None = Field(None, description="with a callback_url: its delivery")
    x0_preview_url: str | None = Field(None, description="while a long decode runs (steps >= 50): where to get the "
                                                         "sampler's latest clean-image estimate x0_hat of its first "
                                                         "image (PNG, GET /api/jobs/{id}/x0.png); a new URL for every "
                                                         "new estimate; with API keys a signed URL")
    x0_step: int | None = Field(None, description="the sampler step of the estimate x0_preview_url names")
    warnings: Warnings


class QueueJob(BaseModel):
    id: str
    state: JobState
    queue_position: int | None = Field(None, description="while queued: how many queued units a worker takes before it")


class QueueOut(BaseModel):
    waiting: dict[str, int] = Field(description="queued units per lane: interactive (edits), bulk (encodes, batch items)")
    workers: int
    models: list[ModelServing] = Field(default_factory=list, description="per model: its workers and queue depth")
    jobs: list[QueueJob] = Field(description="the caller's queued and running jobs, newest first")


class BatchItemOut(BaseModel):
    index: int
    job_id: str
    state: JobState
    error: str | None = None
    result_url: str | None = Field(None, description="the item's result PNG once it succeeded")
    warnings: Warnings


class BatchOut(BaseModel):
    id: str
    state: JobState
    total: int
    done: int = Field(description="items that succeeded")
    failed: int
    cancelled: int
    progress: float = Field(description="0..1 over the whole batch, counting sampler steps")
    results_url: str
    items: list[BatchItemOut] | None = None
    webhook: WebhookOut | None = Field(None, description="with a callback_url: its delivery")


class ModelHealth(BaseModel):
    """The model a live worker has loaded, in brief (its attributes, value names and examples: GET /api/model)."""

    name: str
    device: str | None = None
    runtime: str | None = Field(None, description="what runs the model: onnx (ONNX Runtime) or torch")
    runtime_note: str | None = Field(None, description="why the runtime set is not the one in use (empty when it is)")


class ModelServing(BaseModel):
    """Who serves one model, what they hold, and how much of its work waits."""

    name: str
    status: str = Field(description="ready, loading, unserved (no live worker serves it) or failed: why")
    workers: list[str] = Field(description="live workers that serve it (consume its queue)")
    loaded_on: list[str] = Field(description="of those, the ones that hold it loaded")
    load_s: float | None = Field(None, description="how long its last load took")
    source: str | None = Field(None, description="where it was loaded from: its folder on the worker's disk, the "
                                                 "worker's cache, or the store (fetched, every SHA-256 checked)")
    queued: int = Field(description="task messages waiting in its queue")


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    redis: bool
    store: bool = Field(True, description="the store (folder or S3 bucket) answers")
    workers: int
    model: ModelHealth | None = Field(None, description="the default model when a live worker has it loaded; all about "
                                                        "it: GET /api/model")
    models: list[ModelServing] = Field(default_factory=list, description="every registered model: who serves it")
    model_error: str | None = None
    detail: str | None = None
    api_keys: bool = Field(description="requests need an API key (DGAE_API_KEYS); false: every visitor shares one "
                                       "set of images and jobs")
