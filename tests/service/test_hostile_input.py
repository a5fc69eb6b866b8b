"""Hostile input against the real stack: every request below must end as a 4xx with a JSON `detail`
(never a 500), a rejected batch stores nothing, bodies are limited while they stream in, large
images do not blow up the API or the worker, and what the model sees is the upright, opaque image.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import struct
import time
import uuid
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis
from PIL import Image, PngImagePlugin

from core.settings import Settings
from tests.service.helpers import upload, wait_image
from tests.stack import Stack
from tests.zips import make_zip, patch_member

MB = 1024 * 1024


# --- helpers ---

def _png(size: tuple[int, int] = (24, 24)) -> bytes:
    """A small PNG no other test uploads (a random colour and a unique text chunk)."""
    tag = uuid.uuid4()
    info = PngImagePlugin.PngInfo()
    info.add_text("test", tag.hex)
    buf = io.BytesIO()
    Image.new("RGB", size, tuple(tag.bytes[:3])).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def _post_batch(client: httpx.Client, archive: bytes, spec: str) -> httpx.Response:
    return client.post("/api/batches", files={"file": ("imgs.zip", archive, "application/zip"), "spec": ("spec", spec.encode())})


def _detail(r: httpx.Response) -> str:
    assert r.headers["content-type"].startswith("application/json"), (r.status_code, r.text[:300])
    body = r.json()
    assert isinstance(body.get("detail"), str) and body["detail"], body
    return body["detail"]


def _rejected(r: httpx.Response) -> str:
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:500])
    return _detail(r)


def _traces(stack: Stack, data: bytes) -> list[str]:
    """Where an image's bytes left a trace: the store, a Redis key or set, a queued Celery message."""
    image_id = hashlib.sha256(data).hexdigest()
    found = [str(p) for p in [Path(stack.env["DGAE_STORE_DIR"]) / "images" / image_id] if p.exists()]
    r = redis.Redis.from_url(stack.env["DGAE_REDIS_URL"], decode_responses=True)
    for key in r.scan_iter(match=f"{stack.name}:*", count=1000):
        kind = r.type(key)
        if image_id in key or (kind == "zset" and r.zscore(key, image_id) is not None):
            found.append(key)
        elif kind == "list":
            for message in r.lrange(key, 0, -1):
                try:
                    body = base64.b64decode(json.loads(message)["body"]).decode(errors="replace")
                except (ValueError, KeyError, TypeError):
                    body = message
                if image_id in body or image_id in message:
                    found.append(f"{key} (queued message)")
    return found


def _pid(stack: Stack, word: str) -> int:
    return next(p.pid for p in stack.procs if p.poll() is None and any(word in str(a) for a in p.args))


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


class Peak:
    """Peak RSS of a process above its RSS now: the kernel's high-water mark, reset first (clear_refs 5)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        self.start = _status(pid, "VmRSS")

    def growth(self) -> int:
        return _status(self.pid, "VmHWM") - self.start


# --- 3. batch specs and zips that answered 500 ---

SPECS = {
    "csv extra cell": "base,background\na.png,b.png,extra\n",
    "csv field over 131072": "base,background\n" + "a" * 131_073 + ",b.png\n",
    "csv bare CR": "base,background\na.png,b\rx.png\n",
    "csv NUL": "base,background\na.png\x00,b.png\n",
    "json attributes a list": json.dumps([{"base": "a.png", "attributes": ["background"]}]),
    "json attributes a string": json.dumps([{"base": "a.png", "attributes": "background"}]),
    "json 100000 deep": "[" * 100_000 + "]" * 100_000,
    "json items 20000 deep": '{"items": ' + "[" * 20_000 + "]" * 20_000 + "}",
    "json donor a list": json.dumps([{"base": "a.png", "attributes": {"background": {"donor": ["b.png"]}}}]),
    "json base an object": json.dumps([{"base": {"file": "a.png"}}]),
    "json items not objects": json.dumps([1, None, "a.png"]),
    "csv header only": "base,background\n",
}


@pytest.mark.parametrize("spec", list(SPECS.values()), ids=list(SPECS))
def test_bad_batch_specs(client, stack, spec):
    a, b = _png(), _png()
    r = _post_batch(client, make_zip([("a.png", a), ("b.png", b)]), spec)
    _rejected(r)
    assert r.status_code == 422
    assert _traces(stack, a) == [] and _traces(stack, b) == []


def _zip_cases() -> dict[str, tuple[bytes, str, list[bytes]]]:
    a, b = _png(), _png()
    link = zipfile.ZipInfo("link.png")
    link.create_system, link.external_attr = 3, 0o120777 << 16
    bad_crc = make_zip([("a.png", a), ("b.png", b)])
    bad_crc = bad_crc.replace(b[40:60], bytes(20))
    return {  # zip, spec, the images that must leave no trace
        "encrypted member": (patch_member(make_zip([("a.png", a), ("b.png", b)]), "a.png", flags=0x1), "base\na.png\nb.png\n",
                             [a, b]),
        "bad CRC": (bad_crc, "base\na.png\nb.png\n", [a, b]),
        "compression method 99": (patch_member(make_zip([("a.png", a), ("b.png", b)]), "b.png", method=99), "base\na.png\nb.png\n",
                                  [a, b]),
        "symlink member": (make_zip([("a.png", a), (link, b"../../../etc/passwd")]), "base\na.png\nlink.png\n", [a]),
        "directory member named": (make_zip([("a.png", a), ("dir/", b"")]), "base\na.png\ndir/\n", [a]),
        "duplicate names": (make_zip([("a.png", a), ("a.png", b)]), "base\na.png\n", [a, b]),
        "name with ..": (make_zip([("../a.png", a), ("b.png", b)]), "base\nb.png\n../a.png\n", [a, b]),
        "absolute name": (make_zip([("/tmp/a.png", a), ("b.png", b)]), "base\nb.png\n", [a, b]),
    }


ZIP_CASES = ["encrypted member", "bad CRC", "compression method 99", "symlink member", "directory member named",
             "duplicate names", "name with ..", "absolute name"]


@pytest.mark.parametrize("case", ZIP_CASES)
def test_bad_zips(client, stack, case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        archive, spec, images = _zip_cases()[case]
    _rejected(_post_batch(client, archive, spec))
    assert [t for img in images for t in _traces(stack, img)] == []


# --- 4. a rejected batch stores and queues nothing ---

@pytest.mark.parametrize("spec,status,words", [
    ("base,background\na.png,b.png\nb.png,missing.png\n", 422, "missing.png"),
    ('[{"base": "a.png"}, {"base": "b.png", "attributes": {"background": {"donor": "a.png", "weight": 7}}}]', 422, "items[1]"),
    ('[{"base": "a.png"}, {"base": "b.png", "attributes": {"colour": {"donor": "a.png"}}}]', 422, "colour"),
    ('[{"base": "a.png", "sampler": "euler"}]', 422, "sampler"),
    ('[{"base": "a.png"}, {"base": "notes.txt"}]', 415, "notes.txt"),
    ('[{"base": "a.png"}, {"base": "broken.png"}]', 422, "broken.png"),
    ('[{"base": "a.png"}, {"base": "' + "0" * 64 + '"}]', 404, "0" * 64),
], ids=["unknown file", "bad weight", "unknown attribute", "unknown sampler", "not an image", "corrupt image", "foreign id"])
def test_rejected_batch_stores_nothing(client, stack, spec, status, words):
    a, b = _png(), _png()
    archive = make_zip([("a.png", a), ("b.png", b), ("notes.txt", b"hello"), ("broken.png", _png()[:60])])
    r = _post_batch(client, archive, spec)
    assert r.status_code == status, r.text
    assert words in _detail(r)
    assert _traces(stack, a) == [] and _traces(stack, b) == []
    assert client.get(f"/api/images/{hashlib.sha256(a).hexdigest()}").status_code == 404


def test_accepted_batch_stores_the_named_images(client, stack):
    a, b, unused = _png(), _png(), _png()
    r = _post_batch(client, make_zip([("in/a.png", a), ("b.png", b), ("unused.png", unused)]), "base,background\na.png,b.png\n")
    assert r.status_code == 202, r.text
    assert _traces(stack, a) and _traces(stack, b)
    assert _traces(stack, unused) == []  # a file no item names is neither stored nor encoded


# --- 5. body limits while streaming, JSON size and depth ---

def test_chunked_json_body_is_cut_off(stack):
    """A 200 MB JSON batch without Content-Length: 413 at the JSON limit, the API's memory does not follow."""
    api = Peak(_pid(stack, "uvicorn"))

    def body() -> Iterator[bytes]:
        yield b'{"items": [{"base": "'
        for _ in range(200):
            yield b"a" * MB
        yield b'"}]}'

    start = time.monotonic()
    r = httpx.post(f"{stack.url}/api/batches", content=body(), headers={"content-type": "application/json"}, timeout=120)
    elapsed = time.monotonic() - start
    assert r.status_code == 413, r.text[:300]
    assert "limit" in _detail(r)
    assert elapsed < 20, elapsed
    assert api.growth() < 100 * MB, f"the API grew by {api.growth() / MB:.0f} MB"


@pytest.mark.parametrize("path", ["/api/images", "/api/batches"])
def test_chunked_multipart_is_cut_off_quickly(stack, path):
    """A chunked multipart upload over the limit is answered 413 while the client is still sending."""
    boundary = uuid.uuid4().hex
    limit = 1_000_000 if path == "/api/images" else Settings().max_zip_bytes

    def body() -> Iterator[bytes]:
        yield (f"--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"x.zip\"\r\n"
               "content-type: application/octet-stream\r\n\r\n").encode()
        sent = 0
        while sent < limit + 8 * MB:  # fast past the limit ...
            yield b"\0" * (256 * 1024)
            sent += 256 * 1024
        for _ in range(150):  # ... then slowly: 15 s more if the server waits for the end
            time.sleep(0.1)
            yield b"\0" * (64 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    start = time.monotonic()
    r = httpx.post(f"{stack.url}{path}", content=body(), timeout=120,
                   headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    elapsed = time.monotonic() - start
    assert r.status_code == 413, r.text[:300]
    _detail(r)
    assert elapsed < 10, f"answered after {elapsed:.1f} s: the server waited for the whole body"


def test_json_bodies_have_a_json_sized_limit(client, images):
    pad = "x" * (Settings().max_json_bytes + 1000)
    r = client.post("/api/recombine", json={"base": images[0], "pad": pad})
    assert r.status_code == 413 and "limit" in _detail(r)
    r = client.post("/api/batches", json={"items": [{"base": images[0], "pad": pad}]})
    assert r.status_code == 413 and "limit" in _detail(r)


@pytest.mark.parametrize("path", ["/api/recombine", "/api/interpolate", "/api/batches"])
def test_deep_json_is_refused(client, path):
    body = '{"base": ' + "[" * 50_000 + "]" * 50_000 + "}"
    r = client.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text[:300]
    assert "deep" in _detail(r)


# --- 6. images near the pixel limit ---

def _flat_png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    """A width x height RGB PNG of one colour, a few hundred KB: rows after the first say "same as above"."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    z = zlib.compressobj(9)
    parts = [z.compress(b"\0" + bytes(colour) * width)]
    row = b"\2" + bytes(3 * width)  # filter "Up", no change
    parts += [z.compress(row) for _ in range(height - 1)]
    parts.append(z.flush())
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b""))


@pytest.mark.slow
def test_images_near_the_pixel_limit_keep_memory_bounded(client, stack):
    """Four uploads just under DGAE_MAX_IMAGE_PIXELS at once: the API and the worker each grow < 250 MB."""
    side = math.isqrt(int(Settings().max_image_pixels * 0.99))
    pngs = [_flat_png(side, side, (40 * i, 200 - 30 * i, uuid.uuid4().bytes[0])) for i in range(4)]
    api, worker = Peak(_pid(stack, "uvicorn")), Peak(_pid(stack, "celery"))

    def send(data: bytes) -> httpx.Response:
        with httpx.Client(base_url=stack.url, timeout=120) as c:
            return upload(c, data, "big.png")

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, pngs))
    assert [r.status_code for r in answers] == [202] * 4, [r.text for r in answers]
    api_growth = api.growth()
    states = [wait_image(client, r.json()["id"], timeout=180)["status"] for r in answers]
    assert states == ["ready"] * 4
    assert api_growth < 250 * MB, f"the API grew by {api_growth / MB:.0f} MB decoding 4 x {side} x {side}"
    assert worker.growth() < 250 * MB, f"the worker grew by {worker.growth() / MB:.0f} MB encoding 4 x {side} x {side}"


# --- 7. what the model sees: EXIF orientation applied, transparency on white ---

def test_model_sees_the_upright_opaque_image(client):
    # stored 64 x 32, left half red and right half blue; EXIF orientation 6: shown turned 90 degrees clockwise,
    # so upright it is 32 x 64 with red on top and blue below
    stored = Image.new("RGB", (64, 32), (220, 20, 20))
    stored.paste((20, 20, 220), (32, 0, 64, 32))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    stored.save(buf, format="JPEG", quality=95, exif=exif.tobytes())
    rotated = buf.getvalue()
    # transparent everywhere but a black square in the middle; the transparent pixels hide bright green
    rgba = Image.new("RGBA", (32, 32), (0, 255, 0, 0))
    rgba.paste((0, 0, 0, 255), (8, 8, 24, 24))
    buf = io.BytesIO()
    rgba.save(buf, format="PNG")
    transparent = buf.getvalue()
    ids = [upload(client, data, name).json()["id"] for data, name in ((rotated, "rotated.jpg"), (transparent, "alpha.png"))]
    for image_id in ids:
        assert wait_image(client, image_id)["status"] == "ready"
    seen = [Image.open(io.BytesIO(client.get(f"/api/images/{i}/image.png").content)).convert("RGB") for i in ids]
    r = seen[0].size[0]
    top_right, bottom_left = seen[0].getpixel((r - 3, 2)), seen[0].getpixel((2, r - 3))
    assert top_right[0] > 150 and top_right[2] < 100, f"top right should be red (upright image), is {top_right}"
    assert bottom_left[2] > 150 and bottom_left[0] < 100, f"bottom left should be blue, is {bottom_left}"
    corner, centre = seen[1].getpixel((0, 0)), seen[1].getpixel((r // 2, r // 2))
    assert min(corner) > 230, f"transparent pixels should be white, are {corner}"
    assert max(centre) < 30, f"the opaque square should stay black, is {centre}"
