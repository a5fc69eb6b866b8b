"""The registry of models (diffusegae.registry): checked before anything is copied, atomic, names unique."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from diffusegae.checkpoint import CheckpointError
from diffusegae.model_folder import ModelFolder
from diffusegae.registry import ModelRegistry, RegistryError


@pytest.fixture
def registry(tiny_model: Path, tmp_path: Path) -> ModelRegistry:
    return ModelRegistry([tiny_model], tmp_path / "store" / "models")


def test_a_registered_model_is_a_whole_copy_under_its_name(registry, tiny_model, tmp_path):
    assert list(registry.models()) == ["tiny-toys-16"] and registry.models()["tiny-toys-16"].shipped
    added = registry.add(tiny_model, "copy")
    assert not added.shipped and added.folder == registry.added / "copy"
    assert ModelFolder(added.folder).read_manifest().name == "copy"
    assert {p.name for p in added.folder.iterdir()} == {p.parts[0] for p in ModelFolder(tiny_model).parts()}
    assert not (added.folder / "runs").exists()
    assert list(registry.models()) == ["tiny-toys-16", "copy"]
    assert registry.add(added.folder, "copy") == registry.models()["copy"]  # the same model again: nothing new
    with pytest.raises(RegistryError, match="registered already"):
        registry.add(tiny_model, "copy")  # another model (its manifest names it otherwise) under a taken name
    with pytest.raises(RegistryError, match="not a model name"):
        registry.add(tiny_model, "Bad Name")
    registry.remove("copy")
    assert list(registry.models()) == ["tiny-toys-16"] and not any(registry.added.iterdir())
    with pytest.raises(RegistryError, match="shipped"):
        registry.remove("tiny-toys-16")


def test_a_broken_folder_is_refused_with_the_reason_and_nothing_is_copied(registry, tiny_model, tmp_path):
    broken = Path(shutil.copytree(tiny_model, tmp_path / "broken"))
    weights = ModelFolder(broken).gae_weights
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # half-written
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        registry.add(broken, "broken")
    (broken / "model.json").unlink()
    with pytest.raises(CheckpointError, match="no model.json"):
        registry.add(broken, "broken")
    assert "broken" not in registry.models()
    assert not registry.added.exists() or not any(registry.added.iterdir())


def test_a_folder_that_stopped_reading_as_a_model_is_listed_with_why(registry, tiny_model):
    added = registry.add(tiny_model, "copy")
    manifest = json.loads((added.folder / "model.json").read_text())
    (added.folder / "model.json").write_text(json.dumps({**manifest, "values": "none"}))
    listed = registry.models()["copy"]
    assert "values" in listed.error
