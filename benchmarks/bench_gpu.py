"""Decode throughput on the worker's device, and the fraction of the GPU's bf16 peak it reaches.

    python benchmarks/bench_gpu.py --model models/toys-32 [--device cuda] [--batch N] [--steps 3] [--bf16-min-batch N]

Loads the model with the torch runtime as a worker does (on CUDA: channels_last, bf16 autocast for batches of
`DGAE_BF16_MIN_BATCH` or more, default all), decodes `--batch` images (default `DGAE_MAX_SAMPLER_BATCH`, the
worker's interactive batch) at `--steps` steps `--repeats` times, and prints images/s, the UNet's FLOPs per
image (counted with torch.utils.flop_counter), the TFLOP/s reached and, on a GPU whose bf16 dense peak is in
PEAK_BF16_TFLOPS, the fraction of it. On the CPU the fraction is n/a.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Dense bf16 tensor-core peak (no sparsity), TFLOP/s, from the vendors' data sheets; the first name found in
# torch.cuda.get_device_name() counts, so the specific names come first.
PEAK_BF16_TFLOPS = {"H100 PCIe": 756.0, "H100 NVL": 835.0, "H100": 989.0, "H200": 989.0, "GH200": 989.0,
                    "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10G": 70.0, "A10": 125.0}


def peak_tflops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def main() -> None:
    from core.settings import Settings
    from diffusegae.editing import Editor

    settings = Settings()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=settings.model_dir)
    ap.add_argument("--device", default=settings.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    ap.add_argument("--batch", type=int, default=settings.max_sampler_batch)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=settings.torch_thread_count(), help="CPU threads")
    ap.add_argument("--bf16-min-batch", type=int, default=settings.bf16_min_batch,
                    help="bf16 autocast from this batch size (default: all on CUDA, none on the CPU; 0: never)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    ed = Editor.load(args.model, device, runtime="torch", bf16_min_batch=args.bf16_min_batch)
    b, r = args.batch, ed.info.resolution
    x_T = ed.random_x_T(range(b))
    z_dis = ed.z_dis_of(x_T.clamp(-1, 1))

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        ed.runtime.eps(x_T, torch.full((b,), 500, device=device), ed.condition(z_dis))
    flops_per_call = counter.get_total_flops()  # for the batch of b
    calls = len(ed.ae.schedule.timesteps(args.steps))  # one UNet call per step (DDIM / DPM-Solver++)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    times = []
    for i in range(args.repeats + 2):
        sync()
        t = time.perf_counter()
        ed.decode(z_dis, x_T, steps=args.steps)
        sync()
        if i >= 2:  # two warm-up decodes
            times.append(time.perf_counter() - t)
    sec = statistics.median(times)
    tflops = flops_per_call * calls / sec / 1e12
    peak = peak_tflops(device)
    print(json.dumps({
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({args.threads} threads)",
        "model": ed.info.name, "resolution": r, "batch": b, "steps": args.steps, "runtime": ed.runtime.detail,
        "decode_ms": round(sec * 1000, 1), "images_per_s": round(b / sec, 1),
        "unet_gflops_per_image": round(flops_per_call / b / 1e9, 3), "achieved_tflops": round(tflops, 3),
        "bf16_peak_tflops": peak if peak is not None else "n/a",
        "fraction_of_bf16_peak": round(tflops / peak, 4) if peak else "n/a",
        "loadavg": [round(v, 2) for v in os.getloadavg()],
    }, indent=2))


if __name__ == "__main__":
    main()
