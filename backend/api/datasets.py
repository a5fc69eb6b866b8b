"""Checking an uploaded dataset (a zip or tar of images with labels.csv) before anything of it is stored.

Pure functions on an archive that raise `UploadError` (the HTTP status and a message naming the rows or files
concerned) or return the checked dataset; whatever the input, never anything else.

The layout: `labels.csv` at the archive's root (or in its one top folder), with a `file` column (the image's path
relative to labels.csv) and one column per attribute (values are strings); the images anywhere below it. Every
listed file must be there and be a PNG, JPEG or WebP of at least the asked resolution on each side; every image
must be listed. The labels must make GROUP(k,1) batches (PAPER.md, section 3): every attribute has at least two
values, every value at least `min_per_value` images, and every image a partner sharing exactly one of its values.
"""

from __future__ import annotations

import csv
import hashlib
import io
import tarfile
from dataclasses import dataclass, field

import numpy as np

from backend.api.uploads import FORMATS, UploadError, check_image, read_zip

MAX_ATTRIBUTES = 10  # z_dis has 100 dimensions split evenly over the attributes: at least 10 for each
LABELS = "labels.csv"


@dataclass(frozen=True)
class CheckedDataset:
    files: dict[str, bytes]  # path relative to labels.csv -> image bytes, in labels.csv's order
    attributes: tuple[str, ...]
    labels: dict[str, tuple[str, ...]]  # path -> its value of each attribute
    values: dict[str, tuple[str, ...]]  # attribute -> its values, in order of first appearance
    counts: dict[str, dict[str, int]]  # attribute -> value -> images
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (width, height)
    warnings: tuple[str, ...] = ()


def read_archive(data: bytes, *, max_member_bytes: int, max_total_bytes: int, max_files: int) -> dict[str, bytes]:
    """A zip or a tar (plain, gz, bz2, xz) -> {path: bytes}; the zip checks of read_zip, and for a tar the same:
    links, devices, absolute or `..` names and names twice are refused, sizes are bounded before reading."""
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        return read_zip(data, max_member_bytes=max_member_bytes, max_total_bytes=max_total_bytes, max_files=max_files)
    try:
        tf = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
        members = tf.getmembers()
    except (tarfile.TarError, OSError, EOFError, ValueError) as e:
        raise UploadError(422, f"the dataset is neither a zip nor a tar archive ({e}); send a .zip or .tar(.gz) of the "
                               f"images with {LABELS}") from None
    out: dict[str, bytes] = {}
    total = 0
    with tf:
        files = [m for m in members if not m.isdir()]
        if len(files) > max_files:
            raise UploadError(413, f"the archive holds {len(files)} files, more than the limit of {max_files}")
        for m in files:
            name = m.name.removeprefix("./")
            if name.startswith("/") or ".." in name.split("/") or "\0" in name:
                raise UploadError(422, f"{m.name!r} in the archive is not a relative name (it is absolute or has '..')")
            if m.issym() or m.islnk():
                raise UploadError(422, f"{m.name!r} in the archive is a link; put the file itself in the archive")
            if not m.isfile():
                raise UploadError(422, f"{m.name!r} in the archive is not a regular file")
            if name in out:
                raise UploadError(422, f"the archive holds {name!r} twice; names must be unique")
            if name.rsplit("/", 1)[-1].startswith(".") or name.startswith("__MACOSX/"):
                continue
            if m.size > max_member_bytes:
                raise UploadError(413, f"{name} in the archive is {m.size} bytes, more than the limit of {max_member_bytes}")
            total += m.size
            if total > max_total_bytes:
                raise UploadError(413, f"the archive unpacks to more than {max_total_bytes} bytes (DGAE_MAX_DATASET_BYTES)")
            f = tf.extractfile(m)
            out[name] = f.read(m.size + 1) if f is not None else b""
    if not out:
        raise UploadError(422, "the archive holds no files")
    return out


def _labels_file(files: dict[str, bytes]) -> tuple[str, str]:
    """(the labels.csv path, the folder the image paths are relative to, "" or "top/")."""
    found = sorted(p for p in files if p.rsplit("/", 1)[-1] == LABELS)
    top = [p for p in found if p.count("/") <= 1]
    if len(top) != 1:
        where = f"; found {found[:5]}" if found else ""
        raise UploadError(422, f"the archive needs one {LABELS} at its root (or in its one top folder){where}: a "
                               f"'file' column with each image's path relative to it and one column per attribute, "
                               "e.g. 'file,colour,shape' then 'img/0001.png,red,cube'; one folder per value is not "
                               "needed")
    path = top[0]
    return path, path[: -len(LABELS)]


def _rows(text: str) -> tuple[tuple[str, ...], list[tuple[int, str, tuple[str, ...]]]]:
    try:
        rows = list(csv.reader(io.StringIO(text), strict=True))
    except csv.Error as e:
        raise UploadError(422, f"{LABELS} cannot be read as CSV: {e}") from None
    if not rows:
        raise UploadError(422, f"{LABELS} is empty")
    header = tuple(c.strip() for c in rows[0])
    if "file" not in header:
        raise UploadError(422, f"{LABELS} needs a 'file' column (the header has {list(header)})")
    if "" in header or len(set(header)) != len(header):
        raise UploadError(422, f"{LABELS}: every column needs a name of its own (the header has {list(header)})")
    attributes = tuple(c for c in header if c != "file")
    if not attributes:
        raise UploadError(422, f"{LABELS} has no attribute columns beside 'file'")
    if len(attributes) > MAX_ATTRIBUTES:
        raise UploadError(422, f"{LABELS} names {len(attributes)} attributes; at most {MAX_ATTRIBUTES} fit the latent "
                               f"(z_dis has 100 dimensions, at least 10 per attribute)")
    out = []
    for number, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise UploadError(422, f"{LABELS} row {number} has {len(cells)} cells; the header has {len(header)}")
        row = dict(zip(header, (c.strip() for c in cells)))
        empty = [a for a in attributes if not row[a]]
        if not row["file"] or empty:
            raise UploadError(422, f"{LABELS} row {number}: empty {'file' if not row['file'] else ', '.join(empty)}")
        out.append((number, row["file"], tuple(row[a] for a in attributes)))
    if not out:
        raise UploadError(422, f"{LABELS} lists no images")
    return attributes, out


def _listed(names: list[str], more: int) -> str:
    return ", ".join(names[:8]) + (f" and {more - 8} more" if more > 8 else "")


def check_dataset(archive: dict[str, bytes], *, resolution: int, min_per_value: int, max_pixels: int,
                  max_decodes: int | None = None) -> CheckedDataset:
    labels_path, root = _labels_file(archive)
    try:
        text = archive[labels_path].decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadError(422, f"{LABELS} is not UTF-8 text") from None
    attributes, rows = _rows(text)
    seen: dict[str, int] = {}
    for number, path, _ in rows:
        if path in seen:
            raise UploadError(422, f"{LABELS} lists {path!r} twice (rows {seen[path]} and {number})")
        seen[path] = number
    problems: list[str] = []  # every problem of the files and the labels, said at once
    present = {p[len(root):]: b for p, b in archive.items() if p.startswith(root) and p != labels_path}
    missing = [p for _, p, _ in rows if p not in present]
    if missing:
        problems.append(f"{len(missing)} file(s) listed in {LABELS} are not in the archive: "
                        f"{_listed(missing, len(missing))}")
    unlisted = sorted(p for p in present if p not in seen)
    if unlisted:
        problems.append(f"{len(unlisted)} file(s) in the archive are not listed in {LABELS}: "
                        f"{_listed(unlisted, len(unlisted))} (list them, or leave them out of the archive)")
    sizes, small = {}, []
    for _, path, _ in rows:
        if path not in present:
            continue
        facts = check_image(present[path], max_pixels=max_pixels, name=path, max_decodes=max_decodes)
        if facts.format not in FORMATS:
            raise UploadError(415, f"{path} is {facts.format}; datasets hold PNG, JPEG or WebP images")
        sizes[path] = (facts.width, facts.height)
        if min(facts.width, facts.height) < resolution:
            small.append(f"{path} ({facts.width} x {facts.height})")
    if small:
        problems.append(f"{len(small)} image(s) are smaller than the resolution asked ({resolution} px a side): "
                        f"{_listed(small, len(small))}")
    values = {a: tuple(dict.fromkeys(r[2][j] for r in rows)) for j, a in enumerate(attributes)}
    single = [f"{a} ({values[a][0]!r})" for a in attributes if len(values[a]) < 2]
    if single:
        problems.append(f"attribute(s) with a single value, which nothing can be learned from: {', '.join(single)}")
    counts = {a: {v: sum(1 for r in rows if r[2][j] == v) for v in values[a]} for j, a in enumerate(attributes)}
    few = [f"{a}={v!r} ({n})" for a in attributes for v, n in counts[a].items() if n < min_per_value]
    if few:
        problems.append(f"value(s) with fewer than {min_per_value} images: {_listed(few, len(few))}")
    lonely = _without_partner(rows, attributes, values) if not single else []
    if lonely:
        problems.append(f"{len(lonely)} image(s) have no partner that shares exactly one of their values, so no "
                        f"GROUP(k,1) batch can use them; add images that differ from each in all attributes "
                        f"but one: {_listed(lonely, len(lonely))}")
    if len(problems) == 1:
        raise UploadError(422, problems[0])
    if problems:
        raise UploadError(422, f"{len(problems)} problems: " + " ".join(f"({i}) {p}." for i, p in
                                                                        enumerate(problems, 1)))
    files = {path: present[path] for _, path, _ in rows}
    return CheckedDataset(files=files, attributes=attributes, labels={p: v for _, p, v in rows}, values=values,
                          counts=counts, sizes=sizes, warnings=tuple(_warnings(files, counts)))


def _without_partner(rows: list[tuple[int, str, tuple[str, ...]]], attributes: tuple[str, ...],
                     values: dict[str, tuple[str, ...]]) -> list[str]:
    """The images no other image shares exactly one value with ("path (a=x, b=y)")."""
    codes = np.array([[values[a].index(v) for a, v in zip(attributes, r[2])] for r in rows])  # (N, k)
    out = []
    for i in range(codes.shape[0]):
        shared = (codes == codes[i]).sum(1)
        shared[i] = 0
        if not (shared == 1).any():
            out.append(f"{rows[i][1]} ({', '.join(f'{a}={v}' for a, v in zip(attributes, rows[i][2]))})")
    return out


def _warnings(files: dict[str, bytes], counts: dict[str, dict[str, int]]) -> list[str]:
    out = []
    for a, c in counts.items():
        lo, hi = min(c.values()), max(c.values())
        if hi > 3 * lo:
            out.append(f"{a} is imbalanced: {max(c, key=c.get)!r} has {hi} images, {min(c, key=c.get)!r} {lo}")
    by_hash: dict[str, list[str]] = {}
    for path, data in files.items():
        by_hash.setdefault(hashlib.sha256(data).hexdigest(), []).append(path)
    twins = [paths for paths in by_hash.values() if len(paths) > 1]
    if twins:
        out.append(f"{sum(len(t) for t in twins)} images are byte-for-byte duplicates of another: "
                   + "; ".join(" = ".join(t[:3]) for t in twins[:5]))
    return out
