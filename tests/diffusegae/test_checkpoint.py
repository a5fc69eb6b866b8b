import json
import shutil

import pytest
import torch

from diffusegae.checkpoint import CheckpointError
from diffusegae.data import toys
from diffusegae.editing import Editor


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_save_load_round_trip(tiny_model, tmp_path):
    from diffusegae.checkpoint import save_module
    from diffusegae.config import to_json_dict

    ed = Editor.load(tiny_model, "cpu")
    out = tmp_path / "copy"
    save_module(out / "autoencoder" / "model.safetensors", ed.ae, to_json_dict(ed.ae.cfg))
    save_module(out / "gae" / "model.safetensors", ed.gae, to_json_dict(ed.gae.cfg))
    shutil.copy(tiny_model / "model.json", out / "model.json")
    shutil.copytree(tiny_model / "examples", out / "examples")  # the info names the examples that exist, with labels
    again = Editor.load(out, "cpu")
    x = toys.render_tensor(torch.tensor([[1, 2, 3]]), 16)
    a = ed.decode(ed.z_dis_of(x), ed.random_x_T([4]), steps=5)
    b = again.decode(again.z_dis_of(x), again.random_x_T([4]), steps=5)
    assert torch.equal(a, b)
    assert again.info == ed.info


def test_truncated_weights(tiny_model, tmp_path):
    m = _copy(tiny_model, tmp_path / "m")
    w = m / "gae" / "model.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        Editor.load(m, "cpu")


def test_garbage_weights(tiny_model, tmp_path):
    m = _copy(tiny_model, tmp_path / "m")
    (m / "autoencoder" / "model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="autoencoder/model.safetensors"):
        Editor.load(m, "cpu")


def _update_config(path, **fields):
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))


def test_config_that_does_not_match_the_weights(tiny_model, tmp_path):
    m = _copy(tiny_model, tmp_path / "m")
    _update_config(m / "autoencoder" / "model.json", unet_channels=24)
    with pytest.raises(CheckpointError, match="do not match the config.*wrong shape"):
        Editor.load(m, "cpu")


def test_unknown_config_field_and_missing_folder(tiny_model, tmp_path):
    m = _copy(tiny_model, tmp_path / "m")
    good = (m / "gae" / "model.json").read_text()
    _update_config(m / "gae" / "model.json", colour=1)
    with pytest.raises(CheckpointError, match=r"gae/model.json: invalid config: unknown GAEConfig fields"):
        Editor.load(m, "cpu")
    (m / "gae" / "model.json").write_text(good)
    with pytest.raises(CheckpointError, match="not found"):
        Editor.load(tmp_path / "nope", "cpu")
    (m / "gae" / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="weight file not found"):
        Editor.load(m, "cpu")
