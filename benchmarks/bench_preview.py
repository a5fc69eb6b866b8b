"""Live preview while dragging, through the real stack (prints numbers; not a test).

    python benchmarks/bench_preview.py [--model models/toys-32] [--drags 5] [--seconds 3] [--hz 30]

Simulates what the editor does while a weight slider is dragged: the hand moves the slider at `--hz` for
`--seconds`; the client keeps at most one preview request in flight (`POST /api/recombine?wait=` with
`preview: true` and a `supersede` key), a new slider value replaces the one waiting (latest wins), and
when the in-flight preview returns its frame is shown and the latest value goes out. At release the final
render (the model's calibrated steps) is sent at once, while the last preview may still be on the worker.

Reports previews shown per second, preview latency (request -> PNG) p50 / p95, and the final image's
latency after release (p50 over the drags). Then the same final render followed through the SSE stream
(`POST /api/recombine`, then `GET /api/jobs/{id}/events` until `end`), against `?wait=`. Last, upload ->
ready: `--uploads` new images, one at a time, each timed from the POST until its status reads `ready`
(encode + inversion at the model's calibrated steps; the status is polled every 5 ms).

Starts its own worker and API processes (torch at `--threads`) on the Redis at DGAE_TEST_REDIS_URL
(default redis://127.0.0.1:6379/12), in a namespace of its own. Any model folder works (`--model`); the
uploaded toys renders are resized to its resolution by the service.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _ms(xs: list[float], q: float) -> str:
    if not xs:
        return "   -"
    xs = sorted(xs)
    return f"{xs[min(len(xs) - 1, round(q * (len(xs) - 1)))] * 1000:5.0f}"


def drag(client, base: str, donor: str, attr: str, seconds: float, hz: float, key: str) -> tuple[list[float], int, float]:
    """One drag -> (preview latencies, frames shown, final latency after release)."""
    latest: dict[str, float | None] = {"w": None}
    stop = threading.Event()
    lat: list[float] = []
    shown = [0]

    def body(w: float, preview: bool) -> dict:
        b = {"base": base, "attributes": {attr: {"donor": donor, "weight": round(w, 3)}}}
        return {**b, "preview": True, "supersede": key} if preview else b

    def previews() -> None:  # the client's latest-wins loop: one request in flight, the newest value next
        sent = None
        while not stop.is_set():
            w = latest["w"]
            if w is None or w == sent:
                time.sleep(0.002)
                continue
            sent, t0 = w, time.perf_counter()
            r = client.post("/api/recombine?wait=30", json=body(w, True))
            if r.status_code == 200 and not stop.is_set():  # a frame that arrives after release is not shown
                lat.append(time.perf_counter() - t0)
                shown[0] += 1

    worker = threading.Thread(target=previews)
    worker.start()
    start = time.perf_counter()
    w = 0.0
    while (t := time.perf_counter() - start) < seconds:  # the hand: a slow sweep 0 -> 1.5 -> 0, 1/hz apart
        w = round(1.5 * math.sin(math.pi * t / seconds), 2)
        latest["w"] = w
        time.sleep(1 / hz)
    stop.set()  # release: previews stop, the final goes out now
    t0 = time.perf_counter()
    r = client.post("/api/recombine?wait=60", json=body(w, False))
    final = time.perf_counter() - t0
    assert r.status_code == 200, r.text
    worker.join()
    return lat, shown[0], final


def sse_final(client, base: str, donor: str, attr: str, w: float) -> float:
    """POST a final render and follow its event stream to `end` -> seconds."""
    t0 = time.perf_counter()
    job = client.post("/api/recombine", json={"base": base, "attributes": {attr: {"donor": donor, "weight": w}}}).json()
    with client.stream("GET", f"/api/jobs/{job['id']}/events") as r:
        kind = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "end":
                assert json.loads(line[6:])["state"] == "succeeded"
                break
    return time.perf_counter() - t0


def upload_ready(client, png: bytes) -> float:
    """Upload one new image and poll its status until `ready` -> seconds."""
    t0 = time.perf_counter()
    r = client.post("/api/images", files={"file": ("upload.png", png)})
    assert r.status_code == 202, r.text
    image_id = r.json()["id"]
    while (status := client.get(f"/api/images/{image_id}").json()["status"]) not in ("ready", "failed"):
        time.sleep(0.005)
    assert status == "ready", status
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "toys-32")
    ap.add_argument("--drags", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0, help="length of one drag")
    ap.add_argument("--hz", type=float, default=30.0, help="slider values per second while dragging")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the worker")
    ap.add_argument("--finals", type=int, default=10, help="final renders timed through ?wait= and through SSE")
    ap.add_argument("--uploads", type=int, default=20, help="new images timed from upload to ready")
    args = ap.parse_args()

    import httpx

    from tests.service.helpers import toy_png, upload, wait_image
    from tests.stack import Stack

    threads = str(args.threads)
    with Stack(args.model.resolve(), env={"DGAE_TORCH_THREADS": threads, "OMP_NUM_THREADS": threads}) as stack:
        stack.start_worker()
        url = stack.start_api()
        stack.wait_healthy(url, timeout=180)
        with httpx.Client(base_url=url, timeout=300) as client, httpx.Client(base_url=url, timeout=300) as finals:
            model = client.get("/api/model").json()
            res, attr = model["resolution"], model["attributes"][1 % len(model["attributes"])]
            base, donor = [upload(client, toy_png(*c, res)).json()["id"] for c in ((1, 2, 3), (4, 7, 8))]
            for i in (base, donor):
                assert wait_image(client, i, timeout=120)["status"] == "ready"
            print(f"model {model['name']} ({res} px): preview {model['preview_steps']} step(s), final "
                  f"{model['default_steps']} {model['default_sampler']} steps; worker at {threads} torch thread(s); "
                  f"dragging {attr} at {args.hz:g} Hz for {args.seconds:g} s, {args.drags} drags")
            drag(client, base, donor, attr, 1.0, args.hz, "warm-up")  # first calls pay for lazy set-up
            lats, rates, final = [], [], []
            for d in range(args.drags):
                lat, shown, fin = drag(client, base, donor, attr, args.seconds, args.hz, f"drag-{d}")
                lats += lat
                rates.append(shown / args.seconds)
                final.append(fin)
                print(f"  drag {d}: {shown / args.seconds:5.1f} previews/s, preview p50 {_ms(lat, 0.5)} ms, "
                      f"final {fin * 1000:5.0f} ms after release")
            print(f"previews shown: {statistics.median(rates):.1f} /s (median of drags)   preview latency: "
                  f"p50 {_ms(lats, 0.5)} ms  p95 {_ms(lats, 0.95)} ms  (n={len(lats)})")
            print(f"final image after release: p50 {_ms(final, 0.5)} ms  max {_ms(final, 1.0)} ms")
            waited, streamed = [], []
            for k in range(args.finals):
                w = 0.3 + 0.05 * k
                t0 = time.perf_counter()
                r = finals.post("/api/recombine?wait=60", json={"base": base, "attributes": {attr: {"donor": donor,
                                                                                              "weight": w}}})
                assert r.status_code == 200
                waited.append(time.perf_counter() - t0)
                streamed.append(sse_final(finals, base, donor, attr, w + 0.01))
            print(f"final render alone: ?wait= p50 {_ms(waited, 0.5)} ms;  POST + SSE stream to `end` p50 "
                  f"{_ms(streamed, 0.5)} ms  (n={args.finals})")
            # new images: toys renders the previous steps did not upload (the id is the bytes' hash)
            combos = [(i % 6, 10 + i, (3 * i) % 10) for i in range(args.uploads)]
            ready = [upload_ready(client, toy_png(*c, res)) for c in combos]
            print(f"upload -> ready (encode + inversion at {model['default_steps']} steps): p50 {_ms(ready, 0.5)} ms  "
                  f"p95 {_ms(ready, 0.95)} ms  (n={args.uploads})")


if __name__ == "__main__":
    main()
