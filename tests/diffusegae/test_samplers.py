"""Samplers on a really trained tiny model: invert-then-decode must give the image back."""

import pytest
import torch

from diffusegae.data import toys
from diffusegae.diffusion.samplers import SAMPLERS, ddim_sample
from diffusegae.diffusion.schedule import NoiseSchedule
from diffusegae.editing import Editor
from diffusegae.evaluation.metrics import mse01


@pytest.fixture(scope="module")
def editor(tiny_model):
    torch.set_num_threads(1)
    return Editor.load(tiny_model, "cpu")


@pytest.fixture(scope="module")
def images():
    labels = torch.tensor([[0, 1, 2], [3, 4, 5], [5, 0, 9], [2, 5, 0]])
    return toys.render_tensor(labels, 16)


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_invert_then_decode_reconstructs(editor, images, sampler):
    lat = editor.encode(images, steps=20, sampler=sampler)
    rec = editor.decode(lat.z_dis, lat.x_T, steps=20, sampler=sampler)
    err = mse01(rec, images)
    rand = mse01(editor.decode(lat.z_dis, editor.random_x_T(range(4)), steps=20, sampler=sampler), images)
    assert err < 3e-3, f"{sampler}: reconstruction MSE {err:.2e}"
    assert rand > 5 * err, "a random x_T should not give the same picture"


def test_more_steps_reconstruct_better_and_odd_counts_work(editor, images):
    errs = {}
    for steps in (7, 13, 50):  # not divisors of 1000
        lat = editor.encode(images, steps=steps)
        errs[steps] = mse01(editor.decode(lat.z_dis, lat.x_T, steps=steps), images)
    assert errs[50] < errs[7]


def test_progress_callback_once_per_step(editor, images):
    seen = []
    editor.decode(editor.z_dis_of(images[:1]), editor.random_x_T([0]), steps=9, progress=lambda d, n: seen.append((d, n)))
    assert seen == [(i, 9) for i in range(1, 10)]
    schedule = NoiseSchedule.linear()
    infos = []
    ddim_sample(lambda x, t, c: torch.zeros_like(x), torch.randn(1, 3, 4, 4), schedule.timesteps(5), schedule,
                cond=torch.zeros(1, 2), callback=infos.append)
    assert [i["i"] for i in infos] == list(range(5)) and infos[0]["t"] == 999


def test_batch_mixing_images_equals_one_by_one(editor, images):
    lat = editor.encode(images, steps=10)
    together = editor.decode(lat.z_dis, lat.x_T, steps=10)
    alone = torch.cat([editor.decode(lat.z_dis[i: i + 1], lat.x_T[i: i + 1], steps=10) for i in range(4)])
    assert torch.allclose(together, alone, atol=1e-4)


def test_timesteps_validation():
    s = NoiseSchedule.linear()
    assert s.timesteps(2) == [0, 999]
    assert len(s.timesteps(37)) == 37
    with pytest.raises(ValueError, match="at least 2"):
        s.timesteps(1)


def test_dpmpp_first_step_equals_ddim():
    """DDIM is the first-order case of DPM-Solver++: with two timesteps there is no history, so they agree."""
    schedule = NoiseSchedule.linear()
    model = lambda x, t, c: 0.3 * x + c[:, :1, None, None]  # noqa: E731
    x = torch.randn(2, 3, 4, 4)
    cond = torch.randn(2, 5)
    a = SAMPLERS["ddim"][0](model, x, [500, 999], schedule, cond=cond, clip=False)
    b = SAMPLERS["dpmpp_2m"][0](model, x, [500, 999], schedule, cond=cond, clip=False)
    assert torch.allclose(a, b, atol=1e-5)
