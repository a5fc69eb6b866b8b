"""Datasets: a person's own labelled images, uploaded as one archive, checked whole, kept in the store."""

from __future__ import annotations

import io
import time
from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Path, Response
from PIL import Image, ImageDraw
from starlette.concurrency import run_in_threadpool

from backend.api.datasets import LABELS, CheckedDataset, check_dataset, read_archive
from backend.api.deps import OwnerDep, ServicesDep, SignerDep, UrlSigner
from backend.api.errors import error_responses
from backend.api.schemas import DatasetList, DatasetOut, DatasetUpload
from backend.api.uploads import UploadError
from core.store import ID_PATTERN, new_id, valid_id

router = APIRouter(prefix="/api/datasets", tags=["datasets"])

SHEET_VALUES, SHEET_THUMBS, THUMB = 24, 8, 48  # a contact sheet: values (rows), thumbnails per value, pixels
DatasetId = Annotated[str, Path(pattern=ID_PATTERN)]


def contact_sheet(ds: CheckedDataset, attribute: str) -> bytes:
    """A PNG: a row per value (its name, then up to SHEET_THUMBS of its images), the first SHEET_VALUES values."""
    j = ds.attributes.index(attribute)
    shown = ds.values[attribute][:SHEET_VALUES]
    label_w = 140
    sheet = Image.new("RGB", (label_w + SHEET_THUMBS * (THUMB + 4), len(shown) * (THUMB + 4) + 4), "white")
    draw = ImageDraw.Draw(sheet)
    for row, value in enumerate(shown):
        y = 4 + row * (THUMB + 4)
        draw.text((4, y + THUMB // 2 - 6), f"{value[:18]} ({ds.counts[attribute][value]})", fill="black")
        paths = [p for p, v in ds.labels.items() if v[j] == value][:SHEET_THUMBS]
        for col, path in enumerate(paths):
            with Image.open(io.BytesIO(ds.files[path])) as im:
                im.draft("RGB", (THUMB * 2, THUMB * 2))
                thumb = im.convert("RGB")
                thumb.thumbnail((THUMB, THUMB))
            sheet.paste(thumb, (label_w + col * (THUMB + 4), y))
    if len(ds.values[attribute]) > SHEET_VALUES:
        draw.text((4, sheet.height - 12), f"... {len(ds.values[attribute]) - SHEET_VALUES} more values", fill="gray")
    out = io.BytesIO()
    sheet.save(out, format="PNG")
    return out.getvalue()


def dataset_out(facts: dict, sign: UrlSigner) -> DatasetOut:
    sheets = {a: sign(f"/api/datasets/{facts['id']}/contact/{i}.png") for i, a in enumerate(facts["attributes"])}
    return DatasetOut.model_validate({**facts, "contact_sheets": sheets})


def owned_dataset(s: ServicesDep, owner: str, dataset_id: str) -> dict:
    """The facts of the caller's dataset; 404 (the same for another owner's) when there is none."""
    facts = s.store.dataset(dataset_id) if valid_id(dataset_id) and s.records.owns_dataset(owner, dataset_id) else None
    if facts is None:
        raise HTTPException(404, f"dataset {dataset_id!r} not found; upload it (POST /api/datasets)")
    return facts


def _store(s: ServicesDep, owner: str, data: bytes, name: str, resolution: int) -> dict:
    settings = s.settings
    archive = read_archive(data, max_member_bytes=settings.max_upload_bytes, max_total_bytes=settings.max_dataset_bytes,
                           max_files=settings.max_dataset_files)
    ds = check_dataset(archive, resolution=resolution, min_per_value=settings.dataset_min_per_value,
                       max_pixels=settings.max_image_pixels, max_decodes=settings.max_concurrent_decodes)
    dataset_id = new_id()
    labels = "file," + ",".join(ds.attributes) + "\n" + "".join(
        ",".join([p, *v]) + "\n" for p, v in ds.labels.items())
    files = {**{f"images/{p}": b for p, b in ds.files.items()}, LABELS: labels.encode(),
             **{f"contact/{i}.png": contact_sheet(ds, a) for i, a in enumerate(ds.attributes)}}
    facts = {"id": dataset_id, "name": name, "created": time.time(), "resolution": resolution, "images": len(ds.files),
             "bytes": sum(len(b) for b in ds.files.values()), "attributes": list(ds.attributes),
             "values": {a: list(v) for a, v in ds.values.items()}, "counts": ds.counts, "warnings": list(ds.warnings)}
    s.store.put_dataset(dataset_id, files, facts)  # everything checked: now stored, dataset.json last
    s.records.add_dataset_owner(owner, dataset_id)
    return facts


@router.post("", status_code=201, response_model=DatasetOut, responses=error_responses(413, 415, 422))
async def upload_dataset(s: ServicesDep, owner: OwnerDep, sign: SignerDep,
                         form: Annotated[DatasetUpload, File()]) -> DatasetOut:
    """A zip or tar of images with `labels.csv` (a `file` column, one column per attribute). Checked whole first
    (layout, every file listed and present, readable images of at least `resolution`, at least two values per
    attribute, enough images per value, a GROUP(k,1) partner for every image); nothing is stored unless it passes."""
    limit = s.settings.max_dataset_bytes
    data = await form.file.read(limit + 1)
    if len(data) > limit:
        raise UploadError(413, f"the archive is larger than the limit of {limit} bytes (DGAE_MAX_DATASET_BYTES)")
    name = form.name or (form.file.filename or "dataset").rsplit("/", 1)[-1]
    facts = await run_in_threadpool(_store, s, owner, data, name[:100], form.resolution)
    return dataset_out(facts, sign)


@router.get("", response_model=DatasetList)
def list_datasets(s: ServicesDep, owner: OwnerDep, sign: SignerDep) -> DatasetList:
    """The caller's datasets, newest first."""
    found = [s.store.dataset(i) for i in s.records.owned_datasets(owner)]
    return DatasetList(datasets=[dataset_out(f, sign) for f in found if f is not None])


@router.get("/{dataset_id}", response_model=DatasetOut, responses=error_responses(404))
def get_dataset(s: ServicesDep, owner: OwnerDep, sign: SignerDep, dataset_id: DatasetId) -> DatasetOut:
    """Images per value of each attribute, resolution, warnings, and a contact sheet per attribute."""
    return dataset_out(owned_dataset(s, owner, dataset_id), sign)


@router.get("/{dataset_id}/contact/{index}.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, **error_responses(404)})
def get_contact_sheet(s: ServicesDep, owner: OwnerDep, dataset_id: DatasetId, index: int) -> Response:
    """The contact sheet of attribute `index` (the order of `attributes`): a row of thumbnails per value."""
    facts = owned_dataset(s, owner, dataset_id)
    png = s.store.dataset_file(dataset_id, f"contact/{index}.png") if 0 <= index < len(facts["attributes"]) else None
    if png is None:
        raise HTTPException(404, f"dataset {dataset_id} has no attribute {index}")
    return Response(png, media_type="image/png")


@router.delete("/{dataset_id}", status_code=204, response_class=Response, responses=error_responses(404))
def delete_dataset(s: ServicesDep, owner: OwnerDep, dataset_id: DatasetId) -> Response:
    owned_dataset(s, owner, dataset_id)
    s.store.remove_dataset(dataset_id)
    s.records.drop_dataset_owner(owner, dataset_id)
    return Response(status_code=204)
