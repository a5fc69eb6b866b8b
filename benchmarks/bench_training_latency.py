"""Edits while a training runs (prints numbers; not a test).

    python benchmarks/bench_training_latency.py [--requests 30] [--steps 400]

A stack like `serve`'s on the Redis at DGAE_TEST_REDIS_URL (default redis://127.0.0.1:6379/12): the API, a model
worker and a trainings-only worker (niceness +10), base model toys-32. recombine?wait p50 and p95 idle, then again
while a training of a 32 px toys dataset runs (a GAE of the standard size), and their ratio (the issue: within 1.5x).
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import platform
import statistics
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--steps", type=int, default=400, help="GAE steps of the training")
    args = ap.parse_args()

    import httpx

    from diffusegae.data import toys
    from tests.stack import Stack

    def png(i: int, b: int, p: int) -> bytes:
        buf = io.BytesIO()
        toys.render(i, b, p, 32).save(buf, format="PNG")
        return buf.getvalue()

    rows = list(itertools.product(range(6), range(0, 40, 4), range(0, 10, 3)))  # 6 x 10 x 4 = 240 images
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for i, b, p in rows:
            zf.writestr(f"{i}-{b}-{p}.png", png(i, b, p))
        zf.writestr("labels.csv", "file,kind,ground,turn\n" + "".join(f"{i}-{b}-{p}.png,k{i},g{b},t{p}\n" for i, b, p in rows))
    env = {"DGAE_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1", "DGAE_MODELS_DIR": ""}
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores | base toys-32 | workers at 1 thread")
    with Stack(ROOT / "models" / "toys-32", env=env) as st:
        st.start_worker()
        st.start_worker(env={"DGAE_WORKER_MODELS": "none", "DGAE_WORKER_TRAIN": "1"})
        st.url = st.start_api()
        st.wait_healthy(st.url, workers=2, timeout=300)
        with httpx.Client(base_url=st.url, timeout=600) as client:
            base = client.post("/api/images", files={"file": ("x.png", png(1, 2, 3))}).json()["id"]
            while client.get(f"/api/images/{base}").json()["status"] != "ready":
                time.sleep(0.05)

            def series() -> list[float]:
                out = []
                for k in range(args.requests):
                    t = time.perf_counter()
                    r = client.post("/api/recombine?wait=600", json={"base": base, "x_T": "random", "seed": k})
                    assert r.status_code == 200, r.text
                    out.append(time.perf_counter() - t)
                return out

            series()  # warm
            idle = series()
            ds = client.post("/api/datasets", files={"file": ("toys.zip", archive.getvalue())}, data={"resolution": "32"})
            assert ds.status_code == 201, ds.text
            job = client.post("/api/trainings", json={"dataset": ds.json()["id"], "name": "bench-toys",
                                                      "base_model": "toys-32", "steps": args.steps}).json()
            while client.get(f"/api/jobs/{job['id']}").json()["progress"]["done"] < 5:
                time.sleep(0.2)
            first, t = client.get(f"/api/jobs/{job['id']}").json()["progress"]["done"], time.perf_counter()
            busy = series()
            last, took = client.get(f"/api/jobs/{job['id']}").json()["progress"]["done"], time.perf_counter() - t
            print(f"the training went from step {first} to {last} of {args.steps} while the edits ran "
                  f"({(last - first) / took:.2f} steps/s)")

        def p(xs: list[float], q: float) -> float:
            return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))] * 1000

        for q, name in ((0.5, "p50"), (0.95, "p95")):
            print(f"recombine?wait {name}: idle {p(idle, q):.0f} ms, during a training {p(busy, q):.0f} ms, "
                  f"ratio {p(busy, q) / p(idle, q):.2f}")
        print(f"mean: idle {statistics.mean(idle) * 1000:.0f} ms, during {statistics.mean(busy) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
