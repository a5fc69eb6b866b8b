"""The paper's quick path (PAPER.md, section 3): a new GAE on the frozen diffusion autoencoder of a base model,
then everything a served model needs: its manifest, domain check and value prototypes.

"GAE training takes only a fraction of the whole training time, enabling quick experiments on different GAE
with the same diffusion autoencoder": a person's own labelled images become a model of their own in minutes.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from diffusegae.config import GAEConfig, default_chunk_sizes
from diffusegae.data.dataset import LabeledImages
from diffusegae.model_folder import ModelFolder, manifest_for
from diffusegae.training.common import Runtime
from diffusegae.training.gae import seconds_per_step, state_path, train_gae
from diffusegae.training.loop import LoopConfig

SAMPLE_IMAGES = 4  # images in a training's sample figure


@dataclass(frozen=True)
class QuickGAE:
    """How the quick path trains: the few steps a budget allows, so a learning rate far above stage 2's."""

    steps: int = 2000
    lr: float = 1e-3
    ema_decay: float = 0.99
    batch_size: int = 128
    seed: int = 0
    domain_ood_images: int = 40  # out-of-domain images per kind the domain calibration measures
    hidden: int = 1024  # the GAE's widths (config.GAEConfig's defaults; smaller trains faster on a CPU)
    bottleneck: int = 256
    save_every: int = 0  # steps between checkpoints (0: none before the end)
    chunk_sizes: tuple[int, ...] | None = None  # z_dis dimensions per attribute (None: config.default_chunk_sizes)


BUDGET_GAE_SHARE = 0.6  # of a time budget, the GAE's steps; the rest: encoding the images, domain check, prototypes


def steps_for_budget(base: Path, data: LabeledImages, budget_s: float, cfg: QuickGAE = QuickGAE()) -> int:
    """GAE steps that fill BUDGET_GAE_SHARE of `budget_s` seconds at the pace of a step measured here (at most
    `cfg.steps`, at least 1)."""
    ae_cfg, _ = ModelFolder(base).read_configs()
    gae_cfg = _gae_config(cfg, data, ae_cfg.z_sem_dim)
    per_step = seconds_per_step(gae_cfg, data, min(cfg.batch_size, len(data)))
    return max(1, min(cfg.steps, int(budget_s * BUDGET_GAE_SHARE / per_step)))


def _gae_config(cfg: QuickGAE, data: LabeledImages, z_sem_dim: int) -> GAEConfig:
    return GAEConfig(attributes=data.attributes, z_sem_dim=z_sem_dim, hidden=cfg.hidden, bottleneck=cfg.bottleneck,
                     chunk_sizes=cfg.chunk_sizes or default_chunk_sizes(len(data.attributes)))


def gae_on_base(base: Path, data: LabeledImages, out: Path, name: str, cfg: QuickGAE = QuickGAE(), *,
                description: str = "", on_step: Callable[[int, dict[str, float]], None] | None = None,
                on_stage: Callable[[str], None] | None = None, log: Callable[[str], None] | None = None,
                resume_from: Path | None = None, on_checkpoint: Callable[[int, Path], None] | None = None,
                on_sample: Callable[[int, Image.Image], None] | None = None) -> Path:
    """Write into `out` a model named `name`: `base`'s autoencoder, a GAE trained on `data` (its images at the base's
    resolution), model.json (the base's sampling defaults), the domain check (on a held-back fifth of `data`) and
    the value prototypes -> `out`. `on_stage` is told each stage as it starts: "gae", "domain", "prototypes";
    `on_step(step, losses)` follows the GAE's steps. The GAE checkpoints every `cfg.save_every` steps and at the end
    (`on_checkpoint(step, state file)` after each, then `on_sample(step, figure)`: reconstructions and swaps of
    SAMPLE_IMAGES of the dataset's images, evaluation.figures.training_sample); `resume_from`, such a state file,
    continues from its step."""
    from diffusegae.editing import Editor
    from diffusegae.evaluation.figures import training_sample
    from diffusegae.fitting.domain import fit_model_domain, stand_in_split
    from diffusegae.fitting.prototypes import fit_prototypes, save_prototypes

    log = log or (lambda m: None)
    on_stage = on_stage or (lambda s: None)
    src, folder = ModelFolder(base), ModelFolder(out)
    shutil.copytree(src.root / "autoencoder", folder.root / "autoencoder")
    ae = folder.load_autoencoder()
    if data.images.shape[-1] != ae.cfg.resolution:
        raise ValueError(f"the data is at {data.images.shape[-1]} px, the base model's autoencoder at "
                         f"{ae.cfg.resolution} px")
    gae_cfg = _gae_config(cfg, data, ae.cfg.z_sem_dim)
    base_manifest = src.read_manifest()
    folder.write_manifest(manifest_for(name, data.attributes, data.values, default_steps=base_manifest.default_steps,
                                       default_sampler=base_manifest.default_sampler, spacing=base_manifest.spacing,
                                       dataset="folder", description=description))
    shown = data.images[torch.randperm(len(data), generator=torch.Generator().manual_seed(cfg.seed))[:SAMPLE_IMAGES]]

    def checkpointed(step: int, state: Path) -> None:
        if on_checkpoint is not None:
            on_checkpoint(step, state)
        if on_sample is not None:  # the checkpoint wrote the EMA GAE into the folder: the model as it is now
            with torch.random.fork_rng(devices=[]):  # loading draws initial weights: the training's draws stay its own
                figure = training_sample(Editor.load(folder.root, "cpu"), shown, base_manifest.default_steps)
            on_sample(step, figure)

    torch.manual_seed(cfg.seed)
    on_stage("gae")
    if resume_from is not None:
        state_path(folder.root).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(resume_from, state_path(folder.root))
    log(f"GAE: {cfg.steps} steps on {len(data)} images, chunks {gae_cfg.chunk_sizes}"
        + (f", resumed from {resume_from}" if resume_from is not None else ""))
    train_gae(gae_cfg, ae, data, folder.root, LoopConfig(steps=cfg.steps, lr=cfg.lr, ema_decay=cfg.ema_decay,
                                                         save_every=cfg.save_every or 10**9,
                                                         log_every=max(1, cfg.steps // 20)),
              Runtime(torch.device("cpu"), 0, 1), batch_size=min(cfg.batch_size, len(data)), seed=cfg.seed,
              on_step=on_step, resume=resume_from is not None, on_checkpoint=checkpointed)
    shutil.rmtree(folder.runs, ignore_errors=True)
    editor = Editor.load(folder.root, "cpu")
    on_stage("domain")
    log("domain check ...")
    train, test = stand_in_split(data, cfg.seed)
    fit_model_domain(folder, editor, train, test, {"test": test.images}, dataset="folder", seed=cfg.seed,
                     ood_images=cfg.domain_ood_images)
    on_stage("prototypes")
    log("value prototypes ...")
    save_prototypes(folder.edits_dir, *fit_prototypes(editor, data))
    return folder.root
