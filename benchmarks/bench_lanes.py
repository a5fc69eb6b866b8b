"""Interactive edits under upload load (prints numbers; not a test).

    python benchmarks/bench_lanes.py [--model models/toys-32] [--uploaders 16] [--edits 30]

p50 / p90 of `POST /api/recombine?wait=` (one client, one edit after another) with no other load, then
while `--uploaders` clients upload new images as fast as the service takes them (each upload is an
encode in the bulk lane). Edits go in the interactive lane, which a worker takes first, so their latency
should stay near the unloaded one instead of queueing behind the encodes.

Starts its own worker and API processes (torch at 1 thread) on the Redis at DGAE_TEST_REDIS_URL
(default redis://127.0.0.1:6379/12), in a namespace of its own.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _png(i: int, b: int, p: int, salt: int = 0) -> bytes:
    from diffusegae.data import toys

    img = toys.render(i, b, p, 64)
    img.putpixel((0, 0), (salt % 256, (salt // 256) % 256, 7))  # new bytes: a new image to encode
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _percentiles(xs: list[float]) -> str:
    q = statistics.quantiles(xs, n=10)
    return f"p50 {statistics.median(xs) * 1000:7.0f} ms   p90 {q[8] * 1000:7.0f} ms   (n={len(xs)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "toys-32")
    ap.add_argument("--uploaders", type=int, default=16)
    ap.add_argument("--edits", type=int, default=30, help="edits measured in each phase")
    args = ap.parse_args()

    import httpx

    from core.records import Records
    from tests.stack import Stack

    with Stack(args.model.resolve(), env={"DGAE_TORCH_THREADS": "1"}) as stack:
        stack.start_worker()
        url = stack.start_api()
        stack.wait_healthy(url, timeout=120)
        with httpx.Client(base_url=url, timeout=300) as client:
            base = client.post("/api/images", files={"file": ("base.png", _png(1, 2, 3))}).json()["id"]
            donor = client.post("/api/images", files={"file": ("donor.png", _png(4, 50, 7))}).json()["id"]
            for image in (base, donor):
                while client.get(f"/api/images/{image}").json()["status"] not in ("ready", "failed"):
                    time.sleep(0.05)
            body = {"base": base, "attributes": {"background": {"donor": donor, "weight": 1.0}}}

            records = Records.connect(stack.env["DGAE_REDIS_URL"], stack.env["DGAE_KEY_PREFIX"])
            phases: list[tuple[float, float]] = []  # per edit: (queued s, ran s) from its job record

            def edits() -> list[float]:
                out = []
                phases.clear()
                for _ in range(args.edits):
                    t = time.perf_counter()
                    r = client.post("/api/recombine?wait=120", json=body)
                    if r.status_code != 200:
                        raise SystemExit(f"recombine answered {r.status_code}: {r.text[:200]}")
                    out.append(time.perf_counter() - t)
                    rec = records.get(records.job_key(r.headers["X-Job-Id"]))
                    created, started, finished = (float(rec[k]) for k in ("created", "started", "finished"))
                    phases.append((started - created, finished - started))
                return out

            def split() -> str:
                return (f"   queued p50 {statistics.median(q for q, _ in phases) * 1000:.0f} ms, "
                        f"ran p50 {statistics.median(r for _, r in phases) * 1000:.0f} ms")

            edits()  # warm-up
            print(f"model {args.model} | default steps | worker torch threads 1")
            print(f"recombine?wait, no other load:        {_percentiles(edits())}{split()}")

            stop = threading.Event()
            uploaded = [0]

            def uploader(n: int) -> None:
                with httpx.Client(base_url=url, timeout=60) as c:
                    k = 0
                    while not stop.is_set():
                        k += 1
                        c.post("/api/images", files={"file": ("u.png", _png(n % 6, (n * 7 + k) % 111, k % 10, n * 100000 + k))})
                        uploaded[0] += 1
                        time.sleep(0.05)

            threads = [threading.Thread(target=uploader, args=(n,), daemon=True) for n in range(args.uploaders)]
            for t in threads:
                t.start()
            time.sleep(3)  # let the encode backlog build
            loaded = edits()
            stop.set()
            for t in threads:
                t.join()
            backlog = client.get("/api/images").json()["images"]
            waiting = sum(1 for im in backlog if im["status"] in ("queued", "encoding"))
            print(f"recombine?wait, {args.uploaders} clients uploading: {_percentiles(loaded)}{split()}")
            print(f"uploads sent during the loaded phase: {uploaded[0]}; images still waiting to encode at its end: {waiting}")


if __name__ == "__main__":
    main()
