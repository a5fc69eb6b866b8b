"""The content-addressed file store shared by the API and the workers (a shared volume when scaled).

    <root>/images/<sha256>/original             the uploaded bytes (the id is their SHA-256)
    <root>/images/<sha256>/image.png            the image as the model sees it (worker)
    <root>/images/<sha256>/latents.safetensors  z_sem, z_dis, x_T (worker)
    <root>/results/<job_id>.png                 a job's result (interpolation: the strip of frames)
    <root>/results/<job_id>/<i>.png             an interpolation's frames
    <root>/models/<name>/                       registered models (diffusegae.registry)

Every write goes to a temporary name first and is renamed into place, so a reader never sees
half a file and two workers redoing the same job cannot corrupt each other's output.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from pathlib import Path

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
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def models_dir(self) -> Path:
        """Where registered models live (diffusegae.registry), beside the uploads every worker reads."""
        return self.root / "models"

    def remove_model(self, name: str) -> None:
        """Delete a registered model's folder: renamed away first (its name is free at once), then removed."""
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"not a model name: {name!r}")
        gone = self.models_dir / f".removing-{name}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(self.models_dir / name, gone)
        except FileNotFoundError:
            return
        shutil.rmtree(gone, ignore_errors=True)

    def image_dir(self, image_id: str) -> Path:
        return self.root / "images" / _checked(image_id)

    def original(self, image_id: str) -> Path:
        return self.image_dir(image_id) / "original"

    def image_png(self, image_id: str) -> Path:
        return self.image_dir(image_id) / "image.png"

    def latents(self, image_id: str) -> Path:
        return self.image_dir(image_id) / "latents.safetensors"

    def result(self, job_id: str) -> Path:
        return self.root / "results" / f"{_checked(job_id)}.png"

    def frame(self, job_id: str, index: int) -> Path:
        return self.root / "results" / _checked(job_id) / f"{int(index)}.png"

    @staticmethod
    def write_atomic(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def identity(self) -> str:
        """This store's own random id (`<root>/deployment-id`), made by the first process to ask.

        It names the deployment: every process sharing the store reads the same id (core.deployment)."""
        path = self.root / "deployment-id"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
            tmp.write_text(uuid.uuid4().hex[:12] + "\n")
            try:
                os.link(tmp, path)  # never replaces an id another process wrote first
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text().strip()

    def put_original(self, image_id: str, data: bytes) -> None:
        path = self.original(image_id)
        if not path.is_file() or path.stat().st_size != len(data):
            self.write_atomic(path, data)
