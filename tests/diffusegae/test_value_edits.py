"""Edits to a named value (diffusegae.fitting.prototypes): each value's mean z_dis chunk stands in for a donor's."""

from __future__ import annotations

import shutil

import pytest
import torch

from diffusegae.checkpoint import CheckpointError
from diffusegae.editing import Editor, recombine
from diffusegae.fitting.prototypes import PROTOTYPES, fit_prototypes, save_prototypes
from diffusegae.model_folder import ModelFolder
from tests.tiny_model import tiny_toys


def test_setting_a_value_moves_the_chunk_to_that_values_prototype(tiny_model):
    """Decode the base with its background chunk set to value v, encode the result again: its background chunk is
    nearest v's prototype, as often as a swap with a donor image of background v reads as v. (The tiny model's
    background is the attribute it learned best: its clean images' chunks are nearest their own value's prototype
    every time, its poses and identities far less often.)"""
    ed = Editor.load(tiny_model, "cpu")
    data = tiny_toys(ed.info.resolution)
    g = torch.Generator().manual_seed(0)
    bases = torch.randperm(len(data), generator=g)[:16]
    col = ed.info.attributes.index("background")
    targets = [(int(data.labels[i, col]) + 1 + int(k)) % len(ed.info.values[col]) for k, i in
               zip(torch.randint(0, 4, (16,), generator=g), bases)]
    lat = ed.encode(data.images[bases])
    names = ed.info.values[col]
    by_value = torch.stack([recombine(lat.z_dis[i:i + 1], {"background": (ed.value_code("background", names[v]), 1.0)},
                                      ed.slices)[0] for i, v in enumerate(targets)])
    donors = [int(torch.nonzero((data.labels[:, col] == v) & (data.labels[:, 0] != data.labels[b, 0]))[0]) for b, v in
              zip(bases.tolist(), targets)]
    by_donor = recombine(lat.z_dis, {"background": (ed.z_dis_of(data.images[donors]), 1.0)}, ed.slices)

    def read(z: torch.Tensor) -> torch.Tensor:
        again = ed.z_dis_of(ed.decode(z, lat.x_T))[:, ed.slices["background"]]  # (16, chunk)
        return torch.cdist(again, ed.prototypes["background"]).argmin(1)

    want = torch.tensor(targets)
    value_rate, donor_rate = (read(by_value) == want).float().mean(), (read(by_donor) == want).float().mean()
    assert value_rate >= 0.75 and value_rate >= donor_rate - 0.125, (value_rate, donor_rate)


def test_a_value_the_model_lacks_or_a_model_without_prototypes_is_refused(tiny_model, tmp_path):
    ed = Editor.load(tiny_model, "cpu")
    code = ed.value_code("pose", ed.info.values[2][3])
    assert code.shape == (sum(ed.info.chunk_sizes),) and code[ed.slices["identity"]].abs().sum() == 0
    with pytest.raises(ValueError, match="no value 'tea'"):
        ed.value_code("pose", "tea")
    copy = ModelFolder(shutil.copytree(tiny_model, tmp_path / "m"))
    shutil.rmtree(copy.edits_dir)
    with pytest.raises(ValueError, match="fit-edits"):
        Editor.load(copy.root, "cpu").value_code("pose", ed.info.values[2][0])
    protos, config = fit_prototypes(ed, tiny_toys(ed.info.resolution))
    save_prototypes(copy.edits_dir, {**protos, "pose": protos["pose"][:-1]}, config)  # one value short
    with pytest.raises(CheckpointError, match="pose"):
        Editor.load(copy.root, "cpu")
    assert (copy.edits_dir / PROTOTYPES).is_file()
