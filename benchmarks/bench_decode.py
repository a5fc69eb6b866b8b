"""In-process latency of one edit's decode and one image's encode, batch 1, at a model's default steps.

    python benchmarks/bench_decode.py --model models/vehicles-64 --threads 2 [--steps 5] [--repeats 30]

Loads the model with `Editor.load`, encodes one held-out render (z_sem, z_dis and the inversion to x_T at the
given steps) and decodes it back, `--repeats` times each after two warm-up calls, and prints the median and the
90th percentile in milliseconds, with the number of UNet calls each took. No service, queue or PNG encoding:
what the worker's sampler costs for one request.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from diffusegae.data.dataset import load_rendered
from diffusegae.diffusion.samplers import model_calls
from diffusegae.editing import Editor
from diffusegae.model_folder import ModelFolder

ROOT = Path(__file__).resolve().parents[1]


def _times(fn, repeats: int) -> list[float]:
    for _ in range(2):
        fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def _summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"p50_ms": round(statistics.median(ms), 1), "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "vehicles-64")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=None, help="default: the model's")
    ap.add_argument("--sampler", default=None, help="default: the model's")
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    ed = Editor.load(args.model, "cpu")
    steps = args.steps or ed.info.default_steps
    sampler = args.sampler or ed.info.default_sampler
    dataset = ModelFolder(args.model).read_manifest().dataset
    image = load_rendered(dataset, ed.info.resolution, "test").images[:1]  # (1, 3, R, R)
    lat = ed.encode(image, steps=steps, sampler=sampler)

    encode = _times(lambda: ed.encode(image, steps=steps, sampler=sampler), args.repeats)
    decode = _times(lambda: ed.decode(lat.z_dis, lat.x_T, steps=steps, sampler=sampler), args.repeats)
    ts = ed.ae.schedule.timesteps(steps)
    print(json.dumps({
        "model": ed.info.name, "resolution": ed.info.resolution, "threads": args.threads, "steps": steps,
        "sampler": sampler, "repeats": args.repeats,
        "unet_calls": {"decode": model_calls(ts, invert=False), "encode": model_calls(ts, invert=True, from_clean=True)},
        "decode": _summary(decode), "encode": _summary(encode),
    }, indent=2))


if __name__ == "__main__":
    main()
