"""Bad input gets a 4xx with a clear JSON message; never a 500, never a dead worker."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from tests.service.conftest import UPLOAD_LIMIT
from tests.service.helpers import toy_png, upload


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels with a tiny (bogus) IDAT: a decompression bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _detail(r) -> str:
    body = r.json()
    assert isinstance(body["detail"], str) and body["detail"], body
    return body["detail"]


@pytest.mark.parametrize("name,data,status,words", [
    ("notes.txt", b"just some text, not an image", 415, "PNG, JPEG or WebP"),
    ("bad.png", b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 40, 422, "corrupt"),
    ("truncated.png", toy_png(1, 1, 1, size=64)[:300], 422, "truncated"),
    ("bomb.png", _png_header_only(30_000, 30_000), 413, "pixels"),
    ("big.png", _png_header_only(8_000, 8_000), 413, "pixels"),
    ("empty.png", b"", 422, "empty"),
])
def test_bad_uploads(client, name, data, status, words):
    r = upload(client, data, name)
    assert r.status_code == status, r.text
    assert words in _detail(r)
    assert name not in _detail(r)  # one file per request: the caller (the UI) names it, the message does not again


def test_gif_is_refused(client):
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="GIF")
    r = upload(client, buf.getvalue(), "x.gif")
    assert r.status_code == 415 and "GIF" in _detail(r)


def test_oversize_upload(client):
    r = upload(client, b"\x89PNG" + b"\0" * (UPLOAD_LIMIT + 200_000), "huge.png")
    assert r.status_code == 413 and "limit" in _detail(r)


def test_missing_file_field(client):
    r = client.post("/api/images", data={"nothing": "here"})
    assert r.status_code == 422 and "file" in _detail(r)


def test_unknown_ids(client):
    missing = "0" * 64
    for path in (f"/api/images/{missing}", f"/api/images/{missing}/image.png", f"/api/images/{missing}/original",
                 "/api/images/../../etc/passwd", "/api/jobs/" + "1" * 32, "/api/jobs/nope/result.png",
                 "/api/batches/" + "2" * 32, f"/api/batches/{'2' * 32}/results.zip"):
        r = client.get(path)
        assert r.status_code == 404, (path, r.text)
        assert "not found" in _detail(r) or r.json()["detail"] == "Not Found"
    assert client.delete("/api/jobs/" + "3" * 32).status_code == 404
    r = client.post("/api/recombine", json={"base": missing})
    assert r.status_code == 404 and missing in _detail(r)


@pytest.mark.parametrize("patch,words", [
    ({"attributes": {"background": {"donor": None, "weight": 5}}}, "weight"),
    ({"attributes": {"background": {"donor": None, "weight": -3.5}}}, "weight"),
    ({"attributes": {"background": {"donor": None, "weight": "lots"}}}, "weight"),
    ({"attributes": {"colour": {"donor": None, "weight": 1}}}, "unknown attribute"),
    ({"steps": 0}, "steps"),  # 1 step is allowed: the schedule runs 1 .. T with its default spacing
    ({"steps": 1001}, "steps"),
    ({"sampler": "euler"}, "sampler"),
    ({"x_T": "mine"}, "x_T"),
    ({"seed": -1}, "seed"),
])
def test_invalid_recombine(client, images, patch, words):
    r = client.post("/api/recombine", json={"base": images[0], **patch})
    assert r.status_code == 422, r.text
    assert words in _detail(r)


def test_non_finite_weight_and_bad_json(client, images):
    body = '{"base": "BASE", "attributes": {"background": {"donor": null, "weight": NaN}}}'.replace("BASE", images[0])
    r = client.post("/api/recombine", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "finite" in _detail(r)
    r = client.post("/api/recombine", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and _detail(r)
    r = client.post("/api/interpolate", json={"base": images[0], "donor": images[1], "frames": 17})
    assert r.status_code == 422 and "frames" in _detail(r)


def test_worker_survives_bad_input(client, images):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["workers"] == 1
    assert client.post("/api/recombine?wait=30", json={"base": images[0]}).status_code == 200
