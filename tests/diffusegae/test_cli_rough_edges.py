"""The CLI's rough edges, through the real command (`python -m diffusegae.cli`) on a small folder dataset:

- --images/--labels mean --dataset folder (and with another --dataset named they are an error);
- every `train` command says which files it wrote and where the model folder is;
- `evaluate` shows a progress bar per stage, never replaces a model's results without --overwrite, and says
  where it wrote.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY_AE = ["unet_channels=8", "unet_mult=[1,2]", "unet_attn_res=[]", "enc_channels=8", "enc_mult=[1,2]", "enc_blocks=1",
           "enc_attn_stages=1", "heads=2", "z_sem_dim=16"]
TINY_GAE = ["hidden=32", "bottleneck=16", "chunk_sizes=[4,4,4]"]
OWN_ATTRIBUTES = ["shape", "colour", "size"]  # the rendered toys' columns renamed: only the folder data has these


def _cli(*args, ok: bool = True, timeout: float = 240) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "diffusegae.cli", *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if ok:
        assert r.returncode == 0, r.stderr[-3000:]
    return r


def _sets(pairs: list[str]) -> list[str]:
    return [x for kv in pairs for x in ("--set", kv)]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """400 rendered toys as a folder dataset whose attribute columns have names of their own."""
    folder = tmp_path_factory.mktemp("own-data")
    _cli("dataset", "render", "--out", folder, "--resolution", "16", "--limit", "400")
    rows = list(csv.reader((folder / "labels.csv").open()))
    with (folder / "labels.csv").open("w", newline="") as f:
        csv.writer(f).writerows([["file", *OWN_ATTRIBUTES], *rows[1:]])
    with (folder / "eval.csv").open("w", newline="") as f:  # 40 of them: enough to evaluate, quick to
        csv.writer(f).writerows([["file", *OWN_ATTRIBUTES], *rows[1:41]])
    return folder


def _own(data: Path, labels: str = "labels.csv") -> list:
    """--images/--labels without --dataset."""
    return ["--images", data, "--labels", data / labels, "--resolution", "16", "--threads", "1"]


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A model trained through all three stages (a couple of steps each); -> (folder, stdout per stage)."""
    out = tmp_path_factory.mktemp("model") / "mine"
    stdout = {
        "autoencoder": _cli("train", "autoencoder", *_own(data), "--out", out, "--steps", "2", "--batch-size", "4",
                            *_sets(TINY_AE)).stdout,
        "gae": _cli("train", "gae", *_own(data), "--out", out, "--steps", "2", "--batch-size", "8", *_sets(TINY_GAE),
                    "--default-steps", "2", "--no-domain").stdout,
        "joint": _cli("train", "joint", *_own(data), "--out", out, "--steps", "2", "--groups", "2").stdout,
    }
    return out, stdout


def test_images_and_labels_imply_the_folder_dataset(trained):
    out, _ = trained
    manifest = json.loads((out / "model.json").read_text())
    assert manifest["dataset"] == "folder"
    assert list(manifest["values"]) == OWN_ATTRIBUTES, "trained on something other than the folder data"


@pytest.mark.parametrize("extra", [["--dataset", "toys"], ["--dataset", "vehicles"]])
def test_images_and_labels_with_another_dataset_named_stop_with_an_error(data, tmp_path, extra):
    out = tmp_path / "never"
    r = _cli("train", "autoencoder", *_own(data), *extra, "--out", out, "--steps", "1", ok=False)
    assert r.returncode != 0
    assert f"--dataset {extra[1]}" in r.stderr and "--images/--labels" in r.stderr, r.stderr
    assert not out.exists()


def test_labels_without_images_stop_with_an_error(data, tmp_path):
    r = _cli("train", "gae", "--labels", data / "labels.csv", "--out", tmp_path / "m", ok=False)
    assert r.returncode != 0 and "--images" in r.stderr, r.stderr


@pytest.mark.parametrize("stage", ["autoencoder", "gae", "joint"])
def test_nuisance_draws_are_refused_for_data_without_nuisance(data, tmp_path, stage):
    for given in (["--dataset", "toys", "--resolution", "16"], _own(data)):
        r = _cli("train", stage, *given, "--nuisance-draws", "2", "--out", tmp_path / "m", ok=False)
        assert r.returncode != 0 and "--nuisance-draws is for the vehicles renders" in r.stderr
        assert not (tmp_path / "m").exists()


def test_each_train_command_says_what_it_wrote_and_where_the_model_is(trained):
    out, stdout = trained
    ae, gae = out / "autoencoder" / "model.safetensors", out / "gae" / "model.safetensors"
    lines = {stage: text.splitlines() for stage, text in stdout.items()}
    assert any(line.startswith(f"wrote {ae} (") for line in lines["autoencoder"]), stdout["autoencoder"]
    assert f"wrote {ae.with_suffix('.json')}" in lines["autoencoder"]
    assert not any(str(gae) in line for line in lines["autoencoder"])
    assert f"model folder: {out} (not complete yet" in stdout["autoencoder"]

    assert any(line.startswith(f"wrote {gae} (") for line in lines["gae"]), stdout["gae"]
    assert f"wrote {out / 'model.json'}" in lines["gae"]
    assert not any(str(ae) in line for line in lines["gae"]), "the GAE stage does not touch stage 1"
    assert f"model folder: {out} (complete: diffusegae serve --model {out})" in stdout["gae"]

    for path in (ae, gae):  # stage 3 rewrites both
        assert any(line.startswith(f"wrote {path} (") for line in lines["joint"]), stdout["joint"]
    assert f"model folder: {out} (complete" in stdout["joint"]
    for text in stdout.values():
        assert f"training state (checkpoints, loss log): {out / 'runs'}" in text
        assert "runs/" not in "".join(line for line in text.splitlines() if line.startswith("wrote"))


EVAL_ARGS = ["--recon-images", "4", "--pairs", "4", "--steps-list", "2", "--edit-steps", "2", "--device", "cpu"]
STAGES = ("reconstruction", "random x_T reconstruction", "encoding", "probe latents", "linear probes", "attribute swaps",
          "random x_T decodes", "figures")


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_evaluate_shows_progress_and_never_replaces_results_without_overwrite(data, trained):
    model, _ = trained
    eval_dir, new = model / "eval", model / "eval-new"
    _cli("train", "classifier", *_own(data, "eval.csv"), "--steps", "2", "--out", eval_dir / "classifier.safetensors")
    (eval_dir / "metrics.json").write_text('{"shipped": true}\n')  # the model's own results, as a shipped model has
    (eval_dir / "swap_shape.png").write_bytes(b"shipped figure")
    shipped = _snapshot(eval_dir)
    ev = ["evaluate", "--model", model, *_own(data, "eval.csv"), *EVAL_ARGS]

    first = _cli(*ev)  # eval/ holds results: they go to a new folder and eval/ stays as it is
    assert f"writing metrics.json and figures to {new}" in first.stderr
    for stage in STAGES:
        assert f"{stage}: 100%" in first.stderr, f"no finished progress bar for {stage}:\n{first.stderr[-3000:]}"
    assert f"wrote 7 files to {new}: " in first.stderr
    assert json.loads(first.stdout)["swap_accuracy"].keys() == set(OWN_ATTRIBUTES)
    metrics = json.loads(first.stdout)
    assert metrics["random_xT_mse"].keys() == metrics["reconstruction_mse"]["ddim"].keys()
    assert json.loads((new / "metrics.json").read_text()) == json.loads(first.stdout)
    assert {"perplexity.png", "interpolation.png", "random_xT.png", "swap_shape.png", "swap_colour.png", "swap_size.png"} <= {
        p.name for p in new.iterdir()}
    assert _snapshot(eval_dir) == shipped

    again = _cli(*ev, ok=False)  # eval-new holds results too: refused before any work, nothing replaced
    assert again.returncode != 0 and "--overwrite" in again.stderr and str(new) in again.stderr
    refused = _cli(*ev, "--out", eval_dir, ok=False)
    assert refused.returncode != 0 and "--overwrite" in refused.stderr and str(eval_dir) in refused.stderr
    assert _snapshot(eval_dir) == shipped

    forced = _cli(*ev, "--overwrite")  # --overwrite without --out: the model's own eval/
    assert f"writing metrics.json and figures to {eval_dir}" in forced.stderr and "(2 replaced)" in forced.stderr
    assert json.loads((eval_dir / "metrics.json").read_text()) == json.loads(forced.stdout)
    assert (eval_dir / "classifier.safetensors").read_bytes() == shipped["classifier.safetensors"][0]


def test_evaluate_measures_at_the_models_default_steps_unless_told(data, trained, tmp_path):
    import shutil

    model = tmp_path / "m"
    shutil.copytree(trained[0], model)
    manifest = json.loads((model / "model.json").read_text())
    manifest["default_steps"] = 3  # not one of the reconstruction table's own counts, nor the old --edit-steps 20
    (model / "model.json").write_text(json.dumps(manifest))
    out = tmp_path / "eval"
    run = _cli("evaluate", "--model", model, *_own(data, "eval.csv"), "--recon-images", "2", "--pairs", "2",
               "--device", "cpu", "--out", out)
    metrics = json.loads(run.stdout)
    assert metrics["edit_steps"] == 3
    assert list(metrics["reconstruction_mse"]["ddim"]) == ["3", "10", "20", "50", "100"]


def test_evaluate_picks_its_folder_without_replacing_anything(tmp_path):
    from diffusegae.commands.evaluate import _eval_out
    from diffusegae.model_folder import ModelFolder

    folder = ModelFolder(tmp_path / "m")

    def out(**kw) -> Path:
        return _eval_out(argparse.Namespace(**{"out": None, "overwrite": False, **kw}), folder)

    (folder.eval_dir).mkdir(parents=True)
    (folder.eval_dir / "classifier.safetensors").write_bytes(b"x")  # an instrument, not a result
    assert out() == folder.eval_dir, "a model without results gets them in its eval/"
    (folder.eval_dir / "perplexity.png").write_bytes(b"x")
    assert out() == folder.root / "eval-new"
    assert out(overwrite=True) == folder.eval_dir
    assert out(out=tmp_path / "mine") == tmp_path / "mine"
    (folder.root / "eval-new").mkdir()
    (folder.root / "eval-new" / "metrics.json").write_text("{}")
    with pytest.raises(SystemExit, match="--overwrite"):
        out()
    with pytest.raises(SystemExit, match="--overwrite"):
        out(out=folder.eval_dir)
    assert out(out=folder.eval_dir, overwrite=True) == folder.eval_dir


def test_readme_shows_the_real_defaults_and_the_missing_steps():
    readme = (ROOT / "README.md").read_text()
    assert "100 dims split evenly" not in readme
    assert "60/20/20" in readme
    assert '.to_images(out)[0].save("out.png")' in readme
    assert "zip images.zip" in readme


def test_a_model_is_measured_on_its_own_dataset_unless_told(tmp_path):
    from diffusegae.commands.common import data_of_model
    from diffusegae.model_folder import ModelFolder, manifest_for

    folder = ModelFolder(tmp_path / "m")
    ed = argparse.Namespace(info=argparse.Namespace(resolution=64))

    def resolved(trained_on: str, **given) -> argparse.Namespace:
        folder.root.mkdir(exist_ok=True)
        folder.write_manifest(manifest_for("m", ["a"], [["0", "1"]], dataset=trained_on))
        args = argparse.Namespace(**{"dataset": None, "resolution": None, **given})
        data_of_model(args, folder, ed)
        return args

    assert vars(resolved("vehicles")) == {"dataset": "vehicles", "resolution": 64}
    assert vars(resolved("vehicles", dataset="toys", resolution=32)) == {"dataset": "toys", "resolution": 32}
    for unknown in ("", "folder"):
        with pytest.raises(SystemExit, match="give --dataset"):
            resolved(unknown)


def test_the_default_model_is_found_from_any_folder(tmp_path):
    """Without --model the library's commands use DGAE_MODEL_DIR, else the checkout's models/vehicles-64, as serve does."""
    env = {k: v for k, v in os.environ.items() if k != "DGAE_MODEL_DIR"}
    code = "from diffusegae.commands.common import default_model; print(default_model())"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
    assert Path(shown.stdout.strip()) == Path(__file__).resolve().parents[2] / "models" / "vehicles-64"
    assert (Path(shown.stdout.strip()) / "model.json").is_file()
    named = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                           env={**env, "DGAE_MODEL_DIR": str(tmp_path / "mine")}, timeout=60)
    assert named.stdout.strip() == str(tmp_path / "mine")
