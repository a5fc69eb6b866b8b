"""Deterministic samplers and their inversions, as pure functions.

Every function takes `eps_model(x_t, t, cond) -> eps` (t is a (B,) long tensor), the noise
schedule, the integer timesteps from `NoiseSchedule.timesteps(n)` (increasing, 0 .. T-1) and the
condition (B, z_sem_dim). Decoding walks the timesteps down from T-1 and returns the clean image;
inversion walks them up from the clean image and returns x_T. With S timesteps decoding makes S
model calls and inversion S - 1.

Notation (PAPER.md section 2): alpha_t = sqrt(abar_t), sigma_t = sqrt(1 - abar_t),
x0_hat = (x_t - sigma_t eps) / alpha_t.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from diffusegae.diffusion.schedule import NoiseSchedule

EpsModel = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
Callback = Callable[[dict], None]


def _abar(schedule: NoiseSchedule, t: int) -> float:
    return 1.0 if t < 0 else float(schedule.abar[t])


def _eps_x0(eps_model: EpsModel, schedule: NoiseSchedule, x: torch.Tensor, t: int, cond: torch.Tensor):
    tb = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)
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
            x0_hat = x0_hat.clamp(-1, 1)
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
    path = sorted(timesteps, reverse=True) + [-1]
    return _ddim_walk(eps_model, schedule, x_T, path, cond, callback, clip=clip)


@torch.no_grad()
def ddim_invert(eps_model: EpsModel, x0: torch.Tensor, timesteps: list[int], schedule: NoiseSchedule, *,
                cond: torch.Tensor, callback: Callback | None = None) -> torch.Tensor:
    """DDIM inversion (PAPER.md eq. 7): x0 (B, C, H, W) -> x_T (B, C, H, W)."""
    return _ddim_walk(eps_model, schedule, x0, sorted(timesteps), cond, callback, clip=False)


def _lambda(abar: float) -> float:
    """Half log-SNR, log(alpha / sigma)."""
    return 0.5 * (torch.log(torch.tensor(abar, dtype=torch.float64)) - torch.log1p(torch.tensor(-abar, dtype=torch.float64))).item()


def _dpmpp_2m_walk(eps_model, schedule, x, path: list[int], cond, callback, *, clip: bool) -> torch.Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022, Alg. 2) along `path`; its first-order case is DDIM.

    Walking `path` upwards gives the inversion: the same multistep update with h < 0.
    The multistep history (`x0_prev`, `h_prev`) is local to this call.
    """
    n = len(path) - 1
    x0_prev, h_prev = None, None
    for i in range(n):
        s, t = path[i], path[i + 1]
        # 1. data prediction at s
        _, x0_hat = _eps_x0(eps_model, schedule, x, s, cond)
        if clip:
            x0_hat = x0_hat.clamp(-1, 1)
        abar_s, abar_t = _abar(schedule, s), _abar(schedule, t)
        if t < 0:  # last step to the clean image: the data prediction itself
            x = x0_hat
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
    path = sorted(timesteps, reverse=True) + [-1]
    return _dpmpp_2m_walk(eps_model, schedule, x_T, path, cond, callback, clip=clip)


@torch.no_grad()
def dpmpp_2m_invert(eps_model: EpsModel, x0: torch.Tensor, timesteps: list[int], schedule: NoiseSchedule, *,
                    cond: torch.Tensor, callback: Callback | None = None) -> torch.Tensor:
    """DPM-Solver++(2M) inversion: x0 (B, C, H, W) -> x_T (B, C, H, W)."""
    return _dpmpp_2m_walk(eps_model, schedule, x0, sorted(timesteps), cond, callback, clip=False)


SAMPLERS = {"ddim": (ddim_sample, ddim_invert), "dpmpp_2m": (dpmpp_2m_sample, dpmpp_2m_invert)}
