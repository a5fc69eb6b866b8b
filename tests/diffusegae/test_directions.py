"""Diff-AE's direction edits (diffusegae.fitting.directions): one-vs-rest classifiers on norm(z_sem), a move along a
value's unit weight, decoded with z_sem as the condition."""

from __future__ import annotations

import math

import pytest
import torch

from diffusegae.editing import Editor
from diffusegae.fitting.directions import DIRECTIONS, fit_directions, load_directions, move, save_directions, z_sem_of
from tests.tiny_model import tiny_toys


@pytest.fixture(scope="module")
def fitted(tiny_model):
    ed = Editor.load(tiny_model, "cpu")
    data = tiny_toys(ed.info.resolution)
    directions, config = fit_directions(ed, data, steps=200)
    ed.directions = directions
    return ed, data, directions, config


def test_the_classifiers_read_every_attribute_above_chance_and_the_directions_are_unit_vectors(fitted):
    """The tiny model's z_sem holds the background well and identity and pose barely (as its value prototypes
    show): the classifiers read what is there."""
    ed, data, directions, config = fitted
    for attr, names in zip(ed.info.attributes, ed.info.values):
        assert directions[attr].shape == (len(names), ed.ae.cfg.z_sem_dim)
        assert torch.allclose(directions[attr].norm(dim=1), torch.ones(len(names)), atol=1e-5)
        assert config.accuracy[attr] > 1 / len(names), (attr, config.accuracy)  # chance: 1 / values
    assert config.accuracy["background"] >= 0.9


def test_a_move_is_the_formula_zero_is_no_change_and_moves_add_up(fitted):
    ed, data, directions, _ = fitted
    z = z_sem_of(ed, data.images[:4])
    assert torch.allclose(move(z, ed.gae, directions, {"pose": (2, 0.0)}), z, atol=1e-5)
    one = move(z, ed.gae, directions, {"pose": (2, 0.3)})
    expected = ed.gae.denormalize(ed.gae.normalize(z) + 0.3 * math.sqrt(z.shape[1]) * directions["pose"][2])
    assert torch.allclose(one, expected, atol=1e-5)
    both = move(z, ed.gae, directions, {"pose": (2, 0.3), "background": (1, -0.2)})
    assert torch.allclose(both, move(one, ed.gae, directions, {"background": (1, -0.2)}), atol=1e-4)


def test_moving_towards_a_value_makes_the_images_classifier_read_it_more(fitted):
    """The move's purpose, read on the decoded images by the fitted classifier itself (encoded again)."""
    ed, data, directions, _ = fitted
    col = ed.info.attributes.index("background")
    bases = torch.nonzero(data.labels[:, col] != 1)[:8, 0]
    lat = ed.encode(data.images[bases])
    w = directions["background"][1]

    def score(images: torch.Tensor) -> torch.Tensor:
        return ed.gae.normalize(z_sem_of(ed, images)) @ w

    plain = ed.decode_z_sem(lat.z_sem, lat.x_T)
    moved = ed.decode_z_sem(ed.diffae_code(lat.z_sem, {"background": (ed.info.values[col][1], 0.3)}), lat.x_T)
    assert score(moved).mean() > score(plain).mean()


def test_directions_are_saved_beside_the_model_and_loaded_by_the_editor(fitted, tiny_model, tmp_path):
    import shutil

    ed, _, directions, config = fitted
    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder)
    save_directions(folder / "edits", directions, config)
    assert (folder / "edits" / DIRECTIONS).is_file()
    again = Editor.load(folder, "cpu")
    assert all(torch.equal(again.directions[a], directions[a]) for a in directions)
    values = {a: len(v) for a, v in zip(ed.info.attributes, ed.info.values)}
    assert load_directions(tmp_path, values, ed.ae.cfg.z_sem_dim) is None  # never fitted: no such edits
    again.directions = None  # as a model folder without directions.safetensors loads
    with pytest.raises(ValueError, match="no Diff-AE directions"):
        again.diffae_code(torch.zeros(1, ed.ae.cfg.z_sem_dim), {"pose": ("0", 0.1)})
    with pytest.raises(ValueError, match="pose has no value 'x'"):
        ed_with = Editor.load(folder, "cpu")
        ed_with.diffae_code(torch.zeros(1, ed.ae.cfg.z_sem_dim), {"pose": ("x", 0.1)})
