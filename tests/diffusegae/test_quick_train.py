"""`diffusegae train quick`: your own labelled images -> a whole model on the frozen autoencoder of one you have."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from PIL import Image

from diffusegae.editing import Editor
from diffusegae.model_folder import ModelFolder
from tests.conftest import ROOT
from tests.tiny_model import tiny_toys


def test_own_images_become_a_model_with_domain_check_and_prototypes(tiny_model, tmp_path):
    data = tiny_toys(16)
    images = tmp_path / "mine"
    images.mkdir()
    rows = ["file,shape,ground,turn"]
    for i in range(0, len(data), 2):  # half of the tiny set, as files with labels of one's own naming
        Image.fromarray(((data.images[i].permute(1, 2, 0) + 1) * 127.5).clamp(0, 255).byte().numpy()).save(
            images / f"{i}.png")
        rows.append(f"{i}.png," + ",".join(f"{a}{int(v)}" for a, v in zip(("s", "g", "t"), data.labels[i])))
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "my-model"
    r = subprocess.run([sys.executable, "-m", "diffusegae.cli", "train", "quick", "--base", str(tiny_model),
                        "--images", str(images), "--labels", str(tmp_path / "labels.csv"), "--out", str(out),
                        "--name", "my-model", "--steps", "60", "--hidden", "64", "--bottleneck", "32"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    folder = ModelFolder(out)
    manifest = folder.read_manifest()
    assert manifest.name == "my-model" and list(manifest.values) == ["shape", "ground", "turn"]
    assert (folder.domain_dir / "model.json").is_file() and (folder.edits_dir / "prototypes.safetensors").is_file()
    ed = Editor.load(out, "cpu")
    assert ed.info.attributes == ("shape", "ground", "turn") and ed.prototypes is not None
    assert len(folder.example_files()) == 4 and all(set(labels) == {"shape", "ground", "turn"}
                                                      for _, labels in folder.examples())
    card = (out / "MODEL_CARD.md").read_text()
    assert "# my-model" in card and "60 steps" in card and "Wall time: GAE" in card
    base = Editor.load(tiny_model, "cpu")
    mine, theirs = ed.ae.state_dict(), base.ae.state_dict()
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)  # the base's, frozen
    again = subprocess.run([sys.executable, "-m", "diffusegae.cli", "train", "quick", "--base", str(tiny_model),
                            "--images", str(images), "--labels", str(tmp_path / "labels.csv"), "--out", str(out)],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode != 0 and "not empty" in again.stderr


def test_a_gae_stopped_after_a_checkpoint_resumes_to_the_weights_of_the_whole_run(tiny_model, tmp_path):
    """The checkpoint holds weights, EMA, optimiser, step and the batch generator: a run stopped after it and resumed
    ends exactly where the uninterrupted run does."""
    from diffusegae.config import GAEConfig, default_chunk_sizes
    from diffusegae.training.common import Runtime
    from diffusegae.training.gae import train_gae
    from diffusegae.training.loop import LoopConfig

    ae = ModelFolder(tiny_model).load_autoencoder()
    data = tiny_toys(16)
    cfg = GAEConfig(attributes=data.attributes, z_sem_dim=ae.cfg.z_sem_dim, hidden=32, bottleneck=16,
                    chunk_sizes=default_chunk_sizes(len(data.attributes)))
    loop = LoopConfig(steps=12, lr=1e-3, ema_decay=0.9, save_every=5, log_every=100)
    rt = Runtime(torch.device("cpu"), 0, 1)
    whole = train_gae(cfg, ae, data, tmp_path / "whole", loop, rt, batch_size=8, seed=3)

    class Killed(Exception):
        pass

    def killed_at_8(step: int, logs: dict) -> None:
        if step == 8:
            raise Killed

    saved: list[int] = []
    with pytest.raises(Killed):
        train_gae(cfg, ae, data, tmp_path / "cut", loop, rt, batch_size=8, seed=3, on_step=killed_at_8,
                  on_checkpoint=lambda step, path: saved.append(step))
    assert saved == [5]
    resumed = train_gae(cfg, ae, data, tmp_path / "cut", loop, rt, batch_size=8, seed=3, resume=True,
                        on_checkpoint=lambda step, path: saved.append(step))
    assert saved == [5, 10, 12]
    theirs = resumed.state_dict()
    assert all(torch.equal(v, theirs[k]) for k, v in whole.state_dict().items())
