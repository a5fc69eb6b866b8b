"""Batches: many recombinations as one unit, with progress over the whole, a zip of results, cancel."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from backend.api.deps import ModelDep, OwnerDep, ServicesDep
from backend.api.errors import validation_message
from backend.api.schemas import BatchOut, BatchRequest, RecombineRequest
from backend.api.services import add_image, batch_out, owned_batch, recombine_spec, submit_job
from backend.api.uploads import UploadError, parse_spec, read_zip
from core.records import SUCCEEDED
from core.store import new_id, valid_id

router = APIRouter(prefix="/api/batches", tags=["batches"])

_BODY = {"requestBody": {"content": {
    "application/json": {"schema": BatchRequest.model_json_schema(ref_template="#/components/schemas/{model}")},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file", "spec"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "zip of PNG/JPEG/WebP images"},
        "spec": {"type": "string", "description": "JSON list of recombine bodies naming files of the zip as base/donor, "
                                                  "or CSV: base,<attr>,<attr>_weight,...,x_T,seed,steps,sampler"}}}}},
    "required": True}}


async def _read_upload(value: Any, limit: int, what: str) -> bytes:
    if isinstance(value, UploadFile):
        data = await value.read(limit + 1)
    elif isinstance(value, str):
        data = value.encode()
    else:
        raise HTTPException(422, f"{what}: field required")
    if len(data) > limit:
        raise UploadError(413, f"{what} is larger than the limit of {limit} bytes")
    return data


async def _items_from_request(s: ServicesDep, owner: str, model: dict[str, Any], request: Request) -> list[Any]:
    """The raw item list, with zip file names already replaced by the ids of the uploaded images."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form(max_files=10, max_fields=10)
        data = await _read_upload(form.get("file"), s.settings.max_zip_bytes, "file (the zip of images)")
        files = await run_in_threadpool(read_zip, data, max_member_bytes=s.settings.max_upload_bytes,
                                        max_total_bytes=s.settings.max_zip_bytes, max_files=s.settings.max_batch_items * 4)
        spec_text = (await _read_upload(form.get("spec"), 4 * 1024 * 1024, "spec")).decode("utf-8", "replace")
        items = parse_spec(spec_text, list(model["attributes"]))
        names: dict[str, str] = {}
        for path, content in files.items():
            image_id, _ = await run_in_threadpool(add_image, s, owner, content, path)
            names[path] = image_id
            names.setdefault(path.rsplit("/", 1)[-1], image_id)

        def resolve(ref: Any) -> Any:
            if isinstance(ref, str) and ref in names:
                return names[ref]
            if isinstance(ref, str) and not valid_id(ref):
                raise HTTPException(422, f"the spec names {ref!r}, which is not a file in the zip")
            return ref

        for item in items:
            if isinstance(item, dict):
                item["base"] = resolve(item.get("base"))
                for edit in (item.get("attributes") or {}).values():
                    if isinstance(edit, dict) and edit.get("donor"):
                        edit["donor"] = resolve(edit["donor"])
        return items
    try:
        body = await request.json()
    except ValueError as e:
        raise HTTPException(422, f"the body is not valid JSON: {e}") from None
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise HTTPException(422, 'send {"items": [recombine bodies]} as JSON, or multipart with a zip (file) and a spec')
    return body["items"]


@router.post("", status_code=202, response_model=BatchOut, openapi_extra=_BODY)
async def create_batch(s: ServicesDep, owner: OwnerDep, model: ModelDep, request: Request) -> BatchOut:
    """A list of recombination specs as JSON `{"items": [...]}`, or multipart: `file` = zip of images and
    `spec` = JSON list (base/donor name files in the zip) or CSV. Every item is checked before any runs."""
    raw = await _items_from_request(s, owner, model, request)
    if not raw:
        raise HTTPException(422, "items: the batch is empty")
    if len(raw) > s.settings.max_batch_items:
        raise HTTPException(413, f"the batch has {len(raw)} items, more than the limit of {s.settings.max_batch_items}")
    specs = []
    for i, item in enumerate(raw):
        try:
            body = RecombineRequest.model_validate(item)
        except ValidationError as e:
            raise HTTPException(422, validation_message(e.errors(), prefix=f"items[{i}]")) from None
        specs.append(await run_in_threadpool(recombine_spec, s, owner, model, body, f"items[{i}]: ", "bulk"))
    batch_id = new_id()

    def submit_all() -> list[str]:
        return [submit_job(s, owner, spec, batch=batch_id) for spec in specs]

    job_ids = await run_in_threadpool(submit_all)
    s.records.create_batch(batch_id, job_ids, owner=owner)
    return batch_out(s, owned_batch(s, owner, batch_id), items=False)[0]


@router.get("/{batch_id}", response_model=BatchOut)
def get_batch(s: ServicesDep, owner: OwnerDep, batch_id: str) -> BatchOut:
    """Progress over the whole batch and the state of every item."""
    return batch_out(s, owned_batch(s, owner, batch_id))[0]


@router.delete("/{batch_id}", response_model=BatchOut)
def cancel_batch(s: ServicesDep, owner: OwnerDep, batch_id: str) -> BatchOut:
    """Cancel every item not finished yet; finished ones keep their results."""
    rec = owned_batch(s, owner, batch_id)
    s.records.set_fields(s.records.batch_key(batch_id), cancelled=1)
    for item in batch_out(s, rec)[0].items or []:
        s.records.cancel(s.records.job_key(item.job_id))
    return batch_out(s, owned_batch(s, owner, batch_id))[0]


@router.get("/{batch_id}/results.zip", response_class=Response, responses={200: {"content": {"application/zip": {}}}})
def batch_results(s: ServicesDep, owner: OwnerDep, batch_id: str) -> Response:
    """A zip with one PNG per succeeded item, named by its index (0000.png, ...); 409 while items still run."""
    out, jobs = batch_out(s, owned_batch(s, owner, batch_id))
    if out.state in ("queued", "running"):
        raise HTTPException(409, f"batch {batch_id} is still running ({out.done + out.failed + out.cancelled}/{out.total} "
                                 "finished); cancel it or wait")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:  # PNGs are compressed already
        for item in out.items or []:
            if item.state == SUCCEEDED and s.store.result(item.job_id).is_file():
                zf.write(s.store.result(item.job_id), f"{item.index:04d}.png")
    return Response(buf.getvalue(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="batch-{batch_id}.zip"'})
