"""Memory under large uploads (prints numbers; not a test).

    python benchmarks/bench_big_uploads.py [--uploads 8] [--kind png|jpeg]       # starts its own stack
    python benchmarks/bench_big_uploads.py --url http://127.0.0.1:8000 --api-pid PID --worker-pid PID

Sends N concurrent uploads of images just under the pixel limit (DGAE_MAX_IMAGE_PIXELS, or --pixels),
waits until the worker has encoded them all, and prints the peak resident memory above idle of the
API process and of the worker process. Each image is one flat colour, so the files are small (a few
hundred KB) while their decoded size is what the limit allows: the case where memory, not bandwidth,
is what an attacker spends. Target: under 500 MB each with 8 uploads.

Peak = the kernel's high-water mark (VmHWM, reset through /proc/<pid>/clear_refs before the uploads)
minus VmRSS at idle; a sampler thread also polls VmRSS every 10 ms in case the reset is not allowed.
Without --url it starts a worker and an API process with the model in --model (default models/toys-32)
on the Redis at DGAE_TEST_REDIS_URL (default redis://127.0.0.1:6379/12), in a namespace of its own.

Measured on the 2-core AMD EPYC VM (no GPU, shared with other work), 8 concurrent uploads, one run each
(peak RSS above idle; idle: API 67-77 MB, worker 281 MB):

    code                              images                     API       worker
    before (full decodes, 40 Mpx)     PNG 6292 x 6292 = 39.6 Mpx  1070 MB   1230 MB
    before                            PNG 3979 x 3979 = 15.8 Mpx   399 MB    485 MB
    after (DGAE_MAX_IMAGE_PIXELS=40M)  PNG 39.6 Mpx               298 MB    186 MB
    after (default limit 16 Mpx)      PNG 15.8 Mpx                 111 MB     97 MB
    after                             JPEG 15.8 Mpx                 13 MB     34 MB
"""

from __future__ import annotations

import argparse
import io
import math
import os
import struct
import sys
import threading
import time
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MB = 1024 * 1024


def flat_png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    """An RGB PNG of one colour: the first row, then rows that say "same as above" (filter Up)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    z = zlib.compressobj(9)
    parts = [z.compress(b"\0" + bytes(colour) * width)]
    row = b"\2" + bytes(3 * width)
    parts += [z.compress(row) for _ in range(height - 1)]
    parts.append(z.flush())
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b""))


def flat_jpeg(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, format="JPEG", quality=75)
    return buf.getvalue()


def status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


class PeakRSS:
    """Peak RSS of some processes above their RSS at the start."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids, self.idle, self.polled, self.hwm_reset = pids, {}, {}, {}
        for name, pid in pids.items():
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")
                self.hwm_reset[name] = True
            except OSError:
                self.hwm_reset[name] = False
            self.idle[name] = self.polled[name] = status(pid, "VmRSS")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.01):
            for name, pid in self.pids.items():
                try:
                    self.polled[name] = max(self.polled[name], status(pid, "VmRSS"))
                except (OSError, KeyError):
                    pass

    def stop(self) -> dict[str, tuple[int, int]]:
        """-> {name: (idle RSS, peak above idle)}."""
        self._stop.set()
        self._thread.join()
        out = {}
        for name, pid in self.pids.items():
            peak = self.polled[name]
            if self.hwm_reset[name]:
                peak = max(peak, status(pid, "VmHWM"))
            out[name] = (self.idle[name], peak - self.idle[name])
        return out


def run(url: str, pids: dict[str, int], uploads: int, pixels: int, kind: str, timeout: float) -> None:
    side = math.isqrt(int(pixels * 0.99))
    make = flat_png if kind == "png" else flat_jpeg
    t = time.perf_counter()
    images = [make(side, side, tuple(uuid.uuid4().bytes[:3])) for _ in range(uploads)]
    print(f"{uploads} x {kind.upper()} {side} x {side} = {side * side / 1e6:.1f} Mpx each "
          f"({sum(map(len, images)) / uploads / 1024:.0f} KB per file; made in {time.perf_counter() - t:.1f} s)")
    time.sleep(1.0)  # let the processes settle before idle is read
    meter = PeakRSS(pids)

    def send(data: bytes) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=timeout) as c:
            return c.post("/api/images", files={"file": (f"big.{kind}", data, "application/octet-stream")})

    t = time.perf_counter()
    with ThreadPoolExecutor(uploads) as pool:
        answers = list(pool.map(send, images))
    upload_s = time.perf_counter() - t
    codes = [r.status_code for r in answers]
    ids = [r.json()["id"] for r in answers if r.status_code == 202]
    states: dict[str, str] = {}
    with httpx.Client(base_url=url, timeout=30) as c:
        deadline = time.monotonic() + timeout
        while ids and time.monotonic() < deadline:
            states = {i: c.get(f"/api/images/{i}").json()["status"] for i in ids}
            if all(s in ("ready", "failed") for s in states.values()):
                break
            time.sleep(0.2)
    encode_s = time.perf_counter() - t
    result = meter.stop()
    print(f"answers: {codes}; encoded: {sorted(states.values())}; uploads took {upload_s:.1f} s, "
          f"all encoded after {encode_s:.1f} s")
    for name, (idle, peak) in result.items():
        print(f"{name:>6}: idle {idle / MB:6.0f} MB, peak above idle {peak / MB:6.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="a running stack (else one is started)")
    ap.add_argument("--api-pid", type=int, help="with --url: the API process")
    ap.add_argument("--worker-pid", type=int, help="with --url: the worker process")
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "toys-32")
    ap.add_argument("--uploads", type=int, default=8)
    ap.add_argument("--kind", choices=("png", "jpeg"), default="png")
    ap.add_argument("--pixels", type=int, default=None, help="pixels per image (default: 99%% of the limit)")
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()

    from core.settings import Settings

    pixels = args.pixels or Settings().max_image_pixels
    if args.url:
        if not (args.api_pid and args.worker_pid):
            ap.error("--url needs --api-pid and --worker-pid")
        run(args.url, {"api": args.api_pid, "worker": args.worker_pid}, args.uploads, pixels, args.kind, args.timeout)
        return

    from tests.stack import Stack

    os.environ.setdefault("DGAE_TORCH_THREADS", "1")
    with Stack(args.model, env={"DGAE_VISIBILITY_TIMEOUT": "3600", "DGAE_HEARTBEAT_TTL": "15"}) as stack:
        worker = stack.start_worker()
        url = stack.start_api()
        stack.wait_healthy(url, timeout=180)
        api = next(p for p in stack.procs if "uvicorn" in p.args)
        print(f"stack at {url}: API pid {api.pid}, worker pid {worker.pid}; pixel limit {pixels}")
        run(url, {"api": api.pid, "worker": worker.pid}, args.uploads, pixels, args.kind, args.timeout)


if __name__ == "__main__":
    main()
