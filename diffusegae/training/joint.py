"""Stage 3: fine-tune autoencoder and GAE together; the UNet is conditioned on D(E(z_sem)) (PAPER.md section 4)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from diffusegae.checkpoint import load_tensors, save_module
from diffusegae.config import to_json_dict
from diffusegae.data.dataset import LabeledImages
from diffusegae.data.groups import GroupSampler
from diffusegae.model_folder import ModelFolder
from diffusegae.models.autoencoder import DiffusionAutoencoder
from diffusegae.models.gae import GroupAutoencoder
from diffusegae.training.common import Runtime, generator_for
from diffusegae.training.gae_losses import gae_losses
from diffusegae.training.loop import LoopConfig, run_loop


class JointModel(nn.Module):
    """L = L_DAE (UNet conditioned on D(E(z_sem))) + gamma L_GAE, on groups of images."""

    def __init__(self, ae: DiffusionAutoencoder, gae: GroupAutoencoder, gamma: float) -> None:
        super().__init__()
        self.ae, self.gae, self.gamma = ae, gae, gamma

    def forward(self, x0: torch.Tensor, t: torch.Tensor, k: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
        """x0: (B(k+1), 3, R, R), each group's anchor followed by its k partners."""
        z_norm = self.gae.normalize(self.ae.encode(x0))  # (B(k+1), 512)
        groups = z_norm.reshape(-1, k + 1, z_norm.shape[1])
        losses = gae_losses(self.gae, groups[:, 0], groups[:, 1:], gen)
        cond = self.gae.denormalize(self.gae.decode(self.gae.encode(z_norm)))
        l_dae = self.ae.loss(x0, t, cond).mean()
        losses["l_dae"] = l_dae
        losses["loss"] = l_dae + self.gamma * losses["l_gae"]
        return losses


def joint_steps_of(folder: ModelFolder) -> int:
    """The stage-3 steps the autoencoder weights in `folder` have had (0 when they are not from stage 3)."""
    _, meta = load_tensors(folder.autoencoder_weights)
    return int(meta.get("step", 0)) if meta.get("stage") == "joint" else 0


def train_joint(ae: DiffusionAutoencoder, gae: GroupAutoencoder, data: LabeledImages, out: Path, loop: LoopConfig,
                rt: Runtime, *, groups_per_batch: int = 8, gamma: float = 1.0, seed: int = 0,
                resume: bool = False, init_step: int = 0) -> tuple[DiffusionAutoencoder, GroupAutoencoder]:
    """Fine-tune both stages on `data`; overwrites both stages in the model folder `out` with the EMA weights.

    `init_step`: stage-3 steps the given weights had already (a run continued with new run state); the saved
    weights count from there."""
    sampler = GroupSampler(data.labels, data.attributes)
    k = data.labels.shape[1]
    gen = generator_for(seed, rt)
    torch.manual_seed(seed * 1000 + rt.rank)
    model = JointModel(ae, gae, gamma)

    def loss_fn(m: nn.Module, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        anchors, partners = sampler.sample(groups_per_batch, gen)
        rows = torch.cat([anchors[:, None], partners], dim=1).reshape(-1)
        x0 = data.images[rows].to(rt.device)
        t = torch.randint(0, ae.cfg.num_timesteps, (x0.shape[0],), generator=gen).to(rt.device)
        losses = m(x0, t, k, gen)
        return losses["loss"], {k_: v.item() for k_, v in losses.items() if k_ != "loss"}

    folder = ModelFolder(out)

    def on_save(step: int, ema: nn.Module) -> None:
        total = init_step + step
        save_module(folder.autoencoder_weights, ema.ae, to_json_dict(ema.ae.cfg), step=total, stage="joint")
        save_module(folder.gae_weights, ema.gae, to_json_dict(ema.gae.cfg), step=total, stage="joint")

    ema = run_loop(model, loss_fn, loop, rt, folder.runs / "joint_state.pt", on_save=on_save, resume=resume,
                   desc="joint", rng=gen)
    return ema.ae, ema.gae
