"""The store's backends and workers on several "machines" (prints numbers; not a test).

    python benchmarks/bench_store.py [--model models/toys-32] [--requests 20] [--clients 16] [--seconds 30]

1. Folder against S3 (a real SeaweedFS on loopback, started here): two stacks side by side on the Redis at
   DGAE_TEST_REDIS_URL (default redis://127.0.0.1:6379/12), one per backend, each with its API and one worker; the
   requests alternate between them, one at a time. upload -> ready, and recombine?wait, p50 of each and their ratio.
2. One worker against two (one thread each, S3 backend, the same model): `--clients` concurrent recombine?wait
   clients for `--seconds`, images per second, and the ratio.
3. The machine's ceiling for that ratio: the library's decode alone (ONNX Runtime, one thread, batches of 8, the
   model's default steps; no service) in one process, then in two at once: images/s and CPU ms per image of each.
   What two decoders lose to each other here (shared caches and memory bandwidth) no service can win back.
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


def decode_alone(model: Path, seconds: float) -> None:
    """Part 3's process: decode batches for `seconds`, then print "images cpu_seconds wall_seconds"."""
    import torch

    from diffusegae.editing import Editor

    torch.set_num_threads(1)
    ed = Editor.load(model, "cpu", runtime="onnx", threads=1)
    z = torch.randn(8, sum(ed.info.chunk_sizes))  # (8, D): the time does not depend on the values
    x = ed.random_x_T(list(range(8)))
    ed.decode(z, x, steps=ed.info.default_steps, sampler=ed.info.default_sampler)  # warm
    images, t, c = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t < seconds:
        ed.decode(z, x, steps=ed.info.default_steps, sampler=ed.info.default_sampler)
        images += 8
    print(images, time.process_time() - c, time.perf_counter() - t)


def ceiling(model: Path, seconds: float) -> None:
    import subprocess

    def run(n: int) -> list[tuple[float, float]]:
        cmd = [sys.executable, __file__, "--model", str(model), "--decode-alone", str(seconds)]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env) for _ in range(n)]
        out = []
        for p in procs:
            images, cpu, wall = (float(v) for v in p.communicate()[0].split()[-3:])
            out.append((images / wall, 1000 * cpu / images))
        return out

    one, two = run(1), run(2)
    print(f"decode alone ({model.name}, default steps, batch 8, 1 thread): one process {one[0][0]:.1f} images/s "
          f"({one[0][1]:.0f} CPU ms per image); two at once {sum(r for r, _ in two):.1f} images/s "
          f"({' and '.join(f'{ms:.0f}' for _, ms in two)} CPU ms per image): ratio {sum(r for r, _ in two) / one[0][0]:.2f}, "
          "the most any service could scale to on this machine")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "toys-32")
    ap.add_argument("--requests", type=int, default=20, help="sequential requests per backend and measure")
    ap.add_argument("--clients", type=int, default=16, help="concurrent clients in the throughput measure")
    ap.add_argument("--seconds", type=float, default=30, help="how long each throughput run lasts")
    ap.add_argument("--decode-alone", type=float, default=0, help=argparse.SUPPRESS)  # part 3's own processes
    ap.add_argument("--ceiling-seconds", type=float, default=20, help="how long each part-3 decoder runs")
    args = ap.parse_args()
    if args.decode_alone:
        decode_alone(args.model, args.decode_alone)
        return

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
                """Images/s of `args.clients` clients, each sending its next request when the last is answered, over
                `args.seconds` (after a warm-up round), counted from the first answer to the last."""
                with httpx.Client(base_url=url, timeout=600) as client:
                    def one(i: int) -> None:
                        r = client.post("/api/recombine?wait=600", json={"base": base, "x_T": "random", "seed": i})
                        assert r.status_code == 200, r.text

                    def loop(c: int, until: float) -> int:
                        n = 0
                        while time.perf_counter() < until:
                            one(c * 100_000 + n)
                            n += 1
                        return n

                    with ThreadPoolExecutor(args.clients) as pool:
                        list(pool.map(one, range(args.clients)))  # warm
                        before = cpu_seconds(s3_st, weed)
                        t = time.perf_counter()
                        done = sum(pool.map(loop, range(args.clients), [t + args.seconds] * args.clients))
                        took = time.perf_counter() - t
                        spent = {k: v - before.get(k, 0.0) for k, v in cpu_seconds(s3_st, weed).items()}
                    print("  CPU ms per image: " + ", ".join(f"{k} {1000 * v / done:.0f}" for k, v in spent.items())
                          + f" ({done} images in {took:.1f} s; the 2 cores give {2000 * took / done:.0f} core-ms per "
                          "image)")
                    return done / took

            single = rate(s3_st.url, bases["s3"])
            s3_st.start_worker(env={"DGAE_WORKER_MODELS": "all"})
            s3_st.wait_healthy(s3_st.url, workers=2, timeout=300)
            double = rate(s3_st.url, bases["s3"])
            print(f"{args.clients} clients, S3 store: one worker {single:.1f} images/s, two workers {double:.1f} "
                  f"images/s, ratio {double / single:.2f}")
    finally:
        weed.stop()
    ceiling(args.model, args.ceiling_seconds)


if __name__ == "__main__":
    main()
