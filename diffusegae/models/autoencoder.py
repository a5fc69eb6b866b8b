"""The diffusion autoencoder: semantic encoder + conditional UNet, and its eps view for samplers."""

from __future__ import annotations

import torch
from torch import nn

from diffusegae.config import AutoencoderConfig
from diffusegae.diffusion.schedule import NoiseSchedule
from diffusegae.models.encoder import SemanticEncoder
from diffusegae.models.unet import ConditionalUNet


class DiffusionAutoencoder(nn.Module):
    def __init__(self, cfg: AutoencoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = SemanticEncoder(cfg)
        self.unet = ConditionalUNet(cfg)
        self.schedule = NoiseSchedule.linear(cfg.num_timesteps, cfg.beta_start, cfg.beta_end)

    def encode(self, x0: torch.Tensor) -> torch.Tensor:
        """z_sem = Enc(x0): (B, 3, R, R) in [-1, 1] -> (B, z_sem_dim)."""
        return self.encoder(x0)

    def eps(self, x_t: torch.Tensor, t: torch.Tensor, z_sem: torch.Tensor) -> torch.Tensor:
        """The noise prediction whatever the UNet's parametrisation; this is what samplers call."""
        out = self.unet(x_t, t, z_sem)
        return out if self.cfg.prediction == "eps" else self.schedule.eps_from_v(x_t, t, out)

    def loss(self, x0: torch.Tensor, t: torch.Tensor, z_sem: torch.Tensor) -> torch.Tensor:
        """L_DAE (PAPER.md eq. 1, or its v-space form), per sample: (B,)."""
        eps = torch.randn_like(x0)
        x_t = self.schedule.q_sample(x0, t, eps)
        target = eps if self.cfg.prediction == "eps" else self.schedule.v_target(x0, t, eps)
        return (self.unet(x_t, t, z_sem) - target).pow(2).mean(dim=(1, 2, 3))
