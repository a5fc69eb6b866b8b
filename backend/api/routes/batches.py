"""Batches: many recombinations as one unit, with progress over the whole, a zip of results, cancel."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from backend.api.bodies import parse_spec
from backend.api.deps import IdempotencyKey, OwnerDep, ServicesDep, SignerDep
from backend.api.errors import error_responses, validation_message
from backend.api.registry import chosen_model, read_models
from backend.api.schemas import BatchOut, BatchRequest, RecombineRequest
from backend.api.services import (
    add_image,
    batch_out,
    callback,
    check_attributes,
    idempotent,
    image_id_for,
    owned_batch,
    recombine_spec,
    same_model,
    sampling,
    submit_job,
)
from backend.api.uploads import UploadError, check_image, read_zip
from core.models import ServedModel
from core.records import SUCCEEDED
from core.store import new_id, valid_id
from core.webhooks import MAX_URL_LENGTH

router = APIRouter(prefix="/api/batches", tags=["batches"])

_BODY = {"requestBody": {"content": {
    "application/json": {"schema": BatchRequest.model_json_schema(ref_template="#/components/schemas/{model}")},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file", "spec"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "zip of PNG/JPEG/WebP images"},
        "spec": {"type": "string", "description": "JSON list of recombine bodies naming files of the zip as base/donor, "
                                                  "or CSV: base,<attr>,<attr>_weight,...,x_T,seed,steps,sampler"},
        "callback_url": {"type": "string", "maxLength": MAX_URL_LENGTH,
                         "description": "when the batch's last item ends, POST the batch JSON here, signed (README, "
                                        "Webhooks); only hosts the service allows (DGAE_WEBHOOK_HOSTS), else 422"},
        "model": {"type": "string", "maxLength": 64, "description": "the model every item runs in and the zip's images "
                                                                   "are uploaded into (default: the default model)"}},
        "additionalProperties": False}}},
    "required": True}}
FORM_FIELDS = ("file", "spec", "callback_url", "model")  # of the multipart form; any other is a 422


async def _read_upload(value: Any, limit: int, what: str, setting: str) -> bytes:
    if isinstance(value, UploadFile):
        data = await value.read(limit + 1)
    elif isinstance(value, str):
        data = value.encode()
    else:
        raise HTTPException(422, f"{what}: field required")
    if len(data) > limit:
        raise UploadError(413, f"{what} is larger than the limit of {limit} bytes ({setting})")
    return data


def _check_known(names: Any, known: Any, what: str) -> None:
    """422 naming every field of `names` not in `known`: a batch never drops what it does not understand."""
    unknown = [str(n) for n in names if n not in known]
    if unknown:
        raise HTTPException(422, f"unknown field(s) {unknown}: {what} has only {', '.join(known)} (misspelt?)")


def _check_count(raw: list[Any], s: ServicesDep) -> None:
    if not raw:
        raise HTTPException(422, "items: the batch is empty")
    if len(raw) > s.settings.max_batch_items:
        raise HTTPException(413, f"the batch has {len(raw)} items, more than the limit of {s.settings.max_batch_items} "
                                 "(DGAE_MAX_BATCH_ITEMS)")


async def _raw_items(s: ServicesDep,
                     request: Request) -> tuple[list[Any], dict[str, bytes], str | None, ServedModel]:
    """The raw item list, for a zip its files {path in the zip: bytes}, the callback_url if one is named, and the
    batch's model. Nothing is stored here."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        spec_limit = s.settings.max_json_bytes
        try:
            form = await request.form(max_files=10, max_fields=10, max_part_size=spec_limit + 1)
        except HTTPException as e:  # Starlette's "Part exceeded maximum size": a spec sent as a plain field
            if e.status_code == 400 and "maximum size" in str(e.detail):
                raise UploadError(413, f"spec is larger than the limit of {spec_limit} bytes (DGAE_MAX_JSON_BYTES)") from None
            raise
        _check_known(form.keys(), FORM_FIELDS, "a batch upload's form")
        data = await _read_upload(form.get("file"), s.settings.max_zip_bytes, "file (the zip of images)", "DGAE_MAX_ZIP_BYTES")
        files = await run_in_threadpool(read_zip, data, max_member_bytes=s.settings.max_upload_bytes,
                                        max_total_bytes=s.settings.max_zip_bytes, max_files=s.settings.max_batch_items * 4)
        spec = await _read_upload(form.get("spec"), spec_limit, "spec", "DGAE_MAX_JSON_BYTES")
        model = await run_in_threadpool(_batch_model, s, form.get("model"))
        items = await run_in_threadpool(parse_spec, spec.decode("utf-8", "replace"), list(model.attributes))
        _check_count(items, s)
        return items, files, _callback_field(form.get("callback_url")), model
    try:
        body = await request.json()  # its nesting depth was checked by the BodyLimit middleware
    except (ValueError, RecursionError) as e:
        raise HTTPException(422, f"the body is not valid JSON: {e}") from None
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise HTTPException(422, 'send {"items": [recombine bodies]} as JSON, or multipart with a zip (file) and a spec')
    _check_known(body, tuple(BatchRequest.model_fields), "a batch body")
    _check_count(body["items"], s)
    model = await run_in_threadpool(_batch_model, s, body.get("model"))
    return body["items"], {}, _callback_field(body.get("callback_url")), model


def _batch_model(s: ServicesDep, name: Any) -> ServedModel:
    """The model a batch runs in: the one it names, else the default."""
    if name is not None and not isinstance(name, str):
        raise HTTPException(422, "model: must be a string, the name of a registered model (GET /api/models)")
    return chosen_model(s, name)


def _callback_field(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise HTTPException(422, "callback_url: must be a string (an http:// or https:// URL)")


def _name_zip_files(bodies: list[RecombineRequest], files: dict[str, bytes], id_of: Callable[[bytes], str]) -> dict[str, bytes]:
    """Replace the zip file names in `bodies` (base, donors) by the ids those files will have; -> the files named.

    A name is a path in the zip, or a file name that exactly one path of the zip ends in. Without a zip,
    every reference is an image id (checked later, like any recombine request's)."""
    if not files:
        return {}
    by_name: dict[str, list[str]] = {}
    for path in files:
        by_name.setdefault(path.rsplit("/", 1)[-1], []).append(path)
    named: dict[str, bytes] = {}

    def ref(value: str, where: str) -> str:
        paths = [value] if value in files else by_name.get(value, [])
        if len(paths) > 1:
            raise HTTPException(422, f"{where}: {value!r} is the name of {len(paths)} files in the zip ({paths}); "
                                     "give the path inside the zip")
        if not paths:
            if valid_id(value):
                return value  # an image uploaded before
            raise HTTPException(422, f"{where}: the spec names {value!r}, which is not a file in the zip")
        named[paths[0]] = files[paths[0]]
        return id_of(files[paths[0]])

    for i, body in enumerate(bodies):
        body.base = ref(body.base, f"items[{i}].base")
        for attr, edit in body.attributes.items():
            if edit.donor:
                edit.donor = ref(edit.donor, f"items[{i}].attributes.{attr}.donor")
    return named


def _check_items(s: ServicesDep, owner: str, model: ServedModel, bodies: list[RecombineRequest], new: set[str]) -> None:
    """What recombine_spec checks (attributes, sampler, images the caller owns), with the images of the zip (`new`,
    not stored yet) counted as the caller's: a batch is checked whole before anything is stored or queued."""
    for i, body in enumerate(bodies):
        where = f"items[{i}]: "
        check_attributes(model, list(body.attributes), where)
        sampling(model, body, where)
        if body.base not in new:
            same_model(s, owner, model, body.base, f"{where}base image")
        for name, edit in body.attributes.items():
            if edit.donor and edit.donor not in new:
                same_model(s, owner, model, edit.donor, f"{where}donor image of {name}")


@router.post("", status_code=202, response_model=BatchOut, openapi_extra=_BODY,
             responses=error_responses(400, 404, 413, 415))
async def create_batch(s: ServicesDep, owner: OwnerDep, sign: SignerDep, request: Request,
                       idempotency_key: IdempotencyKey = None) -> BatchOut:
    """A list of recombination specs as JSON `{"items": [...]}`, or multipart: `file` = zip of images and
    `spec` = JSON list (base/donor name files in the zip) or CSV. The whole batch is checked first (the spec,
    every item, every image of the zip it names); only then are the images stored and the items queued.
    Files of the zip that no item names are ignored."""
    raw, files, callback_url, model = await _raw_items(s, request)
    # The parsed request, not its bytes: a retried multipart body has a new boundary but the same items and files.
    digest = hashlib.sha256(json.dumps([raw, model.name], sort_keys=True, default=str).encode())
    if callback_url is not None:
        digest.update(b"callback_url\0" + callback_url.encode())
    for name in sorted(files):
        digest.update(hashlib.sha256(name.encode() + b"\0" + files[name]).digest())
    body_hash = digest.hexdigest()

    async def create() -> str:
        url = callback(s, callback_url)
        bodies = []
        for i, item in enumerate(raw):
            try:
                bodies.append(RecombineRequest.model_validate(item))
            except ValidationError as e:
                raise HTTPException(422, validation_message(e.errors(), prefix=f"items[{i}]")) from None
            if bodies[-1].callback_url is not None:
                raise HTTPException(422, f"items[{i}].callback_url: a batch has one callback_url, beside its items")
            if bodies[-1].preview or bodies[-1].supersede is not None:
                raise HTTPException(422, f"items[{i}]: preview and supersede are for live previews "
                                         "(POST /api/recombine), not batch items")
        default = read_models(s).default

        def id_of(data: bytes) -> str:
            return image_id_for(s, owner, data, model.name, default)

        named = _name_zip_files(bodies, files, id_of)
        if named:  # without images to store, recombine_spec below checks every item before any is queued
            await run_in_threadpool(_check_items, s, owner, model, bodies, {id_of(d) for d in named.values()})
        facts = {}
        for path, data in named.items():
            facts[path] = await run_in_threadpool(check_image, data, max_pixels=s.settings.max_image_pixels, name=path,
                                                  max_decodes=s.settings.max_concurrent_decodes)
        # all checked: store the images, then queue the items
        for path, data in named.items():
            await run_in_threadpool(add_image, s, owner, data, path, model, default, facts[path])
        specs = []
        for i, body in enumerate(bodies):
            specs.append(await run_in_threadpool(recombine_spec, s, owner, body, f"items[{i}]: ", "bulk", model))
        batch_id = new_id()

        def submit_all() -> list[str]:
            return [submit_job(s, owner, spec, batch=batch_id) for spec in specs]

        job_ids = await run_in_threadpool(submit_all)
        s.records.create_batch(batch_id, job_ids, owner=owner)
        if url:
            s.records.arm_batch_webhook(batch_id, url)
        return batch_id

    batch_id = await idempotent(s, owner, idempotency_key, body_hash, create)
    return batch_out(s, owned_batch(s, owner, batch_id), items=False, sign=sign)[0]


@router.get("/{batch_id}", response_model=BatchOut)
def get_batch(s: ServicesDep, owner: OwnerDep, sign: SignerDep, batch_id: str) -> BatchOut:
    """Progress over the whole batch and the state of every item."""
    return batch_out(s, owned_batch(s, owner, batch_id), sign=sign)[0]


@router.delete("/{batch_id}", response_model=BatchOut)
def cancel_batch(s: ServicesDep, owner: OwnerDep, sign: SignerDep, batch_id: str) -> BatchOut:
    """Cancel every item not finished yet; finished ones keep their results."""
    rec = owned_batch(s, owner, batch_id)
    s.records.set_fields(s.records.batch_key(batch_id), cancelled=1)
    for item in batch_out(s, rec)[0].items or []:
        s.records.cancel(s.records.job_key(item.job_id))
    return batch_out(s, owned_batch(s, owner, batch_id), sign=sign)[0]


@router.get("/{batch_id}/results.zip", response_class=Response,
            responses={200: {"content": {"application/zip": {}}}, **error_responses(409)})
def batch_results(s: ServicesDep, owner: OwnerDep, batch_id: str) -> Response:
    """A zip with one PNG per succeeded item, named by its index (0000.png, ...); 409 while items still run."""
    out, jobs = batch_out(s, owned_batch(s, owner, batch_id))
    if out.state in ("queued", "running"):
        raise HTTPException(409, f"batch {batch_id} is still running ({out.done + out.failed + out.cancelled}/{out.total} "
                                 "finished); cancel it or wait")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:  # PNGs are compressed already
        for item in out.items or []:
            png = s.store.result(item.job_id) if item.state == SUCCEEDED else None
            if png is not None:
                zf.writestr(f"{item.index:04d}.png", png)
    return Response(buf.getvalue(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="batch-{batch_id}.zip"'})
