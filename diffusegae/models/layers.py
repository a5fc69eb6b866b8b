"""Building blocks shared by the encoder and the UNet."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def num_groups(channels: int) -> int:
    """At most 32 groups of at least 4 channels each (a group of one channel would normalise to 0)."""
    return math.gcd(channels, min(32, max(1, channels // 4)))


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups(channels), channels)


def zero_module(m: nn.Module) -> nn.Module:
    for p in m.parameters():
        nn.init.zeros_(p)
    return m


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """psi(t): sinusoidal embedding, (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class SelfAttention(nn.Module):
    """Multi-head self-attention over the spatial positions of a (B, C, H, W) map, with a residual."""

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        assert channels % heads == 0, f"channels {channels} not divisible by heads {heads}"
        self.heads = heads
        self.norm = group_norm(channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj = zero_module(nn.Conv1d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv(self.norm(x).reshape(b, c, h * w))  # (B, 3C, L)
        q, k, v = qkv.reshape(b, 3, self.heads, c // self.heads, h * w).permute(1, 0, 2, 4, 3)  # (B, h, L, d)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, h, L, d)
        out = out.permute(0, 1, 3, 2).reshape(b, c, h * w)
        return x + self.proj(out).reshape(b, c, h, w)
