"""The three training stages and the editing commands, end to end through the CLI, on a folder dataset."""

import json
import subprocess
import sys

from PIL import Image

from diffusegae.checkpoint import load_tensors
from diffusegae.editing import Editor

TINY_AE = ["unet_channels=8", "unet_mult=[1,2]", "unet_attn_res=[]", "enc_channels=8", "enc_mult=[1,2]", "enc_blocks=1",
           "enc_attn_stages=1", "heads=2", "z_sem_dim=16"]
TINY_GAE = ["hidden=32", "bottleneck=16", "chunk_sizes=[4,4,4]"]


def _cli(*args, timeout=240):
    r = subprocess.run([sys.executable, "-m", "diffusegae.cli", *map(str, args)], capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def _sets(pairs):
    return [x for kv in pairs for x in ("--set", kv)]


def test_train_all_stages_then_edit(tmp_path):
    data = tmp_path / "data"
    _cli("dataset", "render", "--out", data, "--resolution", "16", "--limit", "400")
    ds = ["--dataset", "folder", "--images", data, "--labels", data / "labels.csv", "--resolution", "16", "--threads", "1"]
    out = tmp_path / "model"
    _cli("train", "autoencoder", *ds, "--out", out, "--steps", "3", "--batch-size", "4", *_sets(TINY_AE))
    # A new run from those weights (as after a lost run state) continues the step count.
    cont = tmp_path / "cont"
    _cli("train", "autoencoder", *ds, "--out", cont, "--init-from", out, "--steps", "2", "--batch-size", "4",
         "--high-noise-frac", "0.5", "--high-noise-range", "100", "500", "--snapshot-every", "5")
    _, meta = load_tensors(cont / "autoencoder" / "model.safetensors")
    assert meta["step"] == 5 and (cont / "runs" / "autoencoder" / "ema_0000005.safetensors").is_file()
    _cli("train", "gae", *ds, "--out", out, "--steps", "5", "--batch-size", "8", *_sets(TINY_GAE), "--default-steps", "4",
         "--domain-ood-images", "10")
    _cli("train", "joint", *ds, "--out", out, "--steps", "2", "--groups", "2")
    for stage in ("autoencoder", "gae", "joint"):
        log = (out / "runs" / f"{stage}_state_log.jsonl").read_text().splitlines()
        assert json.loads(log[-1])["step"] > 0
    joint_log = json.loads((out / "runs" / "joint_state_log.jsonl").read_text().splitlines()[-1])
    assert {"l_dae", "l_gae", "l_r", "l_sup", "l_unsup"} <= set(joint_log)
    # Stage 3 continued from those weights in a new folder (its run state lost) counts on from their step.
    joint2 = tmp_path / "joint2"
    _cli("train", "joint", *ds, "--out", joint2, "--init-from", out, "--steps", "3", "--groups", "2")
    for stage in ("autoencoder", "gae"):
        _, meta = load_tensors(joint2 / stage / "model.safetensors")
        assert (meta["step"], meta["stage"]) == (5, "joint")

    ed = Editor.load(out, "cpu")
    assert ed.info.attributes == ("identity", "background", "pose")
    assert ed.info.chunk_sizes == (4, 4, 4) and ed.info.default_steps == 4
    assert ed.gae.z_sem_std.ne(1).any(), "the z_sem statistics are saved with the GAE"
    assert ed.domain is not None, "train gae calibrates the domain check"
    assert set(ed.domain.config.measured["ood"]) == {"solid", "gradients", "noise", "text", "shapes", "photos"}

    files = sorted(data.glob("*.png"))[:3]
    result = tmp_path / "o.png"
    _cli("recombine", "--model", out, "--base", files[0], "--attr", f"background={files[1]}",
         "--attr", f"pose={files[2]}:0.5", "--out", result)
    assert Image.open(result).size == (16, 16)
    lines = _cli("encode", "--model", out, *files[:2], "--out", tmp_path / "lat").splitlines()
    assert set(json.loads(lines[0])["z_dis"]) == {"identity", "background", "pose"}
