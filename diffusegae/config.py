"""Frozen config dataclasses, one per trainable stage; each is saved as JSON beside its weights."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


LR_SCHEDULES = ("constant", "cosine")  # training.loop.LoopConfig.lr_schedule


@dataclass(frozen=True)
class AutoencoderConfig:
    """Stage 1: semantic encoder + conditional UNet (Diff-AE)."""

    resolution: int = 32  # image side in pixels
    in_channels: int = 3
    z_sem_dim: int = 512  # size of the semantic code
    # UNet
    unet_channels: int = 32  # channels at the first level
    unet_mult: tuple[int, ...] = (1, 2, 2)  # channel multiplier per resolution level
    unet_res_blocks: int = 1  # ResBlocks per level (the decoder path has one more)
    unet_attn_res: tuple[int, ...] = (8,)  # feature-map sides (after the patch stem) that get self-attention
    # Space-to-depth stem: the UNet works on (3 p^2, R/p, R/p) and pixel-shuffles back at the end,
    # so a 64 px model with p = 2 costs about what a 32 px one does.
    unet_patch: int = 1
    dropout: float = 0.0
    # Alter-ResNet semantic encoder
    enc_channels: int = 16
    enc_mult: tuple[int, ...] = (1, 2, 4, 4)  # one stage per entry, each halving the side after the first
    enc_blocks: int = 2  # blocks per stage; the last block of late stages is self-attention
    enc_attn_stages: int = 2  # how many of the last stages swap their last block for attention
    heads: int = 4
    # Diffusion
    num_timesteps: int = 1000  # T
    beta_start: float = 1e-4
    beta_end: float = 0.02
    # What the UNet outputs. "eps" is the paper's eq. 1; "v" (v = sqrt(abar) eps - sqrt(1-abar) x0,
    # Salimans & Ho 2022) trains the same sampler but weighs high-noise steps, where only z_sem
    # can say what to draw, like an x0 loss. Samplers always see eps.
    prediction: str = "v"

    def __post_init__(self) -> None:
        if self.prediction not in ("eps", "v"):
            raise ValueError(f"prediction must be 'eps' or 'v', got {self.prediction!r}")
        if self.unet_patch < 1 or self.resolution % (self.unet_patch * 2 ** (len(self.unet_mult) - 1)):
            raise ValueError(f"resolution {self.resolution} must be divisible by unet_patch * 2^(levels-1) "
                             f"(unet_patch {self.unet_patch}, {len(self.unet_mult)} levels)")


@dataclass(frozen=True)
class GAEConfig:
    """Stage 2: group-supervised autoencoder z_sem (512) <-> z_dis (sum of chunks)."""

    attributes: tuple[str, ...] = ("identity", "background", "pose")
    chunk_sizes: tuple[int, ...] = (60, 20, 20)  # z_dis chunk per attribute, in order
    z_sem_dim: int = 512
    hidden: int = 1024  # width of the MLP blocks
    bottleneck: int = 256  # width of the two bottleneck blocks
    dropout: float = 0.1
    lambda_sup: float = 1.0  # PAPER.md section 3
    lambda_unsup: float = 0.5
    # Not in the paper (0 = off): pull the chunk an anchor and its partner share towards each other.
    # On toys it is what separates identity from pose (models/toys-32/MODEL_CARD.md).
    lambda_align: float = 0.0
    # Not in the paper (0 = off): a chunk swapped in from a donor that shares no value must decode to
    # the recombined image's latent (training/gae_losses.py cross_swap_loss).
    lambda_swap: float = 0.0

    def __post_init__(self) -> None:
        if len(self.attributes) != len(self.chunk_sizes):
            raise ValueError(f"{len(self.attributes)} attributes but {len(self.chunk_sizes)} chunk sizes")
        if len(self.attributes) < 2:
            raise ValueError("a GAE needs at least 2 attributes")
        if any(c <= 0 for c in self.chunk_sizes):
            raise ValueError(f"chunk sizes must be positive, got {self.chunk_sizes}")

    @property
    def z_dis_dim(self) -> int:
        return sum(self.chunk_sizes)

    def chunk_slices(self) -> dict[str, slice]:
        out, start = {}, 0
        for name, size in zip(self.attributes, self.chunk_sizes):
            out[name] = slice(start, start + size)
            start += size
        return out


def default_chunk_sizes(num_attributes: int, total: int = 100) -> tuple[int, ...]:
    """The ilab-like 60/20/20 for three attributes; otherwise an even split of `total`."""
    if num_attributes == 3 and total == 100:
        return (60, 20, 20)
    base, rest = divmod(total, num_attributes)
    return tuple(base + (1 if i < rest else 0) for i in range(num_attributes))


def to_json_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def from_json_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a config, turning JSON lists back into tuples and rejecting unknown keys."""
    names = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - set(names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**kw)


