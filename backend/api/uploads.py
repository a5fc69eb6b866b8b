"""Checking what clients send before anything is stored: images and batch zips (request bodies and batch specs:
`backend.api.bodies`).

Pure functions on bytes that raise `UploadError` with the HTTP status the API should answer and a
message for people; whatever the input, they return a value or raise `UploadError` (a 4xx), never
anything else.

- Images: PNG / JPEG / WebP, at most `max_pixels`, decodable to the end. A JPEG is decoded at 1/8
  scale (the whole stream is still read, so truncation and corruption are found); PNG and WebP are
  decoded whole, at most `DGAE_MAX_CONCURRENT_DECODES` at once per process (`decoders`).
- Zips: by declared and real sizes; encrypted members, links, unsafe or duplicate names are refused.
"""

from __future__ import annotations

import io
import lzma
import struct
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, UnidentifiedImageError

FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
DECODE_BLOCK_BYTES = 256 * 1024 * 1024  # Pillow's allocation block while checking images (see `decoders`)


class UploadError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


# --- images ---

@dataclass(frozen=True)
class ImageFacts:
    format: str
    width: int
    height: int


@lru_cache
def decoders(count: int) -> ThreadPoolExecutor:
    """The threads that decode images, `count` of them for the whole process (one pool per setting value).

    A pool, not a semaphore: memory a thread frees goes back to that thread's malloc arena, not always to the
    system, so decoding in any of the server's 40 request threads would leave up to 40 image buffers resident;
    in `count` threads it is at most `count`, reused by the next decode. Pillow's blocks are made large enough
    for a whole image (PILLOW_BLOCK_SIZE, default 16 MiB): one allocation over 32 MiB, which glibc always maps
    on its own and returns to the system when the image is freed."""
    Image.core.set_block_size(max(Image.core.get_block_size(), DECODE_BLOCK_BYTES))
    return ThreadPoolExecutor(max_workers=count, thread_name_prefix="dgae-decode")


def check_image(data: bytes, *, max_pixels: int, name: str = "the file", max_decodes: int | None = None) -> ImageFacts:
    """PNG / JPEG / WebP, at most `max_pixels` pixels, and decodable to the end.

    The pixel count is checked from the header, before any decoding. A JPEG is then decoded at 1/8
    scale; PNG and WebP cannot be decoded smaller, so they are decoded whole (width x height x 4 bytes),
    with `max_decodes`: in one of that many threads of this process (DGAE_MAX_CONCURRENT_DECODES)."""
    if not data:
        raise UploadError(422, f"{name} is empty")
    try:
        im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as e:
        raise UploadError(413, f"{name}: too many pixels (decompression bomb?): {e}") from None
    except UnidentifiedImageError:
        raise UploadError(415, f"{name} is not an image this service reads; upload PNG, JPEG or WebP") from None
    except (OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError, KeyError, TypeError) as e:
        raise UploadError(422, f"{name} is a corrupt image: {e}") from None
    with im:
        if im.format not in FORMATS:
            raise UploadError(415, f"{name} is {im.format}; upload PNG, JPEG or WebP")
        w, h = im.size
        if w < 1 or h < 1:
            raise UploadError(422, f"{name} has no pixels ({w} x {h})")
        if w * h > max_pixels:
            raise UploadError(413, f"{name} is {w} x {h} = {w * h} pixels, more than the limit of {max_pixels} "
                                   "(DGAE_MAX_IMAGE_PIXELS)")
        try:
            if im.format == "JPEG":  # DCT scaling: every block is still decoded, the output is 1/64 the size
                im.draft(None, (max(1, w // 8), max(1, h // 8)))
            if max_decodes:
                decoders(max_decodes).submit(im.load).result()
            else:
                im.load()
        except Image.DecompressionBombError as e:
            raise UploadError(413, f"{name}: too many pixels (decompression bomb?): {e}") from None
        except (OSError, ValueError, SyntaxError, EOFError, MemoryError, struct.error, IndexError, KeyError, TypeError,
                ZeroDivisionError) as e:
            raise UploadError(422, f"{name} is a corrupt or truncated image: {e}") from None
        return ImageFacts(im.format, w, h)


# --- zips ---

# what zipfile and its decompressors raise on hostile bytes (bz2 raises OSError)
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError,
               struct.error, IndexError, KeyError, OverflowError, TypeError, AttributeError, zlib.error, lzma.LZMAError)
_S_IFMT, _S_IFLNK, _S_IFREG = 0o170000, 0o120000, 0o100000


def _unsafe_name(name: str) -> bool:
    """Absolute, with a drive, or with a `..` part: never a name to resolve a file by."""
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":") or "\0" in name


def _skipped(info: zipfile.ZipInfo) -> bool:
    """Folders, macOS resource forks and hidden files: not images, not errors."""
    return info.is_dir() or info.filename.startswith("__MACOSX/") or info.filename.rsplit("/", 1)[-1].startswith(".")


def read_zip(data: bytes, *, max_member_bytes: int, max_total_bytes: int, max_files: int) -> dict[str, bytes]:
    """A zip of images -> {path inside the zip: bytes}; rejects zip bombs by declared and real sizes, encrypted
    members, symbolic links, names that are absolute or contain `..`, and a name that occurs twice."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except _ZIP_ERRORS as e:
        raise UploadError(422, f"the batch file is not a valid zip: {e}") from None
    out: dict[str, bytes] = {}
    with zf:
        seen: set[str] = set()
        members = []
        for info in infos:
            name = info.filename
            if not name:
                raise UploadError(422, "the zip holds a file without a name")
            if name in seen:
                raise UploadError(422, f"the zip holds {name!r} twice; names must be unique")
            seen.add(name)
            if _unsafe_name(name):
                raise UploadError(422, f"{name!r} in the zip is not a relative name (it is absolute or has '..')")
            kind = (info.external_attr >> 16) & _S_IFMT
            if kind == _S_IFLNK:
                raise UploadError(422, f"{name!r} in the zip is a symbolic link; put the image itself in the zip")
            if _skipped(info):
                continue
            if kind not in (0, _S_IFREG):
                raise UploadError(422, f"{name!r} in the zip is not a regular file")
            if info.flag_bits & 0x1:
                raise UploadError(422, f"{name!r} in the zip is encrypted (password-protected); zip the images without a password")
            members.append(info)
        if len(members) > max_files:
            raise UploadError(413, f"the zip holds {len(members)} files, more than the limit of {max_files}")
        total = 0
        for info in members:
            if info.file_size > max_member_bytes:
                raise UploadError(413, f"{info.filename} in the zip is {info.file_size} bytes, more than the limit of "
                                       f"{max_member_bytes} (DGAE_MAX_UPLOAD_BYTES)")
            if total + info.file_size > max_total_bytes:
                raise UploadError(413, f"the zip unpacks to more than {max_total_bytes} bytes (DGAE_MAX_ZIP_BYTES)")
            try:
                with zf.open(info) as f:
                    content = f.read(min(max_member_bytes, max_total_bytes - total) + 1)
            except _ZIP_ERRORS as e:
                raise UploadError(422, f"{info.filename} in the zip cannot be read: {e}") from None
            if len(content) > max_member_bytes:  # the header lied about the size
                raise UploadError(413, f"{info.filename} in the zip is larger than {max_member_bytes} bytes")
            total += len(content)
            if total > max_total_bytes:
                raise UploadError(413, f"the zip unpacks to more than {max_total_bytes} bytes (DGAE_MAX_ZIP_BYTES)")
            out[info.filename] = content
    if not out:
        raise UploadError(422, "the zip holds no files")
    return out
