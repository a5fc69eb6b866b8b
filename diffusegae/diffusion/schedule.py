"""The forward process q(x_t | x0) = N(sqrt(abar_t) x0, (1 - abar_t) I) and its parametrisations."""

from __future__ import annotations

from dataclasses import dataclass

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

    def timesteps(self, steps: int) -> list[int]:
        """`steps` increasing integer timesteps from 0 to T-1, evenly spread (any count >= 2)."""
        if steps < 2:
            raise ValueError(f"need at least 2 sampling steps, got {steps}")
        if steps > self.num_timesteps:
            raise ValueError(f"at most {self.num_timesteps} steps, got {steps}")
        ts = torch.linspace(0, self.num_timesteps - 1, steps, dtype=torch.float64).round().long().tolist()
        return ts
