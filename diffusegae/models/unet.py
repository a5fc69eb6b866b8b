"""Conditional UNet whose ResBlocks use adaptive group norm on (t, z_sem) (PAPER.md eq. 8)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from diffusegae.config import AutoencoderConfig
from diffusegae.models.layers import SelfAttention, group_norm, timestep_embedding, zero_module


class AdaGNResBlock(nn.Module):
    """h -> conv -> AdaGN(h, t, z_sem) -> conv, with a skip.

    AdaGN as in Diff-AE's code: (1 + z_s) * ((1 + t_s) * GN(h) + t_b), so zero-initialised
    projections start as the identity.
    """

    def __init__(self, cin: int, cout: int, temb_dim: int, z_dim: int, dropout: float) -> None:
        super().__init__()
        self.in_layers = nn.Sequential(group_norm(cin), nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1))
        self.t_proj = nn.Sequential(nn.SiLU(), nn.Linear(temb_dim, 2 * cout))
        self.z_proj = nn.Linear(z_dim, cout)
        self.out_norm = group_norm(cout)
        self.out_layers = nn.Sequential(nn.SiLU(), nn.Dropout(dropout), zero_module(nn.Conv2d(cout, cout, 3, padding=1)))
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor, temb: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        h = self.in_layers(x)  # (B, C, H, W)
        t_s, t_b = self.t_proj(temb)[:, :, None, None].chunk(2, dim=1)
        z_s = self.z_proj(z)[:, :, None, None]
        h = (1 + z_s) * ((1 + t_s) * self.out_norm(h) + t_b)
        return self.skip(x) + self.out_layers(h)


class ConditionalUNet(nn.Module):
    """eps_theta (or v_theta) (x_t, t, z_sem): (B, 3, R, R), (B,), (B, z_sem_dim) -> (B, 3, R, R)."""

    def __init__(self, cfg: AutoencoderConfig) -> None:
        super().__init__()
        ch0 = cfg.unet_channels
        temb_dim = 4 * ch0
        zd = cfg.z_sem_dim
        self.ch0 = ch0
        self.patch = cfg.unet_patch
        pix = cfg.in_channels * cfg.unet_patch**2  # channels per position after space-to-depth
        self.time_mlp = nn.Sequential(nn.Linear(ch0, temb_dim), nn.SiLU(), nn.Linear(temb_dim, temb_dim))
        self.z_mlp = nn.Sequential(nn.Linear(zd, zd), nn.SiLU(), nn.Linear(zd, zd))
        self.in_conv = nn.Conv2d(pix, ch0, 3, padding=1)

        def block(cin: int, cout: int) -> AdaGNResBlock:
            return AdaGNResBlock(cin, cout, temb_dim, zd, cfg.dropout)

        self.down = nn.ModuleList()
        skips = [ch0]
        ch, side = ch0, cfg.resolution // cfg.unet_patch
        for level, mult in enumerate(cfg.unet_mult):
            for _ in range(cfg.unet_res_blocks):
                mods = nn.ModuleList([block(ch, ch0 * mult)])
                ch = ch0 * mult
                if side in cfg.unet_attn_res:
                    mods.append(SelfAttention(ch, cfg.heads))
                self.down.append(mods)
                skips.append(ch)
            if level < len(cfg.unet_mult) - 1:
                self.down.append(nn.ModuleList([nn.Conv2d(ch, ch, 3, stride=2, padding=1)]))
                skips.append(ch)
                side //= 2
        self.mid = nn.ModuleList([block(ch, ch), SelfAttention(ch, cfg.heads), block(ch, ch)])
        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(cfg.unet_mult))):
            for i in range(cfg.unet_res_blocks + 1):
                mods = nn.ModuleList([block(ch + skips.pop(), ch0 * mult)])
                ch = ch0 * mult
                if side in cfg.unet_attn_res:
                    mods.append(SelfAttention(ch, cfg.heads))
                if level > 0 and i == cfg.unet_res_blocks:
                    mods.append(nn.Upsample(scale_factor=2, mode="nearest"))
                    mods.append(nn.Conv2d(ch, ch, 3, padding=1))
                    side *= 2
                self.up.append(mods)
        self.out = nn.Sequential(group_norm(ch), nn.SiLU(), zero_module(nn.Conv2d(ch, pix, 3, padding=1)))

    @staticmethod
    def _run(mods: nn.ModuleList, h: torch.Tensor, temb: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        for m in mods:
            h = m(h, temb, z) if isinstance(m, AdaGNResBlock) else m(h)
        return h

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, z_sem: torch.Tensor) -> torch.Tensor:
        temb = self.time_mlp(timestep_embedding(t, self.ch0))  # (B, 4C)
        z = self.z_mlp(z_sem)  # (B, z_sem_dim)
        h = self.in_conv(F.pixel_unshuffle(x_t, self.patch) if self.patch > 1 else x_t)  # (B, C, R/p, R/p)
        hs = [h]
        for mods in self.down:
            h = self._run(mods, h, temb, z)
            hs.append(h)
        h = self._run(self.mid, h, temb, z)
        for mods in self.up:
            h = self._run(mods, torch.cat([h, hs.pop()], dim=1), temb, z)
        out = self.out(h)
        return F.pixel_shuffle(out, self.patch) if self.patch > 1 else out
