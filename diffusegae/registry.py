"""The models a deployment knows: shipped model folders, and the ones registered onto a shelf every worker reads.

    shipped   model folders given up front (a folder holding model.json, or a folder of such folders):
              the checkout's models/ and the default model; never removed through the registry
    shelf     named blobs (`Shelf`: a folder here, the deployment's object store in the service), one model each:
                  models/<name>/files/<path>        what the model is made of (ModelFolder.parts)
                  models/<name>/registered.json     written last: the name, each file's SHA-256, size and mtime,
                                                    and the model's content hash over them

A registered model exists once its `registered.json` does: the files go first, so a reader never sees half a
model; removing deletes `registered.json` first. A process that loads one fetches it into a local cache folder
named by its content hash, checking every file's SHA-256 (`ModelRegistry.local`); the files keep their mtimes,
so the folder's fingerprint (ModelFolder.fingerprint) is the same on every machine.

A model's name is its manifest's (model.json `name`), or the one given when it was registered; names are unique.
Registering checks the whole folder first (weights against configs, manifest against the GAE): a folder that would
not load is refused with the reason and nothing is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from diffusegae.checkpoint import CheckpointError
from diffusegae.model_folder import ModelFolder

MODEL_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")  # core.models.MODEL_NAME, for the service: the two agree
MARKER = "registered.json"
WEIGHT_SUFFIX = ".safetensors"  # files a fetch without weights leaves out


class RegistryError(ValueError):
    """A model cannot be registered, removed or fetched; the message says why and what to do."""


class Shelf(Protocol):
    """Named blobs (core.blobs.Blobs is one; FolderShelf is the library's own, for use without the service)."""

    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def keys(self, prefix: str) -> Iterator[str]: ...
    def delete(self, key: str) -> None: ...


class FolderShelf:
    """A shelf in a folder: key = relative path, each write renamed into place whole."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def get(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def exists(self, key: str) -> bool:
        return (self.root / key).is_file()

    def keys(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if base.is_dir():
            for p in base.rglob("*"):
                key = p.relative_to(self.root).as_posix()
                if p.is_file() and key.startswith(prefix) and not p.name.endswith(".tmp"):
                    yield key

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    folder: Path | None  # a shipped model's folder, or a registered one's where the shelf is a local folder
    shipped: bool
    content: str = ""  # a registered model's content hash (its cache folder's name)
    created: float = 0.0
    error: str = ""  # the model does not read as one: why (its name is then the folder's)


def check_name(name: str) -> str:
    if not MODEL_NAME.fullmatch(name):
        raise RegistryError(f"{name!r} is not a model name: use 1-64 lowercase letters, digits, '.', '_' or '-', "
                            "starting with a letter or digit")
    return name


def check_model(folder: Path) -> None:
    """Load the whole model on the CPU: CheckpointError, with the reason, unless it is a complete model folder."""
    from diffusegae.editing import load_model

    if not ModelFolder(folder).manifest_path.is_file():
        raise CheckpointError(f"{folder}: not a model folder (it has no model.json; a model folder holds model.json, "
                              "autoencoder/ and gae/)")
    load_model(folder, "cpu")


def _files(folder: Path) -> dict[str, Path]:
    """The model's files by relative path (ModelFolder.parts, folders expanded)."""
    src = ModelFolder(folder)
    out = {}
    for part in src.parts():
        path = src.root / part
        for p in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if p.is_file():
                out[p.relative_to(src.root).as_posix()] = p
    return out


def _content_hash(files: dict[str, dict]) -> str:
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(f"{rel}:{files[rel]['sha256']};".encode())
    return h.hexdigest()[:32]


class ModelRegistry:
    def __init__(self, shipped: Sequence[Path], shelf: Shelf, cache: Path | None = None) -> None:
        self.shipped = [Path(p) for p in shipped]
        self.shelf = shelf
        self.cache = Path(cache) if cache else Path.home() / ".cache" / "diffusegae" / "models"

    # --- reading ---
    def models(self) -> dict[str, RegisteredModel]:
        """Every model by name: shipped ones first (the first folder of a name wins), then the registered ones."""
        out: dict[str, RegisteredModel] = {}
        for root in self.shipped:
            folders = [root] if ModelFolder(root).manifest_path.is_file() else _subfolders(root)
            for f in folders:
                m = _read_shipped(f)
                out.setdefault(m.name, m)
        for key in self.shelf.keys("models/"):
            parts = key.split("/")
            if len(parts) == 3 and parts[2] == MARKER:
                m = self._read_registered(parts[1])
                if m is not None:
                    out.setdefault(m.name, m)
        return out

    def _marker(self, name: str) -> dict | None:
        try:
            return json.loads(self.shelf.get(f"models/{name}/{MARKER}"))
        except (FileNotFoundError, ValueError):
            return None

    def _read_registered(self, name: str) -> RegisteredModel | None:
        marker = self._marker(name)
        if marker is None:
            return None
        local = getattr(self.shelf, "root", None)  # a folder shelf: the files are on this disk already
        folder = Path(local) / "models" / name / "files" if local is not None else None
        return RegisteredModel(name, folder, False, content=str(marker.get("content", "")),
                               created=float(marker.get("created", 0.0)))

    def get(self, name: str) -> RegisteredModel:
        try:
            return self.models()[name]
        except KeyError:
            raise RegistryError(f"no model named {name!r}; known: {', '.join(sorted(self.models())) or 'none'}") from None

    def local(self, name: str, *, weights: bool = True) -> Path:
        """A folder on this machine holding the model `name` (with its weights unless `weights` is false): a shipped
        model's own, a folder shelf's, else a cache folder named by its content hash, filled from the shelf with
        every file's SHA-256 checked (RegistryError when one does not match)."""
        model = self.get(name)
        if model.folder is not None:
            return model.folder
        marker = self._marker(name) or {}
        folder = self.cache / model.content
        for rel, facts in sorted((marker.get("files") or {}).items()):
            target = folder / rel
            if target.is_file() or (not weights and rel.endswith(WEIGHT_SUFFIX)):
                continue
            data = self.shelf.get(f"models/{name}/files/{rel}")
            if hashlib.sha256(data).hexdigest() != facts["sha256"]:
                raise RegistryError(f"model {name}: {rel} in the store does not match its SHA-256 in {MARKER} "
                                    "(changed or damaged since it was registered): register it again")
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
            tmp.write_bytes(data)
            os.utime(tmp, ns=(facts["mtime_ns"], facts["mtime_ns"]))  # the fingerprint is the source folder's
            os.replace(tmp, target)
        return folder

    def fetched(self, name: str) -> bool:
        """Whether the model is on this disk whole (shipped, a folder shelf's, or cached with its weights)."""
        model = self.get(name)
        if model.folder is not None:
            return True
        files = (self._marker(name) or {}).get("files") or {}
        return all((self.cache / model.content / rel).is_file() for rel in files)

    # --- writing ---
    def add(self, folder: Path, name: str | None = None) -> RegisteredModel:
        """Put the model folder `folder` on the shelf under `name` (default: its manifest's) -> the entry.

        The same model under the same name again is a no-op; another model under a taken name is refused."""
        src = ModelFolder(folder)
        check_model(src.root)
        manifest = src.read_manifest()
        name = check_name(name or manifest.name)
        files = _files(src.root)
        blobs = {rel: p.read_bytes() for rel, p in files.items()}
        if name != manifest.name:  # the copy's manifest names it as registered
            renamed = replace(manifest, name=name).to_json()
            blobs["model.json"] = (json.dumps(renamed, indent=2) + "\n").encode()
        facts = {rel: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                       "mtime_ns": files[rel].stat().st_mtime_ns} for rel, data in blobs.items()}
        content = _content_hash(facts)
        known = self.models().get(name)
        if known is not None:
            if known.content == content:
                return known
            where = known.folder or f"the store's models/{name}"
            raise RegistryError(f"a model named {name!r} is registered already ({where}): remove it first "
                                "(diffusegae models remove), or register this one under another name (--name)")
        for rel, data in blobs.items():
            self.shelf.put(f"models/{name}/files/{rel}", data)
        marker = {"name": name, "content": content, "created": time.time(), "files": facts}
        self.shelf.put(f"models/{name}/{MARKER}", (json.dumps(marker, indent=1) + "\n").encode())  # last: now it exists
        return self.get(name)

    def remove(self, name: str) -> None:
        """Delete a registered model (a shipped one is refused): its marker first, then its files."""
        model = self.get(name)
        if model.shipped:
            raise RegistryError(f"{name!r} is shipped with the deployment ({model.folder}) and cannot be removed")
        self.shelf.delete(f"models/{name}/{MARKER}")
        for key in list(self.shelf.keys(f"models/{name}/")):
            self.shelf.delete(key)
        if model.folder is not None:
            shutil.rmtree(model.folder.parent, ignore_errors=True)  # a folder shelf's empty folders


def _subfolders(root: Path) -> list[Path]:
    """The visible folders of `root` that hold a model.json."""
    try:
        return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                      and ModelFolder(p).manifest_path.is_file())
    except OSError:
        return []


def _read_shipped(folder: Path) -> RegisteredModel:
    try:
        name = ModelFolder(folder).read_manifest().name
    except CheckpointError as e:
        return RegisteredModel(folder.name, folder, True, error=str(e))
    return RegisteredModel(name, folder, True, created=ModelFolder(folder).manifest_path.stat().st_mtime)
