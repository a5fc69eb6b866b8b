"""All service settings in one place, read from the environment (prefix `DGAE_`).

Both halves read the same class: the API (limits, keys, where the store is) and the worker
(model folder, device, threads). Example: `DGAE_REDIS_URL=redis://redis:6379/0 diffusegae api`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.webhooks import parse_allowed

ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DGAE_", extra="ignore")

    # --- where things are ---
    redis_url: str = "redis://127.0.0.1:6379/0"  # job records, progress and the Celery broker
    key_prefix: str = "dgae:"  # prefix of every Redis key we and Celery's transport write
    queue: str = "diffusegae"  # Celery queue the API sends to and the workers consume
    store_dir: Path = ROOT / "var" / "store"  # uploads, latents, results (folder backend), registered models
    # s3://BUCKET/PREFIX: uploads, latents and results in that bucket (core.blobs; credentials from AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY, the bucket made when missing); empty: the folder DGAE_STORE_DIR
    store_url: str = ""
    s3_endpoint: str | None = None  # the S3 server's URL when it is not AWS (e.g. SeaweedFS: http://127.0.0.1:8333)
    # where a worker keeps the registered models it fetched from the store (by content hash); None: ~/.cache/diffusegae/models
    model_cache: Path | None = None
    model_dir: Path = ROOT / "models" / "vehicles-64"  # the default model's folder (uploads that name no model)
    models_dir: Path | None = ROOT / "models"  # more shipped models: each folder in it with a model.json
    frontend_dir: Path = ROOT / "frontend"  # static UI served at / when the folder exists

    # --- the worker ---
    device: str | None = None  # None: cuda if available, else cpu
    # The models a worker serves (consumes the queues of), comma-separated names or "all" (every registered model).
    worker_models: Annotated[list[str], NoDecode] = ["all"]
    max_models: int = Field(2, ge=1)  # models a worker keeps loaded; the least recently used is unloaded first
    # The worker also runs trainings (the training queue); with DGAE_WORKER_MODELS=none it runs trainings only.
    worker_train: bool = False
    # A queued unit of a model that no live worker serves fails after this long (workers check; README, "Models").
    unserved_timeout: float = Field(120.0, gt=0)
    torch_threads: int = 0  # CPU threads per worker process; 0: half the cores (at least 1)
    # What runs the UNet and the encoder (diffusegae/runtime.py): "onnx" (ONNX Runtime on the CPU, DGAE_TORCH_THREADS
    # intra-op threads; exported on first load and checked against torch, which it falls back to) or "torch".
    runtime: Literal["onnx", "torch"] = "onnx"
    onnx_cache_dir: Path | None = None  # where ONNX exports are cached; None: ~/.cache/diffusegae
    # torch runs batches of this many images or more under bf16 autocast; None: all on CUDA, none on the CPU; 0: never
    bf16_min_batch: int | None = Field(None, ge=0)
    max_sampler_batch: int = Field(16, ge=1)  # queued interactive edits merged into one sampler batch
    # Bulk work (encodes, batch items) runs in smaller batches: an interactive edit that arrives waits for one of them.
    max_bulk_batch: int = Field(4, ge=1)
    heartbeat_ttl: float = Field(15.0, gt=0)  # a worker silent this long is dead; its jobs may be taken over
    visibility_timeout: float = Field(3600.0, gt=0)  # unacked task redelivered after this (SIGKILLed worker)
    restore_interval: float = Field(10.0, gt=0)  # how often idle workers look for such tasks
    # Images, jobs, batches and their files are deleted this long after their last use (workers sweep).
    retention_s: float = Field(7 * 24 * 3600.0, gt=0)
    # --- live previews while dragging (README, "Live preview") ---
    preview_steps: int = Field(1, ge=1)  # sampler steps of a `preview` request (the model's default steps if fewer)
    x0_preview_min_steps: int = Field(50, ge=1)  # decodes of this many steps or more publish x0 estimates as they run

    # --- limits on input ---
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1)  # one uploaded image
    max_image_pixels: int = Field(16_000_000, ge=1)  # width x height before decoding (decompression bombs)
    max_concurrent_decodes: int = Field(2, ge=1)  # full-size image decodes at once per API process (PNG/WebP checks)
    max_zip_bytes: int = Field(200 * 1024 * 1024, ge=1)  # a batch zip, compressed and uncompressed
    max_json_bytes: int = Field(4 * 1024 * 1024, ge=1)  # a JSON body, and a batch's spec (JSON or CSV)
    max_batch_items: int = Field(500, ge=1)  # recombination specs in one batch
    max_dataset_bytes: int = Field(512 * 1024 * 1024, ge=1)  # an uploaded dataset archive, packed and unpacked
    max_dataset_files: int = Field(50_000, ge=1)  # files in a dataset archive
    dataset_min_per_value: int = Field(2, ge=1)  # images each attribute value needs in a dataset
    max_wait: float = Field(300.0, ge=0)  # longest ?wait= a request may ask for

    # --- access ---
    api_keys: Annotated[list[str], NoDecode] = []  # comma-separated; empty: no keys needed
    # The same bytes uploaded under two keys share one encoding (None: only when no keys are set). Sharing
    # lets a key learn that another uploaded that picture (it is ready at once); nothing else crosses.
    share_encodings: bool | None = None
    redis_timeout: float = Field(2.0, gt=0)  # seconds before "Redis is down" (503)
    # With keys, URLs for <img>, EventSource and downloads are signed for the key's owner (core/signing.py) and
    # good for this long. The secret: this setting, or (unset) a random one the first API process keeps in Redis.
    url_signing_secret: SecretStr | None = None
    signed_url_ttl: float = Field(15 * 60.0, ge=60)

    # --- webhooks: a job's or batch's callback_url (core/webhooks.py) ---
    webhook_hosts: Annotated[list[str], NoDecode] = []  # host or host:port callbacks may name, comma-separated; empty: off
    webhook_secret: SecretStr = SecretStr("")  # HMAC-SHA256 key of the signature header; required when hosts are set
    webhook_timeout: float = Field(10.0, gt=0)  # seconds one delivery attempt may take
    webhook_attempts: int = Field(10, ge=1)  # attempts before a delivery counts as failed
    webhook_backoff: float = Field(2.0, gt=0)  # seconds before the 2nd attempt, doubling after each (at most 10 min)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, v: object) -> object:
        if isinstance(v, str):
            return [k.strip() for k in v.split(",") if k.strip()]
        return v

    @field_validator("models_dir", mode="before")
    @classmethod
    def _no_models_dir(cls, v: object) -> object:
        return None if v == "" else v  # DGAE_MODELS_DIR= : no more shipped models than the default

    @field_validator("worker_models", mode="before")
    @classmethod
    def _split_models(cls, v: object) -> object:
        if isinstance(v, str):
            return [m.strip() for m in v.split(",") if m.strip()] or ["all"]
        return v

    @field_validator("webhook_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, v: object) -> object:
        if isinstance(v, str):
            v = [h.strip() for h in v.split(",") if h.strip()]
        if isinstance(v, list):
            parse_allowed(v)  # a malformed entry stops the service at start, with the entry named
        return v

    @model_validator(mode="after")
    def _webhooks_are_signed(self) -> Settings:
        if self.webhook_hosts and not self.webhook_secret.get_secret_value():
            raise ValueError("DGAE_WEBHOOK_HOSTS is set but DGAE_WEBHOOK_SECRET is empty: webhooks are only sent signed")
        return self

    def webhooks_on(self) -> bool:
        return bool(self.webhook_hosts)

    def shares_encodings(self) -> bool:
        return not self.api_keys if self.share_encodings is None else self.share_encodings

    def shipped_models(self) -> list[Path]:
        """The folders of shipped models: the default model's, and DGAE_MODELS_DIR (diffusegae.registry)."""
        return [self.model_dir, *([self.models_dir] if self.models_dir else [])]

    def torch_thread_count(self) -> int:
        import os

        return self.torch_threads if self.torch_threads > 0 else max(1, (os.cpu_count() or 2) // 2)


@lru_cache
def get_settings() -> Settings:
    return Settings()


def redacted(url: str) -> str:
    """A URL fit for a response or a log line: its password (and a user name beside it) replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = "***@" + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
