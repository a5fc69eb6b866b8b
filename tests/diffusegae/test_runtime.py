"""The ONNX Runtime path (diffusegae/runtime.py) computes what torch computes, caches its export, and falls back
to torch, saying why, when the export or its check fails."""

from __future__ import annotations

import copy
import logging

import pytest
import torch

from diffusegae import runtime as rt_mod
from diffusegae.editing import Editor
from diffusegae.runtime import RuntimeCheckFailed, load_runtime, onnx_key, onnx_runtime, torch_runtime

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def editors(tiny_model, tmp_path_factory):
    """The tiny model loaded twice, at 1 thread: with torch and with ONNX Runtime (its own export cache)."""
    torch.set_num_threads(1)
    cache = tmp_path_factory.mktemp("onnx-cache")
    onnx = Editor.load(tiny_model, "cpu", runtime="onnx", threads=1, cache_dir=cache)
    return Editor.load(tiny_model, "cpu", runtime="torch"), onnx, cache


def _inputs(ae, batch, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = ae.cfg.resolution
    return (torch.randn(batch, 3, r, r, generator=g), torch.randint(0, ae.cfg.num_timesteps, (batch,), generator=g),
            torch.randn(batch, ae.cfg.z_sem_dim, generator=g))


@pytest.mark.parametrize("batch", [1, 5])
def test_onnx_eps_and_encoder_equal_torch(editors, batch):
    torch_ed, onnx_ed, _ = editors
    assert onnx_ed.runtime.name == "onnx", onnx_ed.runtime.note
    ae = torch_ed.ae
    x, t, z = _inputs(ae, batch, seed=batch)
    with torch.no_grad():
        ref, got = ae.eps(x, t, z), onnx_ed.runtime.eps(x, t, z)
        assert got.shape == ref.shape and got.dtype == torch.float32
        assert (got - ref).abs().max() <= 1e-4 * max(1.0, ref.abs().max().item())
        zr, zg = ae.encode(x), onnx_ed.runtime.encode(x)
        assert (zg - zr).abs().max() <= 1e-4 * max(1.0, zr.abs().max().item())
        gae = torch_ed.gae
        dr, dg = gae.z_dis_of(zr), onnx_ed.runtime.z_dis_of(zr)
        assert dg.shape == dr.shape and (dg - dr).abs().max() <= 1e-4 * max(1.0, dr.abs().max().item())
        cr, cg = gae.z_sem_of(dr), onnx_ed.runtime.condition(dr)
        assert cg.shape == cr.shape and (cg - cr).abs().max() <= 1e-4 * max(1.0, cr.abs().max().item())


def test_editor_encode_and_decode_with_onnx_match_torch(editors, monkeypatch):
    torch_ed, onnx_ed, _ = editors

    def torch_called(*a, **k):
        raise AssertionError("the onnx editor ran a torch module")

    monkeypatch.setattr(onnx_ed.ae.unet, "forward", torch_called)
    monkeypatch.setattr(onnx_ed.ae.encoder, "forward", torch_called)
    monkeypatch.setattr(onnx_ed.gae.encoder, "forward", torch_called)
    monkeypatch.setattr(onnx_ed.gae.decoder, "forward", torch_called)
    x0 = torch_ed.random_x_T([3, 4]).clamp(-1, 1)
    a, b = torch_ed.encode(x0, steps=5), onnx_ed.encode(x0, steps=5)
    assert (a.z_dis - b.z_dis).abs().max() < 1e-4
    assert (a.x_T - b.x_T).abs().max() < 1e-3
    img_t = torch_ed.decode(a.z_dis, a.x_T, steps=5)
    img_o = onnx_ed.decode(a.z_dis, a.x_T, steps=5)
    assert (img_t - img_o).pow(2).mean() < 1e-8
    assert img_t.pow(2).mean() > 1e-2  # a picture, not zeros that match trivially


def test_second_load_uses_the_cached_export(editors, tiny_model, monkeypatch):
    _, onnx_ed, cache = editors
    assert {p.name for p in (cache / "onnx" / onnx_key(onnx_ed.ae, onnx_ed.gae)).iterdir()} == {
        "eps.onnx", "encoder.onnx", "gae_encode.onnx", "gae_decode.onnx"}

    def no_export(*a, **k):
        raise AssertionError("exported again although the cache holds the export")

    monkeypatch.setattr(rt_mod, "_export", no_export)
    assert Editor.load(tiny_model, "cpu", runtime="onnx", threads=1, cache_dir=cache).runtime.name == "onnx"


def test_the_cache_key_follows_the_weights(editors):
    ae, gae = copy.deepcopy(editors[0].ae), copy.deepcopy(editors[0].gae)
    key = onnx_key(ae, gae)
    with torch.no_grad():
        next(ae.unet.parameters()).add_(1e-3)
    assert onnx_key(ae, gae) != key
    key = onnx_key(ae, gae)
    gae.set_stats(gae.z_sem_mean + 1, gae.z_sem_std)  # the GAE's normalisation is part of what is exported
    assert onnx_key(ae, gae) != key


def test_a_failing_export_falls_back_to_torch_and_says_why(tiny_model, tmp_path, monkeypatch, caplog):
    def broken(*a, **k):
        raise RuntimeError("exporter broke")

    monkeypatch.setattr(rt_mod, "_export", broken)
    with caplog.at_level(logging.WARNING, logger="diffusegae.runtime"):
        ed = Editor.load(tiny_model, "cpu", runtime="onnx", cache_dir=tmp_path)
    assert ed.runtime.name == "torch" and "exporter broke" in ed.runtime.note
    assert any("running the model with torch" in r.getMessage() for r in caplog.records)
    x0 = ed.random_x_T([1]).clamp(-1, 1)
    assert ed.decode(ed.z_dis_of(x0), ed.random_x_T([2]), steps=2).shape == x0.shape


def test_an_export_that_disagrees_with_torch_is_refused(editors, tmp_path):
    """A stale or corrupt export in the cache (here: exported from other weights) fails the check on load."""
    ae, gae = editors[0].ae, editors[0].gae
    other = copy.deepcopy(ae)
    with torch.no_grad():
        for p in other.unet.out.parameters():
            p.add_(0.1)
    folder = tmp_path / "onnx" / onnx_key(ae, gae)
    rt_mod._export(rt_mod._Method(other, "eps"), rt_mod._example_inputs(other, 2, 0), ["x_t", "t", "z_sem", "eps"],
                   folder / "eps.onnx")
    with pytest.raises(RuntimeCheckFailed, match="eps"):
        onnx_runtime(ae, gae, threads=1, cache_dir=tmp_path)
    fallback = load_runtime(ae, gae, "onnx", threads=1, cache_dir=tmp_path)
    assert fallback.name == "torch" and "RuntimeCheckFailed" in fallback.note


def test_unknown_runtime_is_refused(editors):
    with pytest.raises(ValueError, match="unknown runtime"):
        load_runtime(editors[0].ae, editors[0].gae, "tensorrt")


def test_bf16_autocast_only_from_its_batch_size(editors):
    ae = editors[0].ae
    rt = torch_runtime(ae, editors[0].gae, bf16_min_batch=4)
    x, t, z = _inputs(ae, 4)
    with torch.no_grad():
        ref = ae.eps(x, t, z)
        assert torch.equal(rt.eps(x[:1], t[:1], z[:1]), ae.eps(x[:1], t[:1], z[:1]))  # below the threshold: fp32, exactly torch
        got = rt.eps(x, t, z)
    assert got.dtype == torch.float32 and not torch.equal(got, ref)  # bf16 inside
    assert (got - ref).abs().max() < 0.1 * ref.abs().max()
