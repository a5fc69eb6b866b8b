"""Deterministic samplers and their inversions, as pure functions.

Every function takes `eps_model(x_t, t, cond) -> eps` (t is a (B,) long tensor), the noise
schedule, the integer timesteps from `NoiseSchedule.timesteps(n)` (increasing, in 0 .. T-1) and the
condition (B, z_sem_dim). Decoding walks the timesteps down from the largest and ends with one step
from the smallest to the clean image (S timesteps, S model calls); inversion walks back up and returns x_T.
Where inversion starts (`inversion_path`):

- from_clean=True (what `Editor` uses): with the mirror of decoding's last step, from the clean image
  (timestep -1: x0_hat is the image itself, the noise is the model's at t = 0) to the smallest timestep;
  S model calls;
- from_clean=False: the image is taken as x_{t_0} at the smallest timestep t_0 (= 0: the convention before
  issue 15, with "linspace" timesteps); S - 1 model calls. A round trip then keeps a bias of about
  sigma_0 eps(x0, 0) / alpha_0 (sigma_0 = 0.01): decoding's last step subtracts a noise inversion never added;
- from_clean=None (the default): True when 0 is not among the timesteps, else False.

Invert-then-decode reconstructs only when both directions use the same timesteps.

Notation (PAPER.md section 2): alpha_t = sqrt(abar_t), sigma_t = sqrt(1 - abar_t),
x0_hat = (x_t - sigma_t eps) / alpha_t.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch

from diffusegae.diffusion.schedule import NoiseSchedule

EpsModel = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
Callback = Callable[[dict], None]


def _abar(schedule: NoiseSchedule, t: int) -> float:
    return 1.0 if t < 0 else float(schedule.abar[t])


def sampling_path(timesteps: list[int]) -> list[int]:
    """The timesteps decoding visits: largest first, then -1, the clean image."""
    return sorted(timesteps, reverse=True) + [-1]


def inversion_path(timesteps: list[int], from_clean: bool | None = None) -> list[int]:
    """The timesteps inversion visits: from the clean image (-1) first, or from the smallest timestep (see the
    module docstring; None: from the clean image unless 0 is among the timesteps)."""
    ts = sorted(timesteps)
    if from_clean is None:
        from_clean = ts[0] > 0
    return [-1] + ts if from_clean else ts


def model_calls(timesteps: list[int], *, invert: bool, from_clean: bool | None = None) -> int:
    """How many model calls (and progress callbacks) one decoding or inversion makes."""
    return len(inversion_path(timesteps, from_clean) if invert else sampling_path(timesteps)) - 1


def _eps_x0(eps_model: EpsModel, schedule: NoiseSchedule, x: torch.Tensor, t: int, cond: torch.Tensor):
    """The model's noise and clean-image predictions at t; at t = -1 (the clean image) x0_hat is x itself and
    the noise is the model's at t = 0."""
    tb = torch.full((x.shape[0],), max(t, 0), device=x.device, dtype=torch.long)
    eps = eps_model(x, tb, cond)
    abar = _abar(schedule, t)
    x0_hat = (x - (1 - abar) ** 0.5 * eps) / abar**0.5
    return eps, x0_hat


def _ddim_walk(eps_model, schedule, x, path: list[int], cond, callback, *, clip: bool) -> torch.Tensor:
    """Step along `path` (a list of timesteps, -1 meaning the clean image) with DDIM, eta = 0."""
    n = len(path) - 1
    for i in range(n):
        t, t_next = path[i], path[i + 1]
        # 1. predict the noise and the clean image at t
        eps, x0_hat = _eps_x0(eps_model, schedule, x, t, cond)
        if clip:
            # the noise that goes with the clamped clean image, as DPM-Solver++'s thresholded data prediction (whose
            # first-order case this then is) and diffusers' DDIM do: mixing the clamped x0_hat with the model's
            # unclamped eps leaves x_next off the line between them, an error the inversion never made
            x0_hat = x0_hat.clamp(-1, 1)
            if t >= 0:
                abar = _abar(schedule, t)
                eps = (x - abar**0.5 * x0_hat) / (1 - abar) ** 0.5
        # 2. move to t_next: x_next = sqrt(abar_next) x0_hat + sqrt(1 - abar_next) eps (eq. 7 when t_next > t)
        abar_next = _abar(schedule, t_next)
        x = abar_next**0.5 * x0_hat + (1 - abar_next) ** 0.5 * eps
        if callback is not None:
            callback({"i": i, "n": n, "t": t, "x": x, "x0_hat": x0_hat})
    return x


@torch.no_grad()
def ddim_sample(eps_model: EpsModel, x_T: torch.Tensor, timesteps: list[int], schedule: NoiseSchedule, *,
                cond: torch.Tensor, callback: Callback | None = None, clip: bool = True) -> torch.Tensor:
    """DDIM decoding (eta = 0): x_T (B, C, H, W) -> x0 (B, C, H, W)."""
    return _ddim_walk(eps_model, schedule, x_T, sampling_path(timesteps), cond, callback, clip=clip)


@torch.no_grad()
def ddim_invert(eps_model: EpsModel, x0: torch.Tensor, timesteps: list[int], schedule: NoiseSchedule, *,
                cond: torch.Tensor, callback: Callback | None = None, from_clean: bool | None = None) -> torch.Tensor:
    """DDIM inversion (PAPER.md eq. 7): x0 (B, C, H, W) -> x_T (B, C, H, W)."""
    return _ddim_walk(eps_model, schedule, x0, inversion_path(timesteps, from_clean), cond, callback, clip=False)


def _lambda(abar: float) -> float:
    """Half log-SNR, log(alpha / sigma)."""
    return 0.5 * (torch.log(torch.tensor(abar, dtype=torch.float64)) - torch.log1p(torch.tensor(-abar, dtype=torch.float64))).item()


def _dpmpp_2m_walk(eps_model, schedule, x, path: list[int], cond, callback, *, clip: bool) -> torch.Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022, Alg. 2) along `path`; its first-order case is DDIM.

    Walking `path` upwards gives the inversion: the same multistep update with h < 0. A first step from the
    clean image (-1: sigma = 0, lambda = +inf) is DDIM's, and the step after it first order too (r = h_prev / h
    is infinite there, so the correction vanishes), mirroring decoding's last step, which is first order.
    The multistep history (`x0_prev`, `h_prev`) is local to this call.
    """
    n = len(path) - 1
    x0_prev, h_prev = None, None
    for i in range(n):
        s, t = path[i], path[i + 1]
        # 1. data prediction at s
        eps, x0_hat = _eps_x0(eps_model, schedule, x, s, cond)
        if clip:
            x0_hat = x0_hat.clamp(-1, 1)
        abar_s, abar_t = _abar(schedule, s), _abar(schedule, t)
        if t < 0:  # last step to the clean image: the data prediction itself
            x = x0_hat
        elif s < 0:  # first step of an inversion from the clean image: x_t = alpha_t x0 + sigma_t eps (DDIM)
            x = abar_t**0.5 * x0_hat + (1 - abar_t) ** 0.5 * eps
            h_prev = None
        else:
            # 2. second-order combination of the last two data predictions
            h = _lambda(abar_t) - _lambda(abar_s)
            if x0_prev is None or h_prev is None:
                d = x0_hat
            else:
                r = h_prev / h
                d = (1 + 1 / (2 * r)) * x0_hat - (1 / (2 * r)) * x0_prev
            # 3. exponential-integrator update: x_t = (sigma_t / sigma_s) x_s - alpha_t (e^{-h} - 1) D
            sig_ratio = ((1 - abar_t) / (1 - abar_s)) ** 0.5
            x = sig_ratio * x - abar_t**0.5 * math.expm1(-h) * d
            h_prev = h
        x0_prev = x0_hat
        if callback is not None:
            callback({"i": i, "n": n, "t": s, "x": x, "x0_hat": x0_hat})
    return x


@torch.no_grad()
def dpmpp_2m_sample(eps_model: EpsModel, x_T: torch.Tensor, timesteps: list[int], schedule: NoiseSchedule, *,
                    cond: torch.Tensor, callback: Callback | None = None, clip: bool = True) -> torch.Tensor:
    """DPM-Solver++(2M) decoding: x_T (B, C, H, W) -> x0 (B, C, H, W)."""
    return _dpmpp_2m_walk(eps_model, schedule, x_T, sampling_path(timesteps), cond, callback, clip=clip)


@torch.no_grad()
def dpmpp_2m_invert(eps_model: EpsModel, x0: torch.Tensor, timesteps: list[int], schedule: NoiseSchedule, *,
                    cond: torch.Tensor, callback: Callback | None = None, from_clean: bool | None = None) -> torch.Tensor:
    """DPM-Solver++(2M) inversion: x0 (B, C, H, W) -> x_T (B, C, H, W)."""
    return _dpmpp_2m_walk(eps_model, schedule, x0, inversion_path(timesteps, from_clean), cond, callback, clip=False)


class Sampler(NamedTuple):
    """A sampler's two walks over the same timesteps: decoding x_T -> x_0 and inversion x_0 -> x_T."""

    sample: Callable[..., torch.Tensor]
    invert: Callable[..., torch.Tensor]


SAMPLERS = {"ddim": Sampler(ddim_sample, ddim_invert), "dpmpp_2m": Sampler(dpmpp_2m_sample, dpmpp_2m_invert)}
# Bump when the timesteps, the inversion or a sampler's update change: an x_T inferred before does not decode
# right after, so stored latents are keyed on it (ModelFolder.fingerprint).
SAMPLING_VERSION = 2
