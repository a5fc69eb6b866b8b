"""Stage 1: train the semantic encoder and the conditional UNet end to end (PAPER.md section 2)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from diffusegae.checkpoint import load_state_into, load_tensors, save_module
from diffusegae.config import AutoencoderConfig, to_json_dict
from diffusegae.data.dataset import LabeledImages
from diffusegae.model_folder import ModelFolder
from diffusegae.models.autoencoder import DiffusionAutoencoder
from diffusegae.training.common import Runtime, generator_for
from diffusegae.training.loop import LoopConfig, run_loop


def train_autoencoder(cfg: AutoencoderConfig, data: LabeledImages, out: Path, loop: LoopConfig, rt: Runtime, *,
                      batch_size: int = 32, seed: int = 0, resume: bool = False,
                      snapshot_every: int = 0, high_noise_frac: float = 0.0,
                      high_noise_range: tuple[int, int] | None = None,
                      init_from: Path | None = None) -> DiffusionAutoencoder:
    """Train stage 1 on `data` and write the EMA weights into the model folder `out`.

    `snapshot_every` > 0 also keeps EMA snapshots under `out/runs/` for a later learning curve.
    `high_noise_frac` of each batch draws t from `high_noise_range` [lo, hi) (default: the upper half of the
    schedule), where x_t shows too little of the picture and z_sem has to tell the UNet what to draw.
    `init_from` (a stage-1 weight file) starts a new run from earlier weights; step numbers in checkpoints
    then continue from that file's step.
    """
    folder = ModelFolder(out)
    torch.manual_seed(seed * 1000 + rt.rank)  # before the model: its initial weights are part of the run
    ae = DiffusionAutoencoder(cfg)
    init_step = 0
    if init_from is not None:
        tensors, meta = load_tensors(init_from)
        load_state_into(ae, tensors, init_from)
        init_step = int(meta.get("step", 0))
    model = _DDPForward(ae)
    images = data.images
    gen = generator_for(seed, rt)
    n_high = round(batch_size * high_noise_frac)
    lo, hi = high_noise_range or (cfg.num_timesteps // 2, cfg.num_timesteps)
    if not 0 <= lo < hi <= cfg.num_timesteps:
        raise ValueError(f"high_noise_range {lo, hi} is not a range within [0, {cfg.num_timesteps}]")

    def loss_fn(m: nn.Module, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        idx = torch.randint(0, images.shape[0], (batch_size,), generator=gen)
        x0 = images[idx].to(rt.device)
        t = torch.cat([torch.randint(0, cfg.num_timesteps, (batch_size - n_high,), generator=gen),
                       torch.randint(lo, hi, (n_high,), generator=gen)]).to(rt.device)
        return m(x0, t).mean(), {}

    def on_save(step: int, ema: nn.Module) -> None:
        total = init_step + step
        save_module(folder.autoencoder_weights, ema.ae, to_json_dict(cfg), step=total)
        if snapshot_every and total % snapshot_every == 0:
            save_module(folder.runs / "autoencoder" / f"ema_{total:07d}.safetensors", ema.ae, to_json_dict(cfg),
                        step=total)

    ema = run_loop(model, loss_fn, loop, rt, folder.runs / "autoencoder_state.pt", on_save=on_save,
                   resume=resume, desc="autoencoder", rng=gen)
    return ema.ae


class _DDPForward(nn.Module):
    """Puts encoder + UNet behind one forward(), so DistributedDataParallel syncs both."""

    def __init__(self, ae: DiffusionAutoencoder) -> None:
        super().__init__()
        self.ae = ae

    def forward(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.ae.loss(x0, t, self.ae.encode(x0))
