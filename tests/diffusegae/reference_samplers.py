"""Independent float64 references for testing `diffusegae.diffusion.samplers` (NumPy, not the library's code).

* `dpmpp_2m`: DPM-Solver++(2M), written from Lu et al. 2022 ("DPM-Solver++: Fast Solver for Guided Sampling of
  Diffusion Probabilistic Models"), Algorithm 2, data prediction, multistep:

      lambda_t = log(alpha_t / sigma_t),  h_i = lambda_{t_i} - lambda_{t_{i-1}},  r_i = h_{i-1} / h_i
      D_i = (1 + 1/(2 r_i)) x0_{i-1} - 1/(2 r_i) x0_{i-2}          (D_1 = x0_0: the first step is first order)
      x_{t_i} = (sigma_{t_i} / sigma_{t_{i-1}}) x_{t_{i-1}} - alpha_{t_i} (e^{-h_i} - 1) D_i

  where x0_k is the data prediction x0(x_{t_k}, t_k) = (x_{t_k} - sigma_{t_k} eps) / alpha_{t_k}. With `order=1` it is
  the first-order solver, i.e. DDIM (eta = 0).

* `GaussianData`: the exact eps model of Gaussian data x0 ~ N(mu, diag(s^2)) (the minimiser of the diffusion loss),
  and the exact probability-flow ODE map between two noise levels, to measure a solver's error.

Timesteps index `abar`, the schedule table; timestep -1 is the clean image (abar = 1: sigma = 0, lambda = +inf).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

EpsFn = Callable[[np.ndarray, int], np.ndarray]  # (x_t, integer timestep) -> eps, all float64


def alpha_sigma(abar: np.ndarray, t: int) -> tuple[float, float]:
    a = 1.0 if t < 0 else float(abar[t])
    return float(np.sqrt(a)), float(np.sqrt(1.0 - a))


def half_log_snr(abar: np.ndarray, t: int) -> float:
    """lambda_t = log(alpha_t / sigma_t); +inf at the clean image."""
    alpha, sigma = alpha_sigma(abar, t)
    return float("inf") if sigma == 0.0 else float(np.log(alpha) - np.log(sigma))


def dpmpp_2m(eps_fn: EpsFn, x: np.ndarray, path: Sequence[int], abar: np.ndarray, *, clip: bool = False,
             order: int = 2) -> tuple[np.ndarray, list[float]]:
    """Walk `path` (t_0, t_1, ..., t_M) from x = x_{t_0}; returns x_{t_M} and the r_i the second-order steps used.

    The path may go down (sampling, h > 0) or up (inversion, h < 0): the update is the same.
    `clip` clamps each data prediction to [-1, 1] before it is used and before it is kept as history (the
    thresholded data prediction of DPM-Solver++ section 5).

    The step to the clean image (t_M = -1: sigma = 0, lambda = +inf, so h = +inf and r = 0) is taken first order,
    which is the convention the library follows (`x = x0_hat` when t < 0, like k-diffusion's sample_dpmpp_2m when the
    next sigma is 0): the limit h -> inf of the first-order update, sigma_t / sigma_s -> 0 and -(e^{-h} - 1) -> 1,
    gives x_{t_M} = alpha_{t_M} x0_{M-1} = x0_{M-1}. (The second-order D_M has 1/(2 r_M) = inf there.)
    """
    x = np.asarray(x, dtype=np.float64)
    x0_hist: list[np.ndarray] = []
    h_hist: list[float] = []
    rs: list[float] = []
    for i in range(1, len(path)):
        t_prev, t_cur = path[i - 1], path[i]
        alpha_p, sigma_p = alpha_sigma(abar, t_prev)
        alpha_c, sigma_c = alpha_sigma(abar, t_cur)
        x0 = (x - sigma_p * eps_fn(x, t_prev)) / alpha_p  # x0_{i-1}
        if clip:
            x0 = np.clip(x0, -1.0, 1.0)
        x0_hist.append(x0)
        if sigma_c == 0.0:  # to the clean image: first order, see the docstring
            x = alpha_c * x0
            continue
        h = half_log_snr(abar, t_cur) - half_log_snr(abar, t_prev)
        if order == 1 or i == 1:
            d = x0
        else:
            r = h_hist[-1] / h
            rs.append(r)
            d = (1.0 + 1.0 / (2.0 * r)) * x0_hist[-1] - (1.0 / (2.0 * r)) * x0_hist[-2]
        x = (sigma_c / sigma_p) * x - alpha_c * np.expm1(-h) * d
        h_hist.append(h)
    return x, rs


class GaussianData:
    """x0 ~ N(mu + shift_b, diag(s^2)) per sample b: the exact eps(x_t, t) = E[eps | x_t] and the exact ODE flow.

    With m = mu + shift: x_t ~ N(alpha m, alpha^2 s^2 + sigma^2), so E[eps | x_t] = sigma (x_t - alpha m) /
    (alpha^2 s^2 + sigma^2), and along the probability-flow ODE (x_t - alpha_t m) / sqrt(alpha_t^2 s^2 + sigma_t^2)
    is constant (with y = x / alpha, rho = sigma / alpha the ODE dy/drho = eps reads
    d log(y - m) = d log sqrt(s^2 + rho^2)).
    """

    def __init__(self, mu: np.ndarray, s: np.ndarray, shift: np.ndarray, abar: np.ndarray) -> None:
        self.abar = abar
        self.m = mu[None] + shift.reshape((-1,) + (1,) * mu.ndim)  # (B, *shape)
        self.s = s[None]

    def _scale(self, t: int) -> tuple[float, float, np.ndarray]:
        alpha, sigma = alpha_sigma(self.abar, t)
        return alpha, sigma, np.sqrt(alpha**2 * self.s**2 + sigma**2)

    def eps(self, x: np.ndarray, t: int) -> np.ndarray:
        alpha, sigma, scale = self._scale(t)
        return sigma * (x - alpha * self.m) / scale**2

    def x0_pred(self, x: np.ndarray, t: int) -> np.ndarray:
        alpha, sigma, _ = self._scale(t)
        return (x - sigma * self.eps(x, t)) / alpha

    def flow(self, x: np.ndarray, t_from: int, t_to: int) -> np.ndarray:
        """The exact probability-flow ODE solution at t_to from x at t_from."""
        a_f, _, scale_f = self._scale(t_from)
        a_t, _, scale_t = self._scale(t_to)
        return a_t * self.m + scale_t * (x - a_f * self.m) / scale_f


class GaussianMixture:
    """x0 ~ sum_k w_k N(m_k, s_k^2) in every element: a nonlinear exact eps (the posterior mixes the components)."""

    def __init__(self, means: Sequence[float], stds: Sequence[float], weights: Sequence[float], abar: np.ndarray) -> None:
        self.abar = abar
        self.m, self.s, self.w = (np.asarray(v, dtype=np.float64) for v in (means, stds, weights))

    def eps(self, x: np.ndarray, t: int) -> np.ndarray:
        alpha, sigma = alpha_sigma(self.abar, t)
        xk = x[..., None]  # components on the last axis
        var = alpha**2 * self.s**2 + sigma**2
        logp = np.log(self.w) - 0.5 * np.log(var) - 0.5 * (xk - alpha * self.m) ** 2 / var
        p = np.exp(logp - logp.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        return (p * sigma * (xk - alpha * self.m) / var).sum(-1)
