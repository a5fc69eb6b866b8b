"""The store's backends and workers on several "machines" (prints numbers; not a test).

    python benchmarks/bench_store.py [--model models/toys-32] [--requests 20] [--clients 16]

1. Folder against S3 (a real SeaweedFS on loopback, started here): two stacks side by side on the Redis at
   DGAE_TEST_REDIS_URL (default redis://127.0.0.1:6379/12), one per backend, each with its API and one worker; the
   requests alternate between them, one at a time. upload -> ready, and recombine?wait, p50 of each and their ratio.
2. One worker against two (one thread each, S3 backend, the same model): `--clients` concurrent recombine?wait
   clients, images per second, and the ratio.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu_seconds(stack, weed) -> dict[str, float]:
    """CPU seconds (user + system) so far of the stack's API and workers, SeaweedFS, Redis and this process."""
    import psutil

    def of(proc: psutil.Process) -> float:
        try:
            procs = [proc, *proc.children(recursive=True)]
            return sum(p.cpu_times().user + p.cpu_times().system for p in procs)
        except psutil.Error:
            return 0.0

    out: dict[str, float] = {}
    for p in stack.procs:
        label = "api" if "uvicorn" in " ".join(p.args) else "workers"
        out[label] = out.get(label, 0.0) + of(psutil.Process(p.pid))
    out["seaweedfs"] = of(psutil.Process(weed.proc.pid))
    out["redis"] = sum(of(p) for p in psutil.process_iter(["name"]) if p.info["name"] == "redis-server")
    me = psutil.Process()
    out["clients"] = me.cpu_times().user + me.cpu_times().system
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "toys-32")
    ap.add_argument("--requests", type=int, default=20, help="sequential requests per backend and measure")
    ap.add_argument("--clients", type=int, default=16, help="concurrent clients in the throughput measure")
    ap.add_argument("--throughput-requests", type=int, default=64, help="requests per throughput run")
    args = ap.parse_args()

    import httpx

    from diffusegae.data import toys
    from tests.stack import Seaweed, Stack

    def png(i: int) -> bytes:
        buf = io.BytesIO()
        toys.render(i % 6, (i // 6) % 111 % 60, i % 10, 64).save(buf, format="PNG")
        return buf.getvalue()

    one_thread = {"DGAE_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1", "DGAE_MODELS_DIR": ""}
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores | model {args.model.name} | workers at 1 thread")
    weed = Seaweed().start()
    try:
        s3 = weed.env(f"bench{uuid.uuid4().hex[:8]}")
        with Stack(args.model, env=one_thread) as folder_st, Stack(args.model, env={**one_thread, **s3}) as s3_st:
            for st in (folder_st, s3_st):
                st.start_worker()
                st.url = st.start_api()
                st.wait_healthy(st.url, timeout=300)
            clients = {"folder": httpx.Client(base_url=folder_st.url, timeout=300),
                       "s3": httpx.Client(base_url=s3_st.url, timeout=300)}
            ready: dict[str, list[float]] = {"folder": [], "s3": []}
            edit: dict[str, list[float]] = {"folder": [], "s3": []}
            bases = {}
            for i in range(args.requests + 1):
                for name, client in clients.items():
                    t = time.perf_counter()
                    image = client.post("/api/images", files={"file": (f"{i}.png", png(i))}).json()["id"]
                    while client.get(f"/api/images/{image}").json()["status"] not in ("ready", "failed"):
                        time.sleep(0.01)
                    if i:  # the first of each is a warm-up
                        ready[name].append(time.perf_counter() - t)
                    bases.setdefault(name, image)
            for i in range(args.requests + 1):
                for name, client in clients.items():
                    t = time.perf_counter()
                    r = client.post("/api/recombine?wait=300", json={"base": bases[name], "x_T": "random", "seed": i})
                    assert r.status_code == 200, r.text
                    if i:
                        edit[name].append(time.perf_counter() - t)
            for what, series in (("upload -> ready", ready), ("recombine?wait", edit)):
                f, s = statistics.median(series["folder"]), statistics.median(series["s3"])
                print(f"{what} p50: folder {f * 1000:.0f} ms, S3 (SeaweedFS) {s * 1000:.0f} ms, ratio {s / f:.2f}")
            for c in clients.values():
                c.close()

            def rate(url: str, base: str) -> float:
                with httpx.Client(base_url=url, timeout=600) as client:
                    def one(i: int) -> None:
                        r = client.post("/api/recombine?wait=600", json={"base": base, "x_T": "random", "seed": i})
                        assert r.status_code == 200, r.text

                    with ThreadPoolExecutor(args.clients) as pool:
                        list(pool.map(one, range(args.clients)))  # warm
                        before = cpu_seconds(s3_st, weed)
                        t = time.perf_counter()
                        list(pool.map(one, range(args.throughput_requests)))
                        took = time.perf_counter() - t
                        spent = {k: v - before.get(k, 0.0) for k, v in cpu_seconds(s3_st, weed).items()}
                    print("  CPU ms per image: " + ", ".join(f"{k} {1000 * v / args.throughput_requests:.0f}"
                                                              for k, v in spent.items()) + f" (wall {1000 * took:.0f} "
                          f"ms for {args.throughput_requests}, 2 cores: {2000 * took / args.throughput_requests:.0f} "
                          "core-ms per image)")
                    return args.throughput_requests / took

            single = rate(s3_st.url, bases["s3"])
            s3_st.start_worker(env={"DGAE_WORKER_MODELS": "all"})
            s3_st.wait_healthy(s3_st.url, workers=2, timeout=300)
            double = rate(s3_st.url, bases["s3"])
            print(f"{args.clients} clients, S3 store: one worker {single:.1f} images/s, two workers {double:.1f} "
                  f"images/s, ratio {double / single:.2f}")
    finally:
        weed.stop()


if __name__ == "__main__":
    main()
