"""Samplers on a really trained tiny model: invert-then-decode must give the image back; DPM-Solver++(2M) against an
independent float64 reference (tests/diffusegae/reference_samplers.py) and the exact ODE solution for Gaussian data."""

import numpy as np
import pytest
import torch

from diffusegae.data import toys
from diffusegae.diffusion.samplers import SAMPLERS, ddim_sample
from diffusegae.diffusion.schedule import NoiseSchedule
from diffusegae.evaluation.metrics import mse01
from tests.diffusegae import reference_samplers as ref


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
    assert s.timesteps(2, "linspace") == [0, 999]  # the spacing before issue 15 (tests/diffusegae/test_sampler_steps.py)
    assert len(s.timesteps(37)) == 37
    with pytest.raises(ValueError, match="at least 2"):
        s.timesteps(1, "linspace")


def test_dpmpp_first_step_equals_ddim():
    """DDIM is the first-order case of DPM-Solver++: with two timesteps there is no history, so they agree."""
    schedule = NoiseSchedule.linear()
    model = lambda x, t, c: 0.3 * x + c[:, :1, None, None]  # noqa: E731
    x = torch.randn(2, 3, 4, 4)
    cond = torch.randn(2, 5)
    a = SAMPLERS["ddim"].sample(model, x, [500, 999], schedule, cond=cond, clip=False)
    b = SAMPLERS["dpmpp_2m"].sample(model, x, [500, 999], schedule, cond=cond, clip=False)
    assert torch.allclose(a, b, atol=1e-5)


# --- DPM-Solver++(2M) against the reference ------------------------------------------------------------------------

SCHEDULE = NoiseSchedule.linear()
ABAR = SCHEDULE.abar.numpy()
SHAPE = (2, 3, 4, 4)


def _uneven(n: int) -> list[int]:
    """n increasing timesteps 0 .. 999, quadratically spaced (dense near the clean end): r_i runs from ~0.5 to ~2."""
    ts = [round(999 * (i / (n - 1)) ** 2) for i in range(n)]
    assert len(set(ts)) == n
    return ts


def _torch_model(eps_fn, cond: torch.Tensor):
    """The float64 NumPy eps function as the library's eps_model(x_t, t, cond)."""

    def model(x, t, c):
        assert c is cond and t.dtype == torch.long and (t == t[0]).all()
        return torch.from_numpy(eps_fn(x.double().numpy(), int(t[0]))).to(x.dtype)

    return model


def _gaussian() -> ref.GaussianData:
    rng = np.random.default_rng(0)
    return ref.GaussianData(rng.uniform(-0.5, 0.5, SHAPE[1:]), rng.uniform(0.2, 0.6, SHAPE[1:]), np.array([0.1, -0.2]), ABAR)


def _run(sampler: str, direction: str, eps_fn, x: np.ndarray, timesteps: list[int], *, clip: bool,
         dtype: torch.dtype = torch.float64) -> np.ndarray:
    cond = torch.randn(SHAPE[0], 5)
    sample, invert = SAMPLERS[sampler]
    model = _torch_model(eps_fn, cond)
    if direction == "sample":
        out = sample(model, torch.from_numpy(x).to(dtype), timesteps, SCHEDULE, cond=cond, clip=clip)
    else:
        out = invert(model, torch.from_numpy(x).to(dtype), timesteps, SCHEDULE, cond=cond)
    assert out.dtype == dtype
    return out.double().numpy()


def _reference(direction: str, eps_fn, x: np.ndarray, timesteps: list[int], *, clip: bool, order: int = 2):
    # Sampling walks T-1 .. 0 and then to the clean image (-1, taken first order, as the library does: see
    # ref.dpmpp_2m); inversion walks 0 .. T-1 from the image put at timestep 0, and makes one call fewer.
    path = sorted(timesteps, reverse=True) + [-1] if direction == "sample" else sorted(timesteps)
    return ref.dpmpp_2m(eps_fn, x, path, ABAR, clip=clip and direction == "sample", order=order)


_CASES = {  # name: (eps function, clip)
    "gaussian": (_gaussian().eps, False),
    "mixture": (ref.GaussianMixture((-0.7, 0.2, 0.8), (0.15, 0.3, 0.2), (0.3, 0.3, 0.4), ABAR).eps, False),
    "mixture-clipped": (ref.GaussianMixture((-0.9, 0.9), (0.3, 0.3), (0.5, 0.5), ABAR).eps, True),
}


def _start(direction: str, dtype: torch.dtype) -> np.ndarray:
    rng = np.random.default_rng(1)
    x = rng.standard_normal(SHAPE) if direction == "sample" else rng.uniform(-1, 1, SHAPE)
    return torch.from_numpy(x).to(dtype).double().numpy()  # what the library starts from, in float64


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("direction", ["sample", "invert"])
@pytest.mark.parametrize("case", list(_CASES))
def test_dpmpp_2m_matches_reference_on_uneven_steps(case, direction, dtype):
    """12 quadratically spaced steps: 10 of them second order with r in 0.67 .. 1.49; fails without the correction."""
    eps_fn, clip = _CASES[case]
    timesteps = _uneven(12)
    x = _start(direction, dtype)
    lib = _run("dpmpp_2m", direction, eps_fn, x, timesteps, clip=clip, dtype=dtype)
    want, rs = _reference(direction, eps_fn, x, timesteps, clip=clip)
    first_order, _ = _reference(direction, eps_fn, x, timesteps, clip=clip, order=1)
    scale = max(1.0, np.abs(want).max())
    # The second-order branch ran with r far from 1, and it matters far beyond the tolerance below.
    assert len(rs) == 10 and min(rs) < 0.8 and max(rs) > 1.2, rs
    assert np.abs(want - first_order).max() > 1e-2 * scale
    # 2e-5: float32 inputs round at every step (float64 runs agree to rounding error, see below).
    err = np.abs(lib - want).max()
    assert err < 2e-5 * scale, f"{case} {direction} {dtype}: max |library - reference| = {err:.3e} (scale {scale:.3g})"
    if case == "mixture-clipped" and direction == "sample":
        unclipped, _ = _reference(direction, eps_fn, x, timesteps, clip=False)
        assert np.abs(unclipped - want).max() > 1e-2, "the clamp should have acted on some data prediction"


@pytest.mark.parametrize("direction", ["sample", "invert"])
def test_dpmpp_2m_float64_runs_match_reference_to_rounding(direction):
    eps_fn, _ = _CASES["gaussian"]
    x = _start(direction, torch.float64)
    lib = _run("dpmpp_2m", direction, eps_fn, x, _uneven(12), clip=False)
    want, _ = _reference(direction, eps_fn, x, _uneven(12), clip=False)
    assert np.abs(lib - want).max() < 1e-12 * max(1.0, np.abs(want).max())


@pytest.mark.parametrize("direction", ["sample", "invert"])
def test_ddim_is_the_first_order_reference(direction):
    eps_fn, _ = _CASES["mixture"]
    x = _start(direction, torch.float64)
    lib = _run("ddim", direction, eps_fn, x, _uneven(12), clip=False)
    want, _ = _reference(direction, eps_fn, x, _uneven(12), clip=False, order=1)
    assert np.abs(lib - want).max() < 1e-12 * max(1.0, np.abs(want).max())


@pytest.mark.parametrize("direction", ["sample", "invert"])
def test_dpmpp_2m_is_closer_than_ddim_to_the_exact_ode_solution(direction):
    """Gaussian data: the probability-flow ODE is solved in closed form, so each solver's error is known exactly."""
    gauss = _gaussian()
    x = _start(direction, torch.float64)
    if direction == "sample":  # the exact flow to timestep 0, then the same last step to the clean image as both solvers
        exact = gauss.x0_pred(gauss.flow(x, 999, 0), 0)
    else:
        exact = gauss.flow(x, 0, 999)
    errs = {(sampler, n): np.abs(_run(sampler, direction, gauss.eps, x, _uneven(n), clip=False) - exact).max()
            for sampler in ("ddim", "dpmpp_2m") for n in (20, 40)}
    assert errs["dpmpp_2m", 40] < errs["ddim", 40] / 4, errs
    assert errs["dpmpp_2m", 20] < errs["ddim", 20] / 2, errs
    assert errs["dpmpp_2m", 40] < errs["dpmpp_2m", 20] / 2.5, errs  # second order: ~4x per halving of the steps
