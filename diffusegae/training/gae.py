"""Stage 2: train the GAE on cached latent groups from the frozen stage-1 encoder."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from diffusegae.checkpoint import save_module
from diffusegae.config import GAEConfig, to_json_dict
from diffusegae.data.dataset import LabeledImages
from diffusegae.data.groups import GroupSampler
from diffusegae.model_folder import ModelFolder
from diffusegae.models.autoencoder import DiffusionAutoencoder
from diffusegae.models.gae import GroupAutoencoder
from diffusegae.training.common import Runtime, generator_for
from diffusegae.training.gae_losses import gae_losses
from diffusegae.training.loop import LoopConfig, LossFn, run_loop


@torch.no_grad()
def encode_z_sem(ae: DiffusionAutoencoder, images: torch.Tensor, device: torch.device, batch: int = 256) -> torch.Tensor:
    """z_sem for every image: (N, 3, R, R) -> (N, 512), on the CPU."""
    ae.eval().to(device)
    return torch.cat([ae.encode(images[i: i + batch].to(device)).cpu() for i in range(0, images.shape[0], batch)])


def state_path(out: Path) -> Path:
    """Where stage 2 keeps what a resumed run needs (weights, EMA, optimiser, step, batch generator)."""
    return ModelFolder(out).runs / "gae_state.pt"


def train_gae(cfg: GAEConfig, ae: DiffusionAutoencoder, data: LabeledImages, out: Path, loop: LoopConfig, rt: Runtime,
              *, batch_size: int = 256, seed: int = 0, resume: bool = False,
              on_step: Callable[[int, dict[str, float]], None] | None = None,
              on_checkpoint: Callable[[int, Path], None] | None = None) -> GroupAutoencoder:
    """Train the GAE on latents of `data` and write it (with the z_sem mean/std) into the model folder `out`.
    `resume`: continue from the state in `out`'s runs/ (`state_path`); hooks as run_loop's."""
    z_sem = encode_z_sem(ae, data.images, rt.device)  # (N, 512): the cache the whole stage reads
    sampler = GroupSampler(data.labels, data.attributes)
    torch.manual_seed(seed * 1000 + rt.rank)  # before the model: its initial weights are part of the run
    gae = GroupAutoencoder(cfg)
    gae.set_stats(z_sem.mean(0), z_sem.std(0))
    z_norm = gae.normalize(z_sem).to(rt.device)
    gen = generator_for(seed, rt)

    loss_fn = _loss_fn(cfg, sampler, z_norm, batch_size, gen)

    def on_save(step: int, ema: nn.Module) -> None:
        save_module(ModelFolder(out).gae_weights, ema.gae, to_json_dict(cfg), step=step)

    ema = run_loop(_GAEForward(gae), loss_fn, loop, rt, state_path(out), on_save=on_save, resume=resume, desc="gae",
                   on_step=on_step, rng=gen, on_checkpoint=on_checkpoint)
    return ema.gae


def _loss_fn(cfg: GAEConfig, sampler: GroupSampler, z_norm: torch.Tensor, batch_size: int,
             gen: torch.Generator) -> LossFn:
    """Stage 2's loss on a batch of groups drawn from `sampler` (z_norm: (N, 512), the normalised z_sem)."""
    def loss_fn(m: nn.Module, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        anchors, partners = sampler.sample(batch_size, gen)
        swaps = None
        if cfg.lambda_swap > 0:
            donors = sampler.donors(anchors, gen)
            targets = sampler.recombined(anchors, donors)  # (B, k) rows, -1: not in the data
            swaps = (z_norm[donors], z_norm[targets.clamp_min(0)], targets >= 0)
        losses = m(z_norm[anchors], z_norm[partners], gen, swaps)
        return losses["l_gae"], {k: v.item() for k, v in losses.items()}

    return loss_fn


def seconds_per_step(cfg: GAEConfig, data: LabeledImages, batch_size: int, steps: int = 10) -> float:
    """The wall time of one stage-2 optimiser step on this machine: the median of `steps` after a warm-up, on random
    codes (a step costs the same whatever the codes are). The training's random draws are left as they were."""
    with torch.random.fork_rng(devices=[]):
        model = _GAEForward(GroupAutoencoder(cfg))
        loss_fn = _loss_fn(cfg, GroupSampler(data.labels, data.attributes), torch.randn(len(data), cfg.z_sem_dim),
                           batch_size, torch.Generator().manual_seed(0))
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        times = []
        for step in range(steps + 1):
            start = time.perf_counter()
            loss, _ = loss_fn(model, step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


class _GAEForward(nn.Module):
    """The GAE losses behind one forward(), for DistributedDataParallel."""

    def __init__(self, gae: GroupAutoencoder) -> None:
        super().__init__()
        self.gae = gae

    def forward(self, anchor: torch.Tensor, partners: torch.Tensor, gen: torch.Generator,
                swaps: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        return gae_losses(self.gae, anchor, partners, gen, swaps)
