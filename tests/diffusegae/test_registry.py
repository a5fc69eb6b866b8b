"""The registry of models (diffusegae.registry): checked before anything is written, a model exists once whole,
names unique, fetched into a cache with every file's SHA-256 checked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from diffusegae.checkpoint import CheckpointError
from diffusegae.model_folder import ModelFolder
from diffusegae.registry import MARKER, FolderShelf, ModelRegistry, RegistryError


@pytest.fixture
def registry(tiny_model: Path, tmp_path: Path) -> ModelRegistry:
    return ModelRegistry([tiny_model], FolderShelf(tmp_path / "store"), tmp_path / "cache")


def test_a_registered_model_is_whole_under_its_name(registry, tiny_model):
    assert list(registry.models()) == ["tiny-toys-16"] and registry.models()["tiny-toys-16"].shipped
    added = registry.add(tiny_model, "copy")
    assert not added.shipped and added.content and registry.local("copy") == added.folder
    assert ModelFolder(added.folder).read_manifest().name == "copy"
    assert {p.name for p in added.folder.iterdir()} == {p.parts[0] for p in ModelFolder(tiny_model).parts()}
    assert not (added.folder / "runs").exists()
    assert list(registry.models()) == ["tiny-toys-16", "copy"]
    assert registry.add(tiny_model, "copy") == registry.models()["copy"]  # the same model again: nothing new
    with pytest.raises(RegistryError, match="registered already"):
        registry.add(tiny_model, "tiny-toys-16")  # a shipped name
    with pytest.raises(RegistryError, match="not a model name"):
        registry.add(tiny_model, "Bad Name")
    registry.remove("copy")
    assert list(registry.models()) == ["tiny-toys-16"] and not list(registry.shelf.keys("models/"))
    with pytest.raises(RegistryError, match="shipped"):
        registry.remove("tiny-toys-16")


def test_a_model_without_its_marker_does_not_exist(registry, tiny_model):
    registry.add(tiny_model, "copy")
    registry.shelf.delete(f"models/copy/{MARKER}")  # as a registration that died before its last write
    assert "copy" not in registry.models()


def test_a_broken_folder_is_refused_with_the_reason_and_nothing_is_written(registry, tiny_model, tmp_path):
    broken = Path(shutil.copytree(tiny_model, tmp_path / "broken"))
    weights = ModelFolder(broken).gae_weights
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # half-written
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        registry.add(broken, "broken")
    (broken / "model.json").unlink()
    with pytest.raises(CheckpointError, match="no model.json"):
        registry.add(broken, "broken")
    assert "broken" not in registry.models() and not list(registry.shelf.keys("models/"))


def test_a_remote_model_is_fetched_once_checked_and_keeps_its_fingerprint(tiny_model, tmp_path):
    shelf = FolderShelf(tmp_path / "store")
    ModelRegistry([], shelf).add(tiny_model, "copy")
    remote = ModelRegistry([], _Remote(shelf), tmp_path / "cache")
    light = remote.local("copy", weights=False)
    assert not remote.fetched("copy") and not ModelFolder(light).gae_weights.exists()
    folder = remote.local("copy")
    assert remote.fetched("copy") and folder == light == tmp_path / "cache" / remote.get("copy").content
    elsewhere = ModelRegistry([], _Remote(shelf), tmp_path / "another-machine").local("copy")
    assert ModelFolder(folder).fingerprint() == ModelFolder(elsewhere).fingerprint()  # latents stay valid across machines
    marker = json.loads(shelf.get(f"models/copy/{MARKER}"))
    shelf.put("models/copy/files/gae/model.safetensors", b"tampered")
    shutil.rmtree(folder)
    with pytest.raises(RegistryError, match="SHA-256"):
        remote.local("copy")
    assert marker["files"]["gae/model.safetensors"]["size"] > 0


class _Remote:
    """A shelf that hides where its files are, as the object store does."""

    def __init__(self, shelf: FolderShelf) -> None:
        self._shelf = shelf

    def put(self, key: str, data: bytes) -> None:
        self._shelf.put(key, data)

    def get(self, key: str) -> bytes:
        return self._shelf.get(key)

    def exists(self, key: str) -> bool:
        return self._shelf.exists(key)

    def keys(self, prefix: str):
        return self._shelf.keys(prefix)

    def delete(self, key: str) -> None:
        self._shelf.delete(key)
