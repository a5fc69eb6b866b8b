"""A user's own data: a folder of images plus a CSV `file,attr1,attr2,...`."""

from __future__ import annotations

import csv
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from diffusegae.data.dataset import LabeledImages
from diffusegae.data.groups import GroupSampler
from diffusegae.data.images import square_resize, to_tensor


class DatasetError(ValueError):
    """The folder or its label table cannot be used; the message names the file and row."""


def _value_key(v: str) -> tuple[int, int | str]:
    """Integers sort numerically and before strings."""
    try:
        return (0, int(v))
    except ValueError:
        return (1, v)


def load_folder(images_dir: Path, labels_csv: Path, resolution: int = 32) -> LabeledImages:
    images_dir, labels_csv = Path(images_dir), Path(labels_csv)
    if not images_dir.is_dir():
        raise DatasetError(f"{images_dir}: image folder not found")
    if not labels_csv.is_file():
        raise DatasetError(f"{labels_csv}: label file not found")
    with labels_csv.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        rows = list(reader)
    if not header:
        raise DatasetError(f"{labels_csv}: empty file; expected a header 'file,attr1,attr2,...'")
    header = [h.strip() for h in header]
    if header[0] != "file":
        raise DatasetError(f"{labels_csv}: missing column 'file' (the first column must be 'file', got {header[0]!r})")
    attributes = tuple(header[1:])
    if len(attributes) < 2:
        raise DatasetError(f"{labels_csv}: needs at least 2 attribute columns after 'file', got {list(attributes)}")
    if len(set(header)) != len(header) or any(not a for a in attributes):
        raise DatasetError(f"{labels_csv}: column names must be non-empty and unique, got {header}")
    if not rows:
        raise DatasetError(f"{labels_csv}: no data rows")

    files, raw_values, tensors = [], [], []
    for line, row in enumerate(rows, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise DatasetError(f"{labels_csv} row {line}: {len(row)} fields, expected {len(header)} ({','.join(header)})")
        name, *vals = (c.strip() for c in row)
        for a, v in zip(attributes, vals):
            if not v:
                raise DatasetError(f"{labels_csv} row {line}: empty value for attribute {a!r}")
        path = images_dir / name
        if not path.is_file():
            raise DatasetError(f"{labels_csv} row {line}: image {name!r} not found in {images_dir}")
        try:
            with Image.open(path) as img:
                img.load()
                tensors.append(to_tensor(square_resize(img, resolution)))
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise DatasetError(f"{labels_csv} row {line}: cannot read image {name!r}: {e}") from None
        files.append(name)
        raw_values.append(vals)

    values = []
    for j, a in enumerate(attributes):
        distinct = sorted({r[j] for r in raw_values}, key=_value_key)
        if len(distinct) < 2:
            raise DatasetError(f"{labels_csv}: attribute {a!r} has one value only ({distinct[0]!r}); it cannot be learned")
        values.append(tuple(distinct))
    index = [{v: i for i, v in enumerate(vs)} for vs in values]
    labels = torch.tensor([[index[j][r[j]] for j in range(len(attributes))] for r in raw_values], dtype=torch.long)
    try:
        GroupSampler(labels, attributes)
    except ValueError as e:
        raise DatasetError(f"{labels_csv}: {e}") from None
    return LabeledImages(torch.stack(tensors), labels, attributes, tuple(values), tuple(files))
