"""Several models in one worker (prints numbers; not a test).

    python benchmarks/bench_models.py [--requests 20] [--max-models 2]

Starts a worker serving every model (the shipped toys-32 as the default, and vehicles-64) and the API
on the Redis at DGAE_TEST_REDIS_URL (default redis://127.0.0.1:6379/12), in a namespace of its own, and measures:

1. The first request to a model the worker has not loaded: its load time (/api/health `load_s`) and the
   request's latency.
2. Switching: recombine?wait p50 of requests to one model alone, against the same requests alternating
   between the two loaded models (switching should cost nothing: both stay loaded).
3. The worker's resident memory with 1 and with 2 models loaded, and its peak over the run (sampled every 50 ms).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=20, help="requests per measured series")
    ap.add_argument("--max-models", type=int, default=2, help="DGAE_MAX_MODELS of the worker")
    ap.add_argument("--threads", type=int, default=1, help="torch / ONNX Runtime threads of the worker")
    args = ap.parse_args()

    import httpx
    import psutil

    from diffusegae.data import toys
    from tests.stack import Stack

    a, b = "toys-32", "vehicles-64"
    buf = io.BytesIO()
    toys.render(1, 2, 3, 64).save(buf, format="PNG")
    png = buf.getvalue()
    env = {"DGAE_MODELS_DIR": str(ROOT / "models"), "DGAE_MAX_MODELS": str(args.max_models),
           "DGAE_TORCH_THREADS": str(args.threads), "OMP_NUM_THREADS": str(args.threads),
           "DGAE_ONNX_CACHE_DIR": os.environ.get("DGAE_ONNX_CACHE_DIR", str(Path.home() / ".cache" / "diffusegae"))}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores | worker threads "
          f"{args.threads} | DGAE_MAX_MODELS {args.max_models} | {args.requests} requests per series")
    with Stack(ROOT / "models" / a, env=env) as st:
        worker = psutil.Process(st.start_worker().pid)
        st.url = st.start_api()
        st.wait_healthy(st.url, timeout=300)
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.05):
                try:
                    peak[0] = max(peak[0], worker.memory_info().rss)
                except psutil.Error:
                    return

        threading.Thread(target=sample, daemon=True).start()
        with httpx.Client(base_url=st.url, timeout=600) as client:
            def served(name: str) -> dict:
                return {m["name"]: m for m in client.get("/api/health").json()["models"]}[name]

            while served(b)["status"] != "ready":
                time.sleep(0.2)
            rss_one = worker.memory_info().rss
            ids, took = {}, {}
            for name in (a, b):
                started = time.perf_counter()
                ids[name] = client.post("/api/images", files={"file": ("x.png", png)}, data={"model": name}).json()["id"]
                while client.get(f"/api/images/{ids[name]}").json()["status"] not in ("ready", "failed"):
                    time.sleep(0.05)
                took[name] = time.perf_counter() - started
            while served(b)["load_s"] is None:  # the worker's next heartbeat says it
                time.sleep(0.2)
            print(f"upload -> encoded: {a} (loaded) {took[a]:.2f} s; {b} (not loaded) {took[b]:.2f} s, of which "
                  f"loading {served(b)['load_s']:.2f} s (/api/health load_s)")
            rss_two = worker.memory_info().rss

            def once(name: str) -> float:
                t = time.perf_counter()
                r = client.post("/api/recombine?wait=300", json={"base": ids[name]})
                assert r.status_code == 200, r.text
                return time.perf_counter() - t

            for name in (a, b):
                once(name)  # warm
            alone = {name: [once(name) for _ in range(args.requests)] for name in (a, b)}
            mixed: dict[str, list[float]] = {a: [], b: []}
            for i in range(2 * args.requests):
                name = (a, b)[i % 2]
                mixed[name].append(once(name))
        done.set()
        for name in (a, b):
            print(f"recombine?wait p50 {name}: alone {statistics.median(alone[name]) * 1000:.0f} ms, "
                  f"alternating with the other {statistics.median(mixed[name]) * 1000:.0f} ms")
        mib = 1024 * 1024
        print(f"worker RSS: 1 model loaded {rss_one / mib:.0f} MiB, 2 loaded {rss_two / mib:.0f} MiB, "
              f"peak {peak[0] / mib:.0f} MiB")


if __name__ == "__main__":
    main()
