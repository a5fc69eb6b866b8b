"""Two processes under torchrun (gloo on CPU) train one model with DistributedDataParallel."""

import json
import os
import subprocess
import sys

import torch
from safetensors.torch import load_file

TINY = ["unet_channels=8", "unet_mult=[1,2]", "unet_attn_res=[]", "enc_channels=8", "enc_mult=[1,2]", "enc_blocks=1",
        "enc_attn_stages=1", "heads=2", "z_sem_dim=16"]


def test_two_process_gloo_training(tmp_path):
    data = tmp_path / "data"
    subprocess.run([sys.executable, "-m", "diffusegae.cli", "dataset", "render", "--out", str(data), "--resolution", "16",
                    "--limit", "64"], check=True, capture_output=True)
    out = tmp_path / "model"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "diffusegae.cli", "train", "autoencoder", "--dataset", "folder", "--images", str(data),
           "--labels", str(data / "labels.csv"), "--resolution", "16", "--out", str(out), "--steps", "4",
           "--batch-size", "4", "--save-every", "2", "--threads", "1"]
    for kv in TINY:
        cmd += ["--set", kv]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    log = [json.loads(line) for line in (out / "runs" / "autoencoder_state_log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 4 and log[-1]["world_size"] == 2
    weights = load_file(str(out / "autoencoder" / "model.safetensors"))
    assert all(torch.isfinite(v).all() for v in weights.values())
    # resume continues from the saved step instead of starting over
    r = subprocess.run(cmd[:cmd.index("--steps") + 1] + ["6"] + cmd[cmd.index("--steps") + 2:] + ["--resume"],
                       capture_output=True, text=True, env=env, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    log = [json.loads(line) for line in (out / "runs" / "autoencoder_state_log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [4, 6]
