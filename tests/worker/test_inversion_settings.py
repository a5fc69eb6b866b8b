"""Latents are used only when made by the loaded model with the inversion it runs now; others are encoded again."""

from __future__ import annotations

import torch

from diffusegae.editing import Editor, Latents
from worker.batches import Worker, _usable, inversion_settings
from worker.tensors import latents_bytes, latents_meta, load_latents


def test_latents_of_other_inversion_steps_are_not_used(tiny_model, tmp_path):
    ed = Editor.load(tiny_model, "cpu")
    proc = Worker(records=None, store=None, model="m", editor=ed, fingerprint="fp", claim=lambda key: [])
    steps, sampler = inversion_settings(ed)
    assert (steps, sampler) == (ed.info.default_steps, ed.info.default_sampler)
    lat = Latents(torch.zeros(1, 32), torch.zeros(1, 14), torch.zeros(1, 3, 16, 16))
    cases = {"same": ({"model": "fp", "steps": steps, "sampler": sampler}, True),
             "other model": ({"model": "old", "steps": steps, "sampler": sampler}, False),
             "other steps": ({"model": "fp", "steps": steps + 5, "sampler": sampler}, False),
             "other sampler": ({"model": "fp", "steps": steps, "sampler": "dpmpp_2m" if sampler == "ddim" else "ddim"}, False)}
    for name, (meta, usable) in cases.items():
        assert _usable(proc, latents_meta(latents_bytes(lat, meta))) is usable, name
    assert _usable(proc, latents_meta(None)) is False and latents_meta(b"\x00garbage") is None
    again = load_latents(latents_bytes(lat, cases["same"][0]), torch.device("cpu"))
    assert all(torch.equal(getattr(again, k), getattr(lat, k)) for k in ("z_sem", "z_dis", "x_T"))
