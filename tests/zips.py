"""Zip files for the tests, and their headers patched the way hostile zips lie (shared by backend and service tests)."""

from __future__ import annotations

import io
import struct
import zipfile


def make_zip(files: list[tuple[str | zipfile.ZipInfo, bytes]], method: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in files:
            zf.writestr(name, data)
    return buf.getvalue()


def central_offset(data: bytes, name: str) -> int:
    """Where `name`'s central-directory header starts."""
    pos = data.index(b"PK\x01\x02")
    while True:
        name_len, extra_len, comment_len = struct.unpack("<HHH", data[pos + 28:pos + 34])
        if data[pos + 46:pos + 46 + name_len].decode() == name:
            return pos
        pos += 46 + name_len + extra_len + comment_len


def patch_member(data: bytes, name: str, *, flags: int | None = None, method: int | None = None) -> bytes:
    """`name`'s general-purpose flags (0x1: encrypted) or compression method, set in both of its headers."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        local = zf.getinfo(name).header_offset
    for off, flag_at, method_at in ((local, 6, 8), (central_offset(data, name), 8, 10)):
        if flags is not None:
            out[off + flag_at:off + flag_at + 2] = struct.pack("<H", flags)
        if method is not None:
            out[off + method_at:off + method_at + 2] = struct.pack("<H", method)
    return bytes(out)
