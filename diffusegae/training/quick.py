"""The paper's quick path (PAPER.md, section 3): a new GAE on the frozen diffusion autoencoder of a base model,
then everything a served model needs: its manifest, domain check and value prototypes.

"GAE training takes only a fraction of the whole training time, enabling quick experiments on different GAE
with the same diffusion autoencoder": a person's own labelled images become a model of their own in minutes.
"""

from __future__ import annotations

import os
import platform
import shutil
import time
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
    the value prototypes and Diff-AE's directions -> `out`. `on_stage` is told each stage as it starts: "gae",
    "domain", "prototypes";
    `on_step(step, losses)` follows the GAE's steps. The GAE checkpoints every `cfg.save_every` steps and at the end
    (`on_checkpoint(step, state file)` after each, then `on_sample(step, figure)`: reconstructions and swaps of
    SAMPLE_IMAGES of the dataset's images, evaluation.figures.training_sample); `resume_from`, such a state file,
    continues from its step."""
    from diffusegae.editing import Editor
    from diffusegae.evaluation.figures import training_sample
    from diffusegae.fitting.directions import fit_directions, save_directions
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
    picked = torch.randperm(len(data), generator=torch.Generator().manual_seed(cfg.seed))[:SAMPLE_IMAGES]
    shown = data.images[picked]  # (n, 3, R, R): the examples, and the images of the sample figures
    (folder.root / "examples").mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(Editor.to_images(shown)):
        im.save(folder.root / "examples" / f"{i}.png")
    labels = [{a: data.values[j][int(v)] for j, (a, v) in enumerate(zip(data.attributes, data.labels[k]))}
              for k in picked.tolist()]
    folder.write_manifest(manifest_for(name, data.attributes, data.values, default_steps=base_manifest.default_steps,
                                       default_sampler=base_manifest.default_sampler, spacing=base_manifest.spacing,
                                       dataset="folder", description=description,
                                       examples=tuple(f"examples/{i}.png" for i in range(len(picked))),
                                       example_labels=tuple(labels)))
    started, took, last = time.monotonic(), {}, {}

    def stepped(step: int, logs: dict[str, float]) -> None:
        last.update(logs, step=step)
        if on_step is not None:
            on_step(step, logs)

    def checkpointed(step: int, state: Path) -> None:
        if on_checkpoint is not None:
            on_checkpoint(step, state)
        if on_sample is not None:  # the checkpoint wrote the EMA GAE into the folder: the model as it is now
            with torch.random.fork_rng(devices=[]):  # loading draws initial weights: the training's draws stay its own
                figure = training_sample(Editor.load(folder.root, "cpu"), shown, base_manifest.default_steps)
            (folder.root / "eval").mkdir(exist_ok=True)
            figure.save(folder.root / "eval" / "training_sample.png")
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
              on_step=stepped, resume=resume_from is not None, on_checkpoint=checkpointed)
    shutil.rmtree(folder.runs, ignore_errors=True)
    took["gae"] = time.monotonic() - started
    editor = Editor.load(folder.root, "cpu")
    on_stage("domain")
    log("domain check ...")
    train, test = stand_in_split(data, cfg.seed)
    fit_model_domain(folder, editor, train, test, {"test": test.images}, dataset="folder", seed=cfg.seed,
                     ood_images=cfg.domain_ood_images)
    took["domain"] = time.monotonic() - started - took["gae"]
    on_stage("prototypes")
    log("value prototypes ...")
    save_prototypes(folder.edits_dir, *fit_prototypes(editor, data))
    save_directions(folder.edits_dir, *fit_directions(editor, data))  # Diff-AE's edits
    took["prototypes"] = time.monotonic() - started - took["gae"] - took["domain"]
    (folder.root / "MODEL_CARD.md").write_text(_card(name, description, src.read_manifest().name, data, gae_cfg, cfg,
                                                     last, took, resumed=resume_from is not None))
    return folder.root


def _card(name: str, description: str, base: str, data: LabeledImages, gae_cfg: GAEConfig, cfg: QuickGAE,
          last: dict[str, float], took: dict[str, float], *, resumed: bool) -> str:
    """MODEL_CARD.md of a model made by the quick path: what it was trained on, how, how long, on what machine."""
    values = "\n".join(f"| {a} | {len(v)} | {', '.join(v[:12])}{' ...' if len(v) > 12 else ''} |"
                       for a, v in zip(data.attributes, data.values))
    losses = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k.startswith("l_"))
    return f"""# {name}

{description or "A model trained on the user's own images."} Made by the paper's quick path (PAPER.md section 3): a
new GAE on the frozen diffusion autoencoder of **{base}**, then the domain check and the value prototypes.

| attribute | values | names |
| --- | --- | --- |
{values}

- Images: {len(data)} at {data.images.shape[-1]} px; z_dis chunks {list(gae_cfg.chunk_sizes)}.
- GAE: {cfg.steps} steps{" (resumed from a checkpoint)" if resumed else ""}, batch {min(cfg.batch_size, len(data))}, \
lr {cfg.lr}, EMA {cfg.ema_decay}, widths {cfg.hidden}/{cfg.bottleneck}, seed {cfg.seed}; last step's losses: \
{losses or "none (no steps run here)"}.
- Wall time: GAE {took["gae"]:.0f} s{" (this run)" if resumed else ""}, domain check {took["domain"]:.0f} s, \
prototypes {took["prototypes"]:.0f} s, on {platform.machine()} with {os.cpu_count()} cores, \
{torch.get_num_threads()} torch threads.

The figure `eval/training_sample.png` (when the training rendered one) shows, by rows, a few of the dataset's images,
their reconstructions (inferred x_T), then per attribute each image with that attribute from the next one.

Not measured here: swap accuracy needs an attribute classifier of the dataset (`diffusegae evaluate`).
"""
