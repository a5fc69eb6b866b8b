"""The forward process q(x_t | x0) = N(sqrt(abar_t) x0, (1 - abar_t) I) and its parametrisations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class NoiseSchedule:
    """Linear-beta DDPM schedule; `abar` is (T,) float64 on CPU, indexed by integer timestep."""

    abar: torch.Tensor

    @classmethod
    def linear(cls, num_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> NoiseSchedule:
        betas = torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64)
        return cls(abar=torch.cumprod(1.0 - betas, dim=0))

    @property
    def num_timesteps(self) -> int:
        return self.abar.shape[0]

    def alpha_sigma(self, t: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """sqrt(abar_t), sqrt(1 - abar_t) for integer t of shape (B,), broadcast to `like` (B, ...)."""
        abar = self.abar.to(like.device)[t.long()].to(like.dtype)
        shape = (-1,) + (1,) * (like.dim() - 1)
        return abar.sqrt().reshape(shape), (1 - abar).sqrt().reshape(shape)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        a, s = self.alpha_sigma(t, x0)
        return a * x0 + s * eps

    def v_target(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        a, s = self.alpha_sigma(t, x0)
        return a * eps - s * x0

    def eps_from_v(self, x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        a, s = self.alpha_sigma(t, x_t)
        return a * v + s * x_t

    def half_log_snr(self) -> torch.Tensor:
        """lambda_t = log(alpha_t / sigma_t) = 0.5 log(abar_t / (1 - abar_t)), (T,) float64, decreasing in t."""
        return 0.5 * (torch.log(self.abar) - torch.log1p(-self.abar))

    def timesteps(self, steps: int, spacing: str | None = None) -> list[int]:
        """`steps` strictly increasing integer timesteps in [0, T-1], the last one T-1 (see `SPACINGS`).

        - "lambda" (the default): uniform in half log-SNR lambda_t between lambda_{T-1} and lambda_0, the
          lambda_0 end left out (as "trailing" leaves out t = 0). Neighbours that round to the same integer are
          pushed apart by one, so at many steps (more than about 30 of 1000) the low-noise end is every
          timestep 0, 1, 2, ...
        - "trailing": evenly spread in t from T-1 down, the t = 0 end left out (diffusers' "trailing").
        - "linspace": evenly spread from 0 to T-1, both included (the only spacing before issue 15); at least
          2 steps.

        Decoding's last step goes from the smallest timestep to the clean image, and the library inverts with
        the mirror step first, from the clean image (`samplers.inversion_path`, from_clean=True). One step
        ("lambda", "trailing") is [T-1]: decoding takes the model's clean-image prediction at T-1.
        """
        spacing = spacing or DEFAULT_SPACING
        if spacing not in SPACINGS:
            raise ValueError(f"unknown timestep spacing {spacing!r}; choose from {list(SPACINGS)}")
        T = self.num_timesteps
        least = 2 if spacing == "linspace" else 1
        if steps < least:
            raise ValueError(f"need at least {least} sampling steps with {spacing!r} spacing, got {steps}")
        if steps > T:
            raise ValueError(f"at most {T} steps, got {steps}")
        if spacing == "linspace":
            return torch.linspace(0, T - 1, steps, dtype=torch.float64).round().long().tolist()
        if spacing == "trailing":
            return _strictly_increasing(sorted(round(T - i * T / steps) - 1 for i in range(steps)), T)
        lam = self.half_log_snr().numpy()
        grid = lam[T - 1] + (lam[0] - lam[T - 1]) * np.arange(steps) / steps  # from lambda_{T-1} up, lambda_0 left out
        t = np.interp(grid, lam[::-1], np.arange(T - 1, -1, -1, dtype=np.float64))  # lambda is decreasing in t
        return _strictly_increasing(sorted(int(round(v)) for v in t), T)


def _strictly_increasing(ts: list[int], T: int) -> list[int]:
    """Sorted timesteps -> strictly increasing ones in [0, T-1], each moved as little as needed; the top stays T-1."""
    out: list[int] = []
    for t in ts:
        out.append(max(t, out[-1] + 1) if out else max(t, 0))
    out[-1] = T - 1
    for i in range(len(out) - 2, -1, -1):
        out[i] = min(out[i], out[i + 1] - 1)
    return out


SPACINGS = ("lambda", "trailing", "linspace")
DEFAULT_SPACING = "lambda"
