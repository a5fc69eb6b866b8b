"""Checking uploaded files before anything is stored: type, size, pixel count, integrity; batch zips.

Pure functions on bytes (PIL reads headers and decodes once to catch truncation); they raise
`UploadError` with the HTTP status the API should answer and a message for people.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


class UploadError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class ImageFacts:
    format: str
    width: int
    height: int


def check_image(data: bytes, *, max_pixels: int, name: str = "the file") -> ImageFacts:
    """PNG / JPEG / WebP, at most `max_pixels` pixels, and decodable to the end."""
    if not data:
        raise UploadError(422, f"{name} is empty")
    try:
        im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as e:
        raise UploadError(413, f"{name}: too many pixels (decompression bomb?): {e}") from None
    except UnidentifiedImageError:
        raise UploadError(415, f"{name} is not an image this service reads; upload PNG, JPEG or WebP") from None
    except (OSError, ValueError, SyntaxError) as e:
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
            im.load()
        except Image.DecompressionBombError as e:
            raise UploadError(413, f"{name}: too many pixels (decompression bomb?): {e}") from None
        except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as e:
            raise UploadError(422, f"{name} is a corrupt or truncated image: {e}") from None
        return ImageFacts(im.format, w, h)


def read_zip(data: bytes, *, max_member_bytes: int, max_total_bytes: int, max_files: int) -> dict[str, bytes]:
    """A zip of images -> {path inside the zip: bytes}; rejects zip bombs by declared and real sizes."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise UploadError(422, f"the batch file is not a valid zip: {e}") from None
    out: dict[str, bytes] = {}
    total = 0
    with zf:
        members = [i for i in zf.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")
                   and not i.filename.rsplit("/", 1)[-1].startswith(".")]
        if len(members) > max_files:
            raise UploadError(413, f"the zip holds {len(members)} files, more than the limit of {max_files}")
        for info in members:
            if info.file_size > max_member_bytes:
                raise UploadError(413, f"{info.filename} in the zip is {info.file_size} bytes, more than the limit of "
                                       f"{max_member_bytes} (DGAE_MAX_UPLOAD_BYTES)")
            total += info.file_size
            if total > max_total_bytes:
                raise UploadError(413, f"the zip unpacks to more than {max_total_bytes} bytes (DGAE_MAX_ZIP_BYTES)")
            try:
                with zf.open(info) as f:
                    content = f.read(max_member_bytes + 1)
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError) as e:
                raise UploadError(422, f"{info.filename} in the zip cannot be read: {e}") from None
            if len(content) > max_member_bytes:  # the header lied about the size
                raise UploadError(413, f"{info.filename} in the zip is larger than {max_member_bytes} bytes")
            out[info.filename] = content
    if not out:
        raise UploadError(422, "the zip holds no files")
    return out


def parse_spec(text: str, attributes: list[str]) -> list[dict[str, Any]]:
    """A batch spec: a JSON list of recombine bodies (or {"items": [...]}), or CSV.

    CSV header: `base`, then per attribute `<attr>` (donor file name, empty: keep the base's chunk)
    and optionally `<attr>_weight` (default 1); optional columns `x_T`, `seed`, `steps`, `sampler`.
    """
    stripped = text.strip()
    if not stripped:
        raise UploadError(422, "the batch spec is empty")
    if stripped[0] in "[{":
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as e:
            raise UploadError(422, f"the batch spec is not valid JSON: {e}") from None
        if isinstance(data, dict) and "items" in data:
            data = data["items"]
        if not isinstance(data, list):
            raise UploadError(422, "the JSON batch spec must be a list of recombine bodies (or {\"items\": [...]})")
        return data
    rows = list(csv.DictReader(io.StringIO(stripped)))
    if not rows or "base" not in (rows[0].keys()):
        raise UploadError(422, "the CSV batch spec needs a header row with a 'base' column")
    unknown = [c for c in rows[0] if c not in ("base", "x_T", "seed", "steps", "sampler")
               and c.removesuffix("_weight") not in attributes]
    if unknown:
        raise UploadError(422, f"unknown CSV columns {unknown}; the model's attributes are {attributes}")
    items = []
    for row in rows:
        item: dict[str, Any] = {"base": (row.get("base") or "").strip(), "attributes": {}}
        for a in attributes:
            donor = (row.get(a) or "").strip()
            weight = (row.get(f"{a}_weight") or "").strip()
            if donor:
                item["attributes"][a] = {"donor": donor, "weight": weight or 1.0}
        for col in ("x_T", "seed", "steps", "sampler"):
            if (row.get(col) or "").strip():
                item[col] = row[col].strip()
        items.append(item)
    return items
