"""Issue 15: sampling at few steps. The timestep spacings, inversion from the clean image, DDIM's clamped step, the
round trip against the spacing before, and `diffusegae calibrate` on a copy of the tiny model."""

import importlib.util
import json
import math
import shutil

import numpy as np
import pytest
import torch

from diffusegae.cli import main as cli_main
from diffusegae.data import toys
from diffusegae.data.dataset import load_toys
from diffusegae.diffusion.samplers import SAMPLERS, inversion_path, model_calls
from diffusegae.diffusion.schedule import DEFAULT_SPACING, SPACINGS, NoiseSchedule
from diffusegae.fitting import steps as calibration
from diffusegae.fitting.steps import EditSet, edit_error, edit_set, measure
from diffusegae.model_folder import ModelFolder
from tests.conftest import ROOT
from tests.diffusegae import reference_samplers as ref
from tests.diffusegae.test_samplers import _CASES, ABAR, SCHEDULE, SHAPE, _reference, _run, _start, _torch_model

# --- the spacings ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("T", [1000, 50])
def test_every_spacing_gives_valid_timesteps(spacing, T):
    s = NoiseSchedule.linear(T)
    for steps in sorted({1, 2, 3, 4, 5, 7, 10, 15, 20, 37, 50, 100, 333, T - 1, T} & set(range(1, T + 1))):
        if spacing == "linspace" and steps < 2:
            continue
        ts = s.timesteps(steps, spacing)
        assert len(ts) == steps and all(isinstance(t, int) for t in ts), (spacing, steps)
        assert all(a < b for a, b in zip(ts, ts[1:])), (spacing, steps, ts)
        assert 0 <= ts[0] and ts[-1] == T - 1, (spacing, steps, ts)


def test_default_spacing_is_uniform_in_log_snr():
    s = NoiseSchedule.linear()
    lam = s.half_log_snr()
    for steps in (4, 10, 20):
        ts = s.timesteps(steps)
        assert DEFAULT_SPACING == "lambda" and ts == s.timesteps(steps, "lambda")
        gaps = np.diff(lam[ts].numpy())  # lambda falls as t grows
        h = (lam[0] - lam[-1]).item() / steps
        assert np.allclose(gaps, -h, atol=0.12), (steps, ts, gaps, h)  # integer rounding near t = 0
    assert s.timesteps(10) == [4, 17, 52, 138, 302, 492, 653, 785, 898, 999]


def test_spacing_edges():
    s = NoiseSchedule.linear()
    assert s.timesteps(1) == s.timesteps(1, "trailing") == [999]  # one step: the x0 prediction at T-1
    assert s.timesteps(2, "linspace") == [0, 999] and s.timesteps(4, "trailing") == [249, 499, 749, 999]
    assert s.timesteps(1000) == s.timesteps(1000, "trailing") == list(range(1000))
    with pytest.raises(ValueError, match="at least 2"):
        s.timesteps(1, "linspace")
    with pytest.raises(ValueError, match="at least 1"):
        s.timesteps(0)
    with pytest.raises(ValueError, match="at most 1000"):
        s.timesteps(1001)
    with pytest.raises(ValueError, match="unknown timestep spacing"):
        s.timesteps(10, "leading")


def test_inversion_paths():
    assert inversion_path([5, 9]) == [-1, 5, 9]  # no 0: from the clean image
    assert inversion_path([0, 5, 9]) == [0, 5, 9]  # 0 among them: the image is x_0 (before issue 15)
    assert inversion_path([0, 5, 9], from_clean=True) == [-1, 0, 5, 9]
    assert model_calls([5, 9], invert=True) == model_calls([5, 9], invert=False) == 2
    assert model_calls([0, 5, 9], invert=True) == 2 and model_calls([0, 5, 9], invert=True, from_clean=True) == 3


# --- the samplers against the float64 reference (tests/diffusegae/reference_samplers.py) --------------------------


def _invert(sampler, eps_fn, x, timesteps, *, from_clean):
    cond = torch.randn(SHAPE[0], 5)
    out = SAMPLERS[sampler].invert(_torch_model(eps_fn, cond), torch.from_numpy(x), timesteps, SCHEDULE, cond=cond,
                               from_clean=from_clean)
    return out.numpy()


@pytest.mark.parametrize("sampler", list(SAMPLERS))
@pytest.mark.parametrize("case", ["gaussian", "mixture"])
@pytest.mark.parametrize("timesteps", [SCHEDULE.timesteps(12), [0, 3, 40, 150, 420, 999]], ids=["lambda", "with-0"])
def test_inversion_from_the_clean_image_is_ddim_step_then_reference(sampler, case, timesteps):
    """From the clean image: x_{t_0} = alpha x0 + sigma eps(x0, t=0) (x0_hat is the image itself), then Algorithm 2
    from t_0, whose first step is first order as the library's step after the clean one (r is infinite there)."""
    eps_fn, _ = _CASES[case]
    x = _start("invert", torch.float64)
    lib = _invert(sampler, eps_fn, x, timesteps, from_clean=True)
    alpha, sigma = ref.alpha_sigma(ABAR, timesteps[0])
    x_t0 = alpha * x + sigma * eps_fn(x, 0)
    want, _ = ref.dpmpp_2m(eps_fn, x_t0, sorted(timesteps), ABAR, order=2 if sampler == "dpmpp_2m" else 1)
    assert np.abs(lib - want).max() < 1e-12 * max(1.0, np.abs(want).max())


@pytest.mark.parametrize("direction", ["sample", "invert"])
def test_dpmpp_2m_matches_reference_on_lambda_spacing(direction):
    eps_fn, clip = _CASES["mixture-clipped"]
    ts = SCHEDULE.timesteps(15)
    x = _start(direction, torch.float64)
    if direction == "invert":
        lib = _invert("dpmpp_2m", eps_fn, x, ts, from_clean=True)
        alpha, sigma = ref.alpha_sigma(ABAR, ts[0])
        want, _ = ref.dpmpp_2m(eps_fn, alpha * x + sigma * eps_fn(x, 0), ts, ABAR)
    else:
        lib = _run("dpmpp_2m", direction, eps_fn, x, ts, clip=clip)
        want, _ = _reference(direction, eps_fn, x, ts, clip=clip)
    assert np.abs(lib - want).max() < 1e-12 * max(1.0, np.abs(want).max())


@pytest.mark.parametrize("timesteps", [SCHEDULE.timesteps(12), SCHEDULE.timesteps(12, "linspace")])
def test_clamped_ddim_is_first_order_dpm_solver_pp(timesteps):
    """DDIM decoding with the clamp takes the eps that goes with the clamped x0_hat: Algorithm 2 at first order with
    the thresholded data prediction (before issue 15 it mixed the clamped x0_hat with the model's eps)."""
    eps_fn, _ = _CASES["mixture-clipped"]
    x = _start("sample", torch.float64)
    lib = _run("ddim", "sample", eps_fn, x, timesteps, clip=True)
    want, _ = _reference("sample", eps_fn, x, timesteps, clip=True, order=1)
    unclamped, _ = _reference("sample", eps_fn, x, timesteps, clip=False, order=1)
    assert np.abs(want - unclamped).max() > 1e-2, "the clamp should have acted"
    assert np.abs(lib - want).max() < 1e-12 * max(1.0, np.abs(want).max())


def test_one_step():
    eps_fn, _ = _CASES["gaussian"]
    x = _start("sample", torch.float64)
    alpha, sigma = ref.alpha_sigma(ABAR, 999)
    for sampler in SAMPLERS:  # decoding: the clean-image prediction at T-1
        lib = _run(sampler, "sample", eps_fn, x, [999], clip=False)
        assert np.allclose(lib, (x - sigma * eps_fn(x, 999)) / alpha, rtol=0, atol=1e-12)
        img = _start("invert", torch.float64)  # inversion: one step up from the image
        assert np.allclose(_invert(sampler, eps_fn, img, [999], from_clean=None), alpha * img + sigma * eps_fn(img, 0),
                           rtol=0, atol=1e-12)


# --- on the really trained tiny model ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def images():
    labels = torch.tensor([[0, 1, 2], [3, 4, 5], [5, 0, 9], [2, 5, 0], [1, 3, 7], [4, 2, 4]])
    return EditSet(toys.render_tensor(labels, 16), labels, torch.tensor([0]), torch.tensor([1]), torch.tensor([0]))


def _bench():
    spec = importlib.util.spec_from_file_location("bench_steps", ROOT / "benchmarks" / "bench_steps.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_round_trip_at_few_steps_at_least_as_good_as_before(editor, images, sampler):
    """Invert-then-decode now (default spacing, from the clean image) against the library before issue 15
    (`benchmarks/bench_steps.py`'s "before": linspace, the image as x_0, DDIM's old clamped step).

    From 4 steps up it is at least as good, and falls with the steps. At 2 and 3 steps (where the inferred x_T
    carries little and both are poor: MSE above 1e-2 here) DDIM now measures up to 8% worse on this model; that is
    pinned below 1.1x, not hidden (README, "Sampling steps")."""
    bench = _bench()
    errs = {}
    for steps in (2, 3, 4, 5, 6, 8, 10):
        before = measure(editor, images, sampler=sampler, steps=steps, **bench.setting_kwargs("before", sampler))
        after = measure(editor, images, sampler=sampler, steps=steps, **bench.setting_kwargs("after", sampler))
        errs[steps] = (before.recon_mse, after.recon_mse)
    assert all(a <= b for s, (b, a) in errs.items() if s >= 4), errs
    assert all(a <= 1.1 * b for s, (b, a) in errs.items() if s < 4), errs
    assert sum(math.log(b / a) for s, (b, a) in errs.items() if s >= 4) > math.log(2), f"no clear gain: {errs}"
    after = [a for s, (_, a) in errs.items() if s >= 3]
    assert all(later <= earlier for earlier, later in zip(after, after[1:])), f"not falling with steps: {errs}"


def test_editor_round_trip_is_what_measure_reports(editor, images):
    lat = editor.encode(images.x0, steps=5, sampler="dpmpp_2m")
    rec = editor.decode(lat.z_dis, lat.x_T, steps=5, sampler="dpmpp_2m")
    from diffusegae.evaluation.metrics import mse01

    assert mse01(rec, images.x0) == pytest.approx(measure(editor, images, sampler="dpmpp_2m", steps=5).recon_mse,
                                                  rel=1e-5)


def test_encode_progress_counts_every_inversion_call(editor, images):
    seen = []
    editor.encode(images.x0[:1], steps=5, progress=lambda d, n: seen.append((d, n)))
    assert seen == [(i, 5) for i in range(1, 6)]


# --- calibrate -----------------------------------------------------------------------------------------------------

CAL = ["--num-images", "8", "--pairs", "4", "--steps-list", "2", "4", "6", "10", "16", "--threads", "1"]


def _copy(tiny_model, tmp_path):
    dest = tmp_path / "model"
    shutil.copytree(tiny_model, dest, ignore=shutil.ignore_patterns("runs", "cache-key.json"))
    return dest


def test_calibrate_writes_a_choice_within_its_own_tolerance(tiny_model, tmp_path, editor, capsys):
    model = _copy(tiny_model, tmp_path)
    before = ModelFolder(model).read_manifest()
    tol = 2e-3
    cli_main(["calibrate", "--model", str(model), "--tolerance", str(tol), *CAL, "--out", str(tmp_path / "cal.json")])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["steps"] > 0
    result = json.loads((tmp_path / "cal.json").read_text())
    after = ModelFolder(model).read_manifest()
    choice = result["choice"]
    assert (after.default_steps, after.default_sampler, after.spacing) == (choice["steps"], choice["sampler"], "lambda")
    assert (after.name, after.values, after.dataset) == (before.name, before.values, before.dataset)
    # It picked the fewest steps that pass: every setting with fewer failed, and the choice was measured.
    assert all(not r["passes"] for r in result["rows"] if r["steps"] < choice["steps"])
    assert 2 < choice["steps"] < 100, result["rows"]  # the test says something only when the choice is in between
    # Re-measured from scratch, the chosen setting is within the tolerance it was chosen by.
    es = edit_set(load_toys(16, "test"), images=8, pairs=4)
    ref_m = measure(editor, es, sampler="ddim", steps=100)
    err = edit_error(measure(editor, es, sampler=choice["sampler"], steps=choice["steps"]), ref_m)
    assert err <= tol and err == pytest.approx(choice["edit_mse"], rel=1e-4)


def test_calibrate_dry_run_and_nothing_within_tolerance(tiny_model, tmp_path, capsys):
    model = _copy(tiny_model, tmp_path)
    text = (model / "model.json").read_text()
    cli_main(["calibrate", "--model", str(model), "--tolerance", "1e-12", *CAL, "--dry-run"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"steps": 100, "sampler": "ddim",
                                                                             "spacing": "lambda", "edit_mse": 0.0}
    assert (model / "model.json").read_text() == text


class _ScriptedClassifier:
    """Reads every edit right for the reference and for settings of at least `good_from` steps, and gets a tenth of
    the edits wrong below that (the calibration decodes the reference first, then the candidates in order)."""

    def __init__(self, es: EditSet, steps_seq: list[int], good_from: int) -> None:
        self.want = es.labels[es.bases].clone()
        self.want[torch.arange(es.attrs.numel()), es.attrs] = es.labels[es.donors, es.attrs]
        self.steps_seq, self.good_from, self.calls = steps_seq, good_from, 0

    def predict(self, x):
        steps = self.steps_seq[self.calls]
        self.calls += 1
        out = self.want.clone()
        if steps < self.good_from:
            out[:: 10, 0] += 1
        return out


def test_calibrate_keeps_the_swap_accuracy(editor):
    data = load_toys(16, "test")
    es = edit_set(data, images=8, pairs=10)
    seq = [100] + [s for s in (2, 4, 6, 10) for _ in SAMPLERS]
    clf = _ScriptedClassifier(es, seq, good_from=6)
    result = calibration.calibrate(editor, data, tolerance=1.0, clf=clf, candidates=[2, 4, 6, 10], images=8, pairs=10)
    assert result["choice"]["steps"] == 6, result["rows"]  # any setting passes the MSE; only the accuracy decides
    assert all(r["swap_accuracy"]["identity"] < 0.98 for r in result["rows"] if r["steps"] < 6)
    assert result["reference"]["swap_accuracy"] == {"identity": 1.0, "background": 1.0, "pose": 1.0}
