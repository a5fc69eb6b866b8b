"""A tiny but really trained model, built in seconds on a CPU, for the tests.

It goes through the same training functions as the default model, on a 16x16 subset of the
toys (6 identities x 6 backgrounds x 10 poses).
"""

from __future__ import annotations

from pathlib import Path

import torch

from diffusegae.config import AutoencoderConfig, GAEConfig
from diffusegae.data import toys
from diffusegae.data.dataset import LabeledImages
from diffusegae.model_folder import ModelFolder, manifest_for
from diffusegae.training.autoencoder import train_autoencoder
from diffusegae.training.common import Runtime
from diffusegae.training.gae import train_gae
from diffusegae.training.loop import LoopConfig

TINY_AE = AutoencoderConfig(resolution=16, z_sem_dim=32, unet_channels=16, unet_mult=(1, 2), unet_attn_res=(),
                            enc_channels=8, enc_mult=(1, 2, 2), enc_blocks=1, enc_attn_stages=1, heads=2)
TINY_GAE = GAEConfig(z_sem_dim=32, chunk_sizes=(6, 4, 4), hidden=64, bottleneck=32, dropout=0.0)


def tiny_toys(resolution: int = 16, backgrounds: int = 6) -> LabeledImages:
    labels = toys.all_labels()
    labels = labels[labels[:, 1] < backgrounds]
    values = tuple(tuple(str(v) for v in range(n)) for n in (toys.NUM_IDENTITIES, backgrounds, toys.NUM_POSES))
    return LabeledImages(toys.render_tensor(labels, resolution), labels, toys.ATTRIBUTES, values)


def build_tiny_model(out: Path, *, ae_steps: int = 300, gae_steps: int = 300, seed: int = 0) -> Path:
    """Train the tiny autoencoder and GAE into `out` (a model folder) and return it."""
    out = Path(out)
    torch.manual_seed(seed)
    rt = Runtime(torch.device("cpu"), 0, 1)
    data = tiny_toys(TINY_AE.resolution)
    ae = train_autoencoder(TINY_AE, data, out, LoopConfig(steps=ae_steps, lr=2e-3, ema_decay=0.9, save_every=10**9,
                                                          log_every=10**9), rt, batch_size=32, seed=seed)
    train_gae(TINY_GAE, ae, data, out, LoopConfig(steps=gae_steps, lr=2e-3, ema_decay=0.9, save_every=10**9,
                                                  log_every=10**9), rt, batch_size=64, seed=seed)
    ModelFolder(out).write_manifest(manifest_for("tiny-toys-16", data.attributes, data.values, default_steps=10,
                                                 dataset="toys"))
    calibrate_tiny_domain(out, data)
    fit_tiny_prototypes(out, data)
    return out


def fit_tiny_prototypes(out: Path, data: LabeledImages) -> None:
    """What `diffusegae fit-edits` does, on the tiny model's own data: MODEL/edits (value prototypes, Diff-AE's
    directions)."""
    from diffusegae.editing import Editor
    from diffusegae.fitting.directions import fit_directions, save_directions
    from diffusegae.fitting.prototypes import fit_prototypes, save_prototypes

    save_prototypes(ModelFolder(out).edits_dir, *fit_prototypes(Editor.load(out, "cpu"), data))
    save_directions(ModelFolder(out).edits_dir, *fit_directions(Editor.load(out, "cpu"), data))


def calibrate_tiny_domain(out: Path, data: LabeledImages, *, ood_images: int = 20) -> dict:
    """What `diffusegae calibrate-domain` does, on the tiny model's own data: it has no held-out split, so its
    training images, and the same labels rendered at 64 px and preprocessed like an upload, stand in. Writes
    MODEL/domain, a description and example images; -> what calibration measured."""
    import dataclasses

    from diffusegae.domain import save_domain
    from diffusegae.editing import Editor
    from diffusegae.fitting.domain import DESCRIPTIONS, calibrate_domain, write_examples

    folder = ModelFolder(out)
    ed = Editor.load(out, "cpu")
    uploads = ed.preprocess([toys.render(*map(int, row), 64) for row in data.labels])
    stats, config = calibrate_domain(ed, data, {"test": data.images, "upload": uploads}, dataset="toys",
                                     ood_images=ood_images)
    save_domain(folder.domain_dir, stats, config, ed.info.attributes)
    examples = write_examples(folder, data.subset(torch.randperm(len(data), generator=torch.Generator().manual_seed(0))))
    folder.write_manifest(dataclasses.replace(folder.read_manifest(), description=DESCRIPTIONS["toys"], **examples))
    return dict(config.measured)


SECOND_GAE = GAEConfig(z_sem_dim=32, chunk_sizes=(4, 6, 4), hidden=64, bottleneck=32, dropout=0.0)


def build_second_model(base: Path, out: Path, *, gae_steps: int = 300, seed: int = 1) -> Path:
    """Another model on the tiny model's autoencoder: a GAE of its own (seed, chunk sizes), the paper's quick
    path; named tiny-toys-16-b, default 6 steps, no domain statistics (they belong to the other GAE)."""
    import dataclasses
    import shutil

    out = Path(out)
    for part in ("model.json", "autoencoder", "examples"):
        (shutil.copytree if (base / part).is_dir() else shutil.copy2)(base / part, out / part)
    torch.manual_seed(seed)
    rt = Runtime(torch.device("cpu"), 0, 1)
    data = tiny_toys(TINY_AE.resolution)
    train_gae(SECOND_GAE, ModelFolder(out).load_autoencoder(), data, out,
              LoopConfig(steps=gae_steps, lr=2e-3, ema_decay=0.9, save_every=10**9, log_every=10**9), rt,
              batch_size=64, seed=seed)
    shutil.rmtree(out / "runs", ignore_errors=True)
    folder = ModelFolder(out)
    folder.write_manifest(dataclasses.replace(folder.read_manifest(), name="tiny-toys-16-b", default_steps=6))
    return out
