"""Worker thread settings under load, through the real stack (prints numbers; not a test).

    python benchmarks/bench_threads.py [--model models/toys-32] [--threads-list 1 2] [--clients 16] [--seconds 20]

For each worker thread count (DGAE_TORCH_THREADS: torch's and ONNX Runtime's intra-op threads) starts a
worker and an API process, then `--clients` clients each send `POST /api/recombine?wait=` one after another
(a different blend weight each time, so the worker can merge what waits in the queue into one batch) for
`--seconds`, while one more client reads `GET /api/health` every 100 ms. Prints images per second,
request latency p50 / p95 and health latency p50 / p95 (the API's responsiveness while the worker is busy).
Run it on an otherwise idle machine: the point is how the worker and the API share the cores.

Uses the Redis at DGAE_TEST_REDIS_URL (default redis://127.0.0.1:6379/12), in a namespace of its own.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _q(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))] * 1000 if xs else float("nan")


def run_setting(model: Path, threads: int, clients: int, seconds: float) -> dict[str, float]:
    import httpx

    from tests.service.helpers import toy_png, upload, wait_image
    from tests.stack import Stack

    env = {"DGAE_TORCH_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    with Stack(model, env=env) as stack:
        stack.start_worker()
        url = stack.start_api()
        stack.wait_healthy(url, timeout=180)
        with httpx.Client(base_url=url, timeout=300, limits=httpx.Limits(max_connections=clients + 2)) as client:
            model = client.get("/api/model").json()
            res, attr = model["resolution"], model["attributes"][0]
            base, donor = [upload(client, toy_png(*c, res)).json()["id"] for c in ((1, 2, 3), (4, 7, 8))]
            for i in (base, donor):
                assert wait_image(client, i, timeout=120)["status"] == "ready"
            counter = iter(range(10**9))
            lock = threading.Lock()

            def request() -> float:
                with lock:
                    n = next(counter)
                body = {"base": base, "attributes": {attr: {"donor": donor, "weight": round(0.001 * (n % 1000), 3)}}}
                t = time.perf_counter()
                r = client.post("/api/recombine?wait=300", json=body)
                assert r.status_code == 200, r.text[:200]
                return time.perf_counter() - t

            for _ in range(3):  # warm-up: lazy set-up in both processes
                request()
            stop = threading.Event()
            health: list[float] = []

            def poll_health() -> None:
                while not stop.is_set():
                    t = time.perf_counter()
                    client.get("/api/health").raise_for_status()
                    health.append(time.perf_counter() - t)
                    time.sleep(0.1)

            def client_loop(_: int) -> list[float]:
                lat: list[float] = []
                while not stop.is_set():
                    lat.append(request())
                return lat

            poller = threading.Thread(target=poll_health)
            poller.start()
            t0 = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                futures = [pool.submit(client_loop, c) for c in range(clients)]
                time.sleep(seconds)
                stop.set()
                lat = [x for f in futures for x in f.result()]
            elapsed = time.perf_counter() - t0
            poller.join()
    return {"images_per_s": len(lat) / elapsed, "req_p50": _q(lat, 0.5), "req_p95": _q(lat, 0.95),
            "health_p50": _q(health, 0.5), "health_p95": _q(health, 0.95), "n": len(lat)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "toys-32")
    ap.add_argument("--threads-list", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--rounds", type=int, default=2, help="each setting this many times, alternating")
    args = ap.parse_args()
    print(f"model {args.model} | {args.clients} concurrent clients for {args.seconds:g} s | {os.cpu_count()} CPUs | "
          f"load average {os.getloadavg()[0]:.2f}")
    results: dict[int, list[dict[str, float]]] = {t: [] for t in args.threads_list}
    for r in range(args.rounds):
        for threads in args.threads_list:
            m = run_setting(args.model.resolve(), threads, args.clients, args.seconds)
            results[threads].append(m)
            print(f"round {r + 1}, {threads} thread(s): {m['images_per_s']:6.1f} images/s | request p50 "
                  f"{m['req_p50']:5.0f} ms p95 {m['req_p95']:5.0f} ms | health p50 {m['health_p50']:4.0f} ms "
                  f"p95 {m['health_p95']:4.0f} ms | n={m['n']:.0f}")
    for threads, ms in results.items():
        med = {k: statistics.median(m[k] for m in ms) for k in ms[0]}
        print(f"{threads} thread(s), median of {len(ms)}: {med['images_per_s']:.1f} images/s, "
              f"health p95 {med['health_p95']:.0f} ms")


if __name__ == "__main__":
    main()
