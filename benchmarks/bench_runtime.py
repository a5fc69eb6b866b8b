"""Inference runtimes side by side (diffusegae/runtime.py): torch against ONNX Runtime in the same process.

    python benchmarks/bench_runtime.py --model models/toys-32 [--threads 1 2] [--rounds 5] [--repeats 15]
        [--bf16-batch 16]

Loads the model once, builds the torch and the onnx runtime for each thread count, and times, alternately
(torch, onnx, onnx, torch, ... in `--rounds` rounds, so both see the same machine load), at batch 1:
one UNet call (eps), a 3-step decode and a decode at the model's default steps (DDIM / the model's
sampler, through `Editor.decode`). Prints the median over rounds of each round's median, in ms.

With `--bf16-batch N`: a 3-step decode of N images with torch in fp32, torch under bf16 autocast and ONNX
Runtime (fp32), in ms per image, at the largest thread count.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from diffusegae.editing import Editor
from diffusegae.model_folder import ModelFolder
from diffusegae.runtime import load_runtime, torch_runtime

ROOT = Path(__file__).resolve().parents[1]


def _median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out)


def _image(ed: Editor, model: Path) -> torch.Tensor:
    from PIL import Image

    files = ModelFolder(model).example_files()
    if files:
        return ed.preprocess([Image.open(files[0]).convert("RGB")])
    return ed.random_x_T([0]).clamp(-1, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "toys-32")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=15, help="timed calls per round and measurement")
    ap.add_argument("--bf16-batch", type=int, default=0, help="also compare bf16 autocast at this batch size")
    args = ap.parse_args()

    load_before = os.getloadavg()
    ed = Editor.load(args.model, "cpu", runtime="torch")
    steps = ed.info.default_steps
    runtimes = {"torch": {n: ed.runtime for n in args.threads}}
    runtimes["onnx"] = {}
    for n in args.threads:
        rt = load_runtime(ed.ae, ed.gae, "onnx", threads=n)
        if rt.name != "onnx":
            raise SystemExit(rt.note)
        runtimes["onnx"][n] = rt
    lat = ed.encode(_image(ed, args.model), steps=steps)
    x, t, z = lat.x_T, torch.full((1,), 500), ed.condition(lat.z_dis)

    results: dict = {}
    for r in range(args.rounds):
        for n in args.threads:
            torch.set_num_threads(n)
            order = ["torch", "onnx"] if r % 2 == 0 else ["onnx", "torch"]
            for name in order:
                ed.runtime = runtimes[name][n]
                cell = results.setdefault(f"{name} {n}t", {"eps": [], "decode_3": [], f"decode_{steps}": []})
                with torch.no_grad():
                    cell["eps"].append(_median_ms(lambda: ed.runtime.eps(x, t, z), args.repeats))
                cell["decode_3"].append(_median_ms(lambda: ed.decode(lat.z_dis, lat.x_T, steps=3), args.repeats))
                cell[f"decode_{steps}"].append(
                    _median_ms(lambda: ed.decode(lat.z_dis, lat.x_T, steps=steps), max(3, args.repeats // 3)))
    summary = {k: {m: round(statistics.median(v), 1) for m, v in cell.items()} for k, cell in results.items()}

    bf16 = None
    if args.bf16_batch:
        n = max(args.threads)
        torch.set_num_threads(n)
        b = args.bf16_batch
        zb, xb = lat.z_dis.expand(b, -1), lat.x_T.expand(b, -1, -1, -1).contiguous()
        candidates = {"torch fp32": torch_runtime(ed.ae, ed.gae, bf16_min_batch=0),
                      "torch bf16": torch_runtime(ed.ae, ed.gae, bf16_min_batch=1), "onnx fp32": runtimes["onnx"][n]}
        per_round: dict[str, list[float]] = {k: [] for k in candidates}
        for r in range(args.rounds):
            for name in (list(candidates) if r % 2 == 0 else list(reversed(candidates))):
                ed.runtime = candidates[name]
                per_round[name].append(_median_ms(lambda: ed.decode(zb, xb, steps=3), 3) / b)
        bf16 = {"batch": b, "threads": n, "ms_per_image_3_steps": {k: round(statistics.median(v), 2)
                                                                    for k, v in per_round.items()}}

    print(json.dumps({"model": ed.info.name, "resolution": ed.info.resolution, "default_steps": steps,
                      "sampler": ed.info.default_sampler, "rounds": args.rounds, "repeats": args.repeats,
                      "loadavg_before": [round(v, 2) for v in load_before],
                      "loadavg_after": [round(v, 2) for v in os.getloadavg()],
                      "p50_ms": summary, "bf16": bf16}, indent=2))


if __name__ == "__main__":
    main()
