"""Service benchmark (prints numbers; not a test).

    python benchmarks/bench_service.py [--model models/toys-32] [--requests 32] [--runtime onnx|torch]

1. Overhead: latency of one POST /api/recombine?wait= through the whole stack (HTTP -> Redis ->
   Celery worker -> decode -> PNG file -> HTTP) against the same decode called directly.
2. Batching gain: throughput with 1, 4 and 16 concurrent clients; the worker merges requests
   that wait in the queue into one sampler batch, so throughput should grow with concurrency.

`--runtime` picks what runs the UNet and the encoder, in the direct decode and the worker (DGAE_RUNTIME).
Starts its own worker and API processes (torch at 1 thread each, --threads to change) on the
Redis at DGAE_TEST_REDIS_URL (default redis://127.0.0.1:6379/12), in a namespace of its own.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def direct_decode(model: Path, image: bytes, steps: int | None, repeats: int, threads: int,
                  runtime: str = "torch") -> tuple[float, float, int]:
    """-> (median seconds of one decode of batch 1, seconds per image in a batch of 16, steps)."""
    import torch
    from PIL import Image

    from diffusegae.editing import Editor

    torch.set_num_threads(threads)
    ed = Editor.load(model, runtime=runtime, threads=threads)
    assert ed.runtime.name == runtime, ed.runtime.note
    steps = steps or ed.info.default_steps
    lat = ed.encode(ed.preprocess([Image.open(io.BytesIO(image))]))
    ed.decode(lat.z_dis, lat.x_T, steps=steps)  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        ed.decode(lat.z_dis, lat.x_T, steps=steps)
        times.append(time.perf_counter() - t)
    z16, x16 = lat.z_dis.expand(16, -1), lat.x_T.expand(16, -1, -1, -1)
    t = time.perf_counter()
    ed.decode(z16, x16, steps=steps)
    return statistics.median(times), (time.perf_counter() - t) / 16, steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "toys-32")
    ap.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model's)")
    ap.add_argument("--repeats", type=int, default=10, help="sequential requests for the latency numbers")
    ap.add_argument("--requests", type=int, default=32, help="requests per concurrency level")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (direct decode and the worker)")
    ap.add_argument("--runtime", choices=["onnx", "torch"], default="onnx", help="inference runtime (DGAE_RUNTIME)")
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

    import httpx

    from diffusegae.checkpoint import CheckpointError
    from diffusegae.data import toys
    from tests.stack import Stack

    buf = io.BytesIO()
    toys.render(1, 2, 3, 64).save(buf, format="PNG")
    image = buf.getvalue()
    try:
        one, per_image_b16, steps = direct_decode(args.model, image, args.steps, args.repeats, args.threads,
                                                     args.runtime)
    except CheckpointError as e:
        raise SystemExit(f"cannot load the model: {e}") from None
    print(f"model {args.model} | steps {steps} | threads {args.threads} | runtime {args.runtime} | "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"direct decode, batch 1:           {one * 1000:8.1f} ms")
    print(f"direct decode, batch 16:          {per_image_b16 * 1000:8.1f} ms per image")

    with Stack(args.model.resolve(), env={"DGAE_TORCH_THREADS": str(args.threads), "OMP_NUM_THREADS": str(args.threads),
                                           "DGAE_RUNTIME": args.runtime}) as stack:
        stack.start_worker()
        url = stack.start_api()
        health = stack.wait_healthy(url, timeout=120)
        assert health["model"].get("runtime") == args.runtime, health["model"]
        with httpx.Client(base_url=url, timeout=300) as client:
            image_id = client.post("/api/images", files={"file": ("b.png", image)}).json()["id"]
            while client.get(f"/api/images/{image_id}").json()["status"] not in ("ready", "failed"):
                time.sleep(0.05)
            body = {"base": image_id, "steps": steps}

            def one_request(_: int = 0) -> float:
                t = time.perf_counter()
                r = client.post("/api/recombine?wait=300", json=body)
                assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text[:200]
                return time.perf_counter() - t

            one_request()  # warm-up
            latency = statistics.median(one_request() for _ in range(args.repeats))
            # the machine may be busy with other work: measure the direct decode again, right now
            one = (one + direct_decode(args.model, image, steps, args.repeats, args.threads, args.runtime)[0]) / 2
            print(f"direct decode, batch 1 (mean of before/after): {one * 1000:.1f} ms")
            print(f"whole stack, one /recombine:      {latency * 1000:8.1f} ms  (overhead ratio {latency / one:.2f}x, "
                  f"+{(latency - one) * 1000:.1f} ms)")
            base_rate = None
            for conc in (1, 4, 16):
                with ThreadPoolExecutor(conc) as pool:
                    t = time.perf_counter()
                    list(pool.map(one_request, range(args.requests)))
                    rate = args.requests / (time.perf_counter() - t)
                base_rate = base_rate or rate
                print(f"throughput, {conc:2d} concurrent:        {rate:8.1f} images/s  (batching gain {rate / base_rate:.2f}x)")


if __name__ == "__main__":
    main()
