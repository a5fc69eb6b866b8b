"""The content-addressed store shared by the API and the workers: blobs under these keys (core.blobs: a folder, or
an S3 bucket when scaled).

    images/<sha256>/original             the uploaded bytes (the id is their SHA-256)
    images/<sha256>/image.png            the image as the model sees it (worker)
    images/<sha256>/latents.safetensors  z_sem, z_dis, x_T (worker)
    results/<job_id>.png                 a job's result (interpolation: the strip of frames)
    results/<job_id>/<i>.png             an interpolation's frames
    deployment-id                        the deployment's id (core.deployment)
    models/<name>/...                    registered models (diffusegae.registry: files, then registered.json)
    datasets/<id>/images/<path>          an uploaded dataset's images (paths as its labels.csv names them)
    datasets/<id>/labels.csv             its labels; contact/<attribute>.png: its contact sheets
    datasets/<id>/dataset.json           written last: what it holds (the dataset exists once this does)
    trainings/<job_id>/<stage>_state.pt  a training's last checkpoint of a stage (weights, EMA, optimiser, step,
                                         batch generator): a redelivered or resumed training continues from it
    trainings/<job_id>/sample.png        its figure at that checkpoint (reconstructions and swaps)

Every write is whole (the folder backend renames a temporary file into place, S3 PUT is atomic), so a reader
never sees half a blob and two workers redoing the same job cannot corrupt each other's output.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from core.blobs import BlobNotFound, Blobs, FolderBlobs, open_blobs

if TYPE_CHECKING:
    from core.settings import Settings

ID_PATTERN = "^[0-9a-f]{32,64}$"  # also the `pattern` of id path parameters in the OpenAPI document
_ID = re.compile("[0-9a-f]{32,64}")


def content_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_id() -> str:
    return uuid.uuid4().hex


def valid_id(value: str) -> bool:
    """Ids are lowercase hex (content hashes or uuids): nothing else may become a path.

    The whole string must match (`$` in a regex also matches before a final newline, so "<id>\\n" would pass)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def _checked(value: str) -> str:
    if not valid_id(value):
        raise ValueError(f"not an id: {value!r}")
    return value


class Store:
    def __init__(self, root: Path, blobs: Blobs | None = None) -> None:
        self.root = Path(root)  # DGAE_STORE_DIR: the blobs of the folder backend, the registered models
        self.blobs = blobs or FolderBlobs(self.root)

    @classmethod
    def of(cls, settings: Settings) -> Store:
        """The store core.settings names: DGAE_STORE_URL (S3) or the folder DGAE_STORE_DIR."""
        return cls(settings.store_dir, open_blobs(settings.store_url, settings.store_dir, settings.s3_endpoint,
                                                  settings.redis_timeout))

    @staticmethod
    def model_marker_key(name: str) -> str:
        """The blob whose presence makes a registered model exist (diffusegae.registry's layout)."""
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"not a model name: {name!r}")
        return f"models/{name}/registered.json"

    def model_registered(self, name: str) -> bool:
        """Whether the store holds a model registered as `name` (before any worker has published it)."""
        return self.blobs.exists(self.model_marker_key(name))

    def remove_model(self, name: str) -> None:
        """Delete a registered model: its marker first, so that it is gone at once, then its files."""
        self.blobs.delete(self.model_marker_key(name))
        self.blobs.delete_prefix(f"models/{name}/")

    # --- keys ---
    @staticmethod
    def original_key(image_id: str) -> str:
        return f"images/{_checked(image_id)}/original"

    @staticmethod
    def image_png_key(image_id: str) -> str:
        return f"images/{_checked(image_id)}/image.png"

    @staticmethod
    def latents_key(image_id: str) -> str:
        return f"images/{_checked(image_id)}/latents.safetensors"

    @staticmethod
    def result_key(job_id: str) -> str:
        return f"results/{_checked(job_id)}.png"

    @staticmethod
    def frame_key(job_id: str, index: int) -> str:
        return f"results/{_checked(job_id)}/{int(index)}.png"

    def _maybe(self, key: str) -> bytes | None:
        try:
            return self.blobs.get(key)
        except BlobNotFound:
            return None

    # --- images ---
    def put_original(self, image_id: str, data: bytes) -> None:
        """The upload's bytes (the id is their hash: writing them again writes the same bytes, in one request)."""
        self.blobs.put(self.original_key(image_id), data)

    def original(self, image_id: str) -> bytes:
        return self.blobs.get(self.original_key(image_id))

    def stream_original(self, image_id: str) -> Iterator[bytes]:
        return self.blobs.stream(self.original_key(image_id))

    def has_original(self, image_id: str) -> bool:
        return self.blobs.exists(self.original_key(image_id))

    def has_image_png(self, image_id: str) -> bool:
        return self.blobs.exists(self.image_png_key(image_id))

    def put_image_png(self, image_id: str, data: bytes) -> None:
        self.blobs.put(self.image_png_key(image_id), data)

    def image_png(self, image_id: str) -> bytes | None:
        """The image as the model sees it; None until it is encoded."""
        return self._maybe(self.image_png_key(image_id))

    def put_latents(self, image_id: str, data: bytes) -> None:
        self.blobs.put(self.latents_key(image_id), data)

    def latents(self, image_id: str) -> bytes | None:
        return self._maybe(self.latents_key(image_id))

    def forget_image(self, image_id: str) -> None:
        self.blobs.delete_prefix(f"images/{_checked(image_id)}/")

    # --- results ---
    def put_result(self, job_id: str, data: bytes) -> None:
        self.blobs.put(self.result_key(job_id), data)

    def put_frame(self, job_id: str, index: int, data: bytes) -> None:
        self.blobs.put(self.frame_key(job_id, index), data)

    def result(self, job_id: str) -> bytes | None:
        return self._maybe(self.result_key(job_id))

    def frame(self, job_id: str, index: int) -> bytes | None:
        return self._maybe(self.frame_key(job_id, index))

    def forget_job(self, job_id: str) -> None:
        self.blobs.delete(self.result_key(job_id))
        self.blobs.delete_prefix(f"results/{_checked(job_id)}/")  # an interpolation's frames
        self.forget_training(job_id)

    # --- training checkpoints ---
    @staticmethod
    def training_state_key(job_id: str, stage: str) -> str:
        if not re.fullmatch(r"[a-z0-9]+", stage):
            raise ValueError(f"not a stage name: {stage!r}")
        return f"trainings/{_checked(job_id)}/{stage}_state.pt"

    def put_training_state(self, job_id: str, stage: str, data: bytes) -> None:
        self.blobs.put(self.training_state_key(job_id, stage), data)

    def training_state(self, job_id: str, stage: str) -> bytes | None:
        return self._maybe(self.training_state_key(job_id, stage))

    def drop_training_state(self, job_id: str, stage: str) -> None:
        self.blobs.delete(self.training_state_key(job_id, stage))

    def put_training_sample(self, job_id: str, png: bytes) -> None:
        self.blobs.put(f"trainings/{_checked(job_id)}/sample.png", png)

    def training_sample(self, job_id: str) -> bytes | None:
        return self._maybe(f"trainings/{_checked(job_id)}/sample.png")

    def forget_training(self, job_id: str) -> None:
        self.blobs.delete_prefix(f"trainings/{_checked(job_id)}/")

    # --- datasets ---
    def put_dataset(self, dataset_id: str, files: dict[str, bytes], facts: dict) -> None:
        """A checked dataset's files (images/..., labels.csv, contact/...), then dataset.json: it exists once whole."""
        base = f"datasets/{_checked(dataset_id)}/"
        for name, data in files.items():
            self.blobs.put(base + name, data)
        self.blobs.put(base + "dataset.json", json.dumps(facts, indent=1).encode())

    def dataset(self, dataset_id: str) -> dict | None:
        raw = self._maybe(f"datasets/{_checked(dataset_id)}/dataset.json")
        return json.loads(raw) if raw is not None else None

    def dataset_file(self, dataset_id: str, name: str) -> bytes | None:
        return self._maybe(f"datasets/{_checked(dataset_id)}/{name}")

    def remove_dataset(self, dataset_id: str) -> None:
        base = f"datasets/{_checked(dataset_id)}/"
        self.blobs.delete(base + "dataset.json")  # gone at once; the files after
        self.blobs.delete_prefix(base)

    # --- the deployment ---
    def identity(self) -> str:
        """This store's own random id (the blob `deployment-id`), made by the first process to ask.

        It names the deployment: every process sharing the store reads the same id (core.deployment)."""
        try:
            return self.blobs.get("deployment-id").decode().strip()
        except BlobNotFound:
            self.blobs.put_new("deployment-id", (uuid.uuid4().hex[:12] + "\n").encode())  # never replaces another's
            return self.blobs.get("deployment-id").decode().strip()
