"""The models a deployment knows: shipped model folders, and the ones registered into a folder of its own.

    shipped   model folders given up front (a folder holding model.json, or a folder of such folders):
              the checkout's models/ and the default model; never removed through the registry
    added     <added>/<name>/, one per registered model: a copy of what the model is made of
              (ModelFolder.parts), made under a hidden name and renamed into place, so that a reader
              never sees half a model; a removed one is renamed away first, then deleted

A model's name is its manifest's (model.json `name`), or the one given when it was registered;
names are unique. Registering checks the whole folder first (weights against configs, manifest
against the GAE): a folder that would not load is refused with the reason and nothing is copied.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from diffusegae.checkpoint import CheckpointError
from diffusegae.model_folder import ModelFolder

MODEL_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
STALE_COPY_S = 3600.0  # a hidden copy this old was left by a registration that died: removed by the next one


class RegistryError(ValueError):
    """A model cannot be registered or removed; the message says why and what to do."""


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    folder: Path
    shipped: bool
    error: str = ""  # the folder does not read as a model: why (its name is then the folder's)

    @property
    def created(self) -> float:
        """When the folder was made (registered, or trained for a shipped one): its manifest's mtime."""
        try:
            return ModelFolder(self.folder).manifest_path.stat().st_mtime
        except OSError:
            return 0.0


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


class ModelRegistry:
    def __init__(self, shipped: Sequence[Path], added: Path) -> None:
        self.shipped = [Path(p) for p in shipped]
        self.added = Path(added)

    def models(self) -> dict[str, RegisteredModel]:
        """Every model by name: shipped ones first (the first folder of a name wins), then the added ones."""
        out: dict[str, RegisteredModel] = {}
        for root in self.shipped:
            folders = [root] if ModelFolder(root).manifest_path.is_file() else _subfolders(root)
            for f in folders:
                m = _read(f, shipped=True)
                out.setdefault(m.name, m)
        for f in _subfolders(self.added):
            m = _read(f, shipped=False)
            if m.name != f.name and not m.error:  # renamed by hand: the folder's name is the registered one
                m = replace(m, error=f"its model.json names it {m.name!r}, its folder {f.name!r}")
            out.setdefault(f.name, replace(m, name=f.name))
        return out

    def get(self, name: str) -> RegisteredModel:
        try:
            return self.models()[name]
        except KeyError:
            raise RegistryError(f"no model named {name!r}; known: {', '.join(sorted(self.models())) or 'none'}") from None

    def add(self, folder: Path, name: str | None = None) -> RegisteredModel:
        """Copy the model folder `folder` into the registry under `name` (default: its manifest's) -> the entry.

        The same model under the same name again is a no-op; another model under a taken name is refused."""
        src = ModelFolder(folder)
        check_model(src.root)
        manifest = src.read_manifest()
        name = check_name(name or manifest.name)
        known = self.models().get(name)
        if known is not None:
            if not known.error and ModelFolder(known.folder).fingerprint() == src.fingerprint():
                return known
            raise RegistryError(f"a model named {name!r} is registered already ({known.folder}): remove it first "
                                "(diffusegae models remove), or register this one under another name (--name)")
        self._clear_stale_copies()
        tmp = self.added / f".adding-{name}-{uuid.uuid4().hex[:8]}"
        try:
            for part in src.parts():
                target = tmp / part
                target.parent.mkdir(parents=True, exist_ok=True)
                if (src.root / part).is_dir():
                    shutil.copytree(src.root / part, target)
                else:
                    shutil.copy2(src.root / part, target)  # keeps mtimes: the fingerprint stays the model's
            if name != manifest.name:
                ModelFolder(tmp).write_manifest(replace(manifest, name=name))
            check_model(tmp)  # the copy, not only the source, is a whole model
            try:
                os.rename(tmp, self.added / name)  # atomic; refuses when another registration got there first
            except OSError:
                raise RegistryError(f"a model named {name!r} was registered meanwhile; remove it first or use "
                                    "another name") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return self.get(name)

    def remove(self, name: str) -> None:
        """Delete a registered model's folder (a shipped model is refused)."""
        model = self.get(name)
        if model.shipped:
            raise RegistryError(f"{name!r} is shipped with the deployment ({model.folder}) and cannot be removed")
        gone = self.added / f".removing-{name}-{uuid.uuid4().hex[:8]}"
        os.rename(model.folder, gone)  # the name is free at once; the files go after
        shutil.rmtree(gone, ignore_errors=True)

    def _clear_stale_copies(self) -> None:
        for p in self.added.glob(".*"):
            try:
                if p.is_dir() and time.time() - p.stat().st_mtime > STALE_COPY_S:
                    shutil.rmtree(p, ignore_errors=True)
            except OSError:
                pass


def _subfolders(root: Path) -> list[Path]:
    """The visible folders of `root` that hold a model.json (hidden ones are copies in progress)."""
    try:
        return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                      and ModelFolder(p).manifest_path.is_file())
    except OSError:
        return []


def _read(folder: Path, *, shipped: bool) -> RegisteredModel:
    try:
        name = ModelFolder(folder).read_manifest().name
    except CheckpointError as e:
        return RegisteredModel(folder.name, folder, shipped, error=str(e))
    return RegisteredModel(name, folder, shipped)
