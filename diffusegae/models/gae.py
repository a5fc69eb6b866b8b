"""Group-supervised autoencoder: normalised z_sem (512) <-> z_dis (sum of attribute chunks).

PAPER.md section 3: MLP encoder and mirror decoder, four MLP blocks and two bottleneck
blocks each, SiLU, LayerNorm in the encoder and GroupNorm in the decoder, residual ("MLP +
skip") blocks, and a skip connection as the last block.
"""

from __future__ import annotations

import torch
from torch import nn

from diffusegae.config import GAEConfig
from diffusegae.models.layers import num_groups


class _GroupNorm1d(nn.GroupNorm):
    """GroupNorm over the features of a (B, D) vector."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x[:, :, None])[:, :, 0]


def _norm(kind: str, dim: int) -> nn.Module:
    if kind == "layer":
        return nn.LayerNorm(dim)
    if kind == "group":
        return _GroupNorm1d(num_groups(dim), dim)
    raise ValueError(f"unknown norm {kind!r}: 'layer' or 'group'")


class MLPBlock(nn.Module):
    """x + Linear(SiLU(Norm(x))) ... (B, dim) -> (B, dim), with an inner width `inner`."""

    def __init__(self, dim: int, inner: int, norm: str, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(_norm(norm, dim), nn.SiLU(), nn.Linear(dim, inner), nn.SiLU(), nn.Dropout(dropout),
                                  nn.Linear(inner, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _tower(din: int, dout: int, cfg: GAEConfig, norm: str) -> nn.Sequential:
    h, b = cfg.hidden, cfg.bottleneck
    return nn.Sequential(
        nn.Linear(din, h),
        *[MLPBlock(h, h, norm, cfg.dropout) for _ in range(4)],
        nn.Linear(h, b),
        *[MLPBlock(b, b // 2, norm, cfg.dropout) for _ in range(2)],  # bottleneck blocks
        nn.Linear(b, dout),
        MLPBlock(dout, max(dout, 64), norm, 0.0),  # the last block is a skip connection
    )


class GroupAutoencoder(nn.Module):
    def __init__(self, cfg: GAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = _tower(cfg.z_sem_dim, cfg.z_dis_dim, cfg, "layer")
        self.decoder = _tower(cfg.z_dis_dim, cfg.z_sem_dim, cfg, "group")
        self.register_buffer("z_sem_mean", torch.zeros(cfg.z_sem_dim))
        self.register_buffer("z_sem_std", torch.ones(cfg.z_sem_dim))

    def set_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.z_sem_mean.copy_(mean)
        self.z_sem_std.copy_(std.clamp_min(1e-6))

    def normalize(self, z_sem: torch.Tensor) -> torch.Tensor:
        return (z_sem - self.z_sem_mean) / self.z_sem_std

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.z_sem_std + self.z_sem_mean

    def encode(self, z_norm: torch.Tensor) -> torch.Tensor:
        """E: normalised z_sem (B, 512) -> z_dis (B, D)."""
        return self.encoder(z_norm)

    def decode(self, z_dis: torch.Tensor) -> torch.Tensor:
        """D: z_dis (B, D) -> normalised z_sem (B, 512)."""
        return self.decoder(z_dis)

    def z_dis_of(self, z_sem: torch.Tensor) -> torch.Tensor:
        return self.encode(self.normalize(z_sem))

    def z_sem_of(self, z_dis: torch.Tensor) -> torch.Tensor:
        return self.denormalize(self.decode(z_dis))

    def roundtrip(self, z_sem: torch.Tensor) -> torch.Tensor:
        """D(E(z_sem)) in z_sem units: what the jointly trained UNet is conditioned on."""
        return self.z_sem_of(self.z_dis_of(z_sem))
