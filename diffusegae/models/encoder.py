"""Semantic encoder ("Alter-ResNet"): x0 -> z_sem."""

from __future__ import annotations

import torch
from torch import nn

from diffusegae.config import AutoencoderConfig
from diffusegae.models.layers import SelfAttention, group_norm


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            group_norm(cin), nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1),
            group_norm(cout), nn.SiLU(), nn.Conv2d(cout, cout, 3, padding=1),
        )
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.body(x)


class SemanticEncoder(nn.Module):
    """Conv stages; in the last `enc_attn_stages` stages the last block is self-attention.

    (B, 3, R, R) -> (B, z_sem_dim)
    """

    def __init__(self, cfg: AutoencoderConfig) -> None:
        super().__init__()
        ch = cfg.enc_channels
        layers: list[nn.Module] = [nn.Conv2d(cfg.in_channels, ch, 3, padding=1)]
        n_stages = len(cfg.enc_mult)
        for s, mult in enumerate(cfg.enc_mult):
            cout = cfg.enc_channels * mult
            if s > 0:
                layers.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
            late = s >= n_stages - cfg.enc_attn_stages
            for b in range(cfg.enc_blocks):
                if late and b == cfg.enc_blocks - 1 and ch == cout:
                    layers.append(SelfAttention(ch, cfg.heads))
                else:
                    layers.append(ResBlock(ch, cout))
                    ch = cout
        layers += [group_norm(ch), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(ch, cfg.z_sem_dim)]
        self.net = nn.Sequential(*layers)

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        return self.net(x0)
