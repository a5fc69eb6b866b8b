"""What the routes share: turning records into response models, checking and submitting jobs."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from backend.api.deps import Services, UrlSigner, unsigned
from backend.api.domain import job_warnings
from backend.api.registry import ModelView, model_of_image, served_model
from backend.api.schemas import (
    BatchItemOut,
    BatchOut,
    DomainWarning,
    ImageOut,
    InterpolateRequest,
    JobOut,
    Progress,
    RecombineRequest,
    Sampling,
    TrainingProgress,
    WebhookOut,
)
from backend.api.uploads import ImageFacts, UploadError, check_image
from core.models import ServedModel
from core.records import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, TERMINAL
from core.specs import Blend, InterpolateSpec, JobSpec, Lane, RecombineSpec
from core.store import content_id, new_id, valid_id
from core.webhooks import CallbackError, check_callback_url

_IMAGE_STATUS = {QUEUED: "queued", RUNNING: "encoding", SUCCEEDED: "ready", FAILED: "failed", CANCELLED: "failed"}


def _num(rec: dict[str, str], field: str, default: float = 0) -> float:
    try:
        return float(rec.get(field) or default)
    except ValueError:
        return default


def _fraction(rec: dict[str, str]) -> float:
    total = _num(rec, "total")
    return min(1.0, _num(rec, "done") / total) if total > 0 else 0.0


# --- images ---

def image_out(image_id: str, rec: dict[str, str] | None, filename: str = "", *, sign: UrlSigner = unsigned) -> ImageOut:
    """`filename`: the caller's own name for it (an image record is shared by everyone who uploaded its bytes);
    `sign`: makes the URLs loadable without headers for the caller (deps.get_signer)."""
    rec = rec or {}
    status = _IMAGE_STATUS.get(rec.get("state", ""), "queued")
    progress = 1.0 if status == "ready" else _fraction(rec)
    width = rec.get("width")
    height = rec.get("height")
    ready = status == "ready"
    return ImageOut(id=image_id, model=rec.get("model_name") or None, status=status, progress=progress,
                    error=rec.get("error") or None,
                    chunks=json.loads(rec["chunks"]) if ready and rec.get("chunks") else None,
                    filename=filename or None, format=rec.get("format") or None,
                    width=int(width) if width else None, height=int(height) if height else None,
                    url=sign(f"/api/images/{image_id}/image.png"), original_url=sign(f"/api/images/{image_id}/original"),
                    domain=_json_field(rec, "domain") if ready else None, crop=_json_field(rec, "crop") if ready else None)


def _json_field(rec: dict[str, str], name: str) -> Any:
    """A JSON field of a record; None when absent, empty or unreadable (a record from before the field existed)."""
    try:
        return json.loads(rec.get(name) or "null")
    except ValueError:
        return None


def image_id_for(s: Services, owner: str, data: bytes, model: str, default: str | None) -> str:
    """An image is its bytes in one model. Shared encodings: the content hash (in the default model; of the model's
    name and the content in another). Not shared: the same with the owner in front, so nothing of one key's upload
    (not even that it happened) shows to another."""
    content = data if model == default else model.encode() + b"\0" + data
    return content_id(content) if s.settings.shares_encodings() else content_id(owner.encode() + b"\0" + content)


def add_image(s: Services, owner: str, data: bytes, filename: str | None, model: ServedModel, default: str | None,
              facts: ImageFacts | None = None) -> tuple[str, ImageFacts]:
    """Check, store and queue the encoding of one upload in `model`; the same bytes in one model are encoded once.

    `facts`: what `check_image` said about these bytes, when the caller checked them already (a batch
    checks all its images before it stores any); else they are checked here."""
    if facts is None:
        if len(data) > s.settings.max_upload_bytes:
            raise UploadError(413, f"the upload is larger than the limit of {s.settings.max_upload_bytes} bytes "
                                   "(DGAE_MAX_UPLOAD_BYTES)")
        # "the file", not its name: one upload per request, so the caller knows which (the UI puts the name first)
        facts = check_image(data, max_pixels=s.settings.max_image_pixels, name="the file",
                            max_decodes=s.settings.max_concurrent_decodes)
    image_id = image_id_for(s, owner, data, model.name, default)
    s.store.put_original(image_id, data)
    state = s.records.queue_encode(image_id, model.name, model.fingerprint, format=facts.format, width=facts.width,
                                   height=facts.height, bytes=len(data), deployment=s.deployment)
    s.records.add_image_owner(owner, image_id, (filename or "")[:200])
    if state in ("new", QUEUED):  # a second task for a queued image finds it taken and returns
        s.dispatcher.encode(image_id, model.name)
    return image_id, facts


def owned_image(s: Services, owner: str, image_id: str, what: str = "image") -> str:
    if not (isinstance(image_id, str) and valid_id(image_id) and s.records.owns_image(owner, image_id)):
        raise HTTPException(404, f"{what} {image_id!r} not found; upload it first (POST /api/images)")
    return image_id


# --- jobs ---

def sampling(model: ServedModel, body: Sampling, where: str = "") -> dict[str, Any]:
    """The sampling fields of a spec, the model's defaults filled in; 422 for what the model cannot run."""
    sampler = body.sampler or model.default_sampler
    steps = body.steps or model.default_steps
    try:
        model.check_sampler(sampler)
        model.check_steps(steps)
    except ValueError as e:
        field = "sampler" if sampler not in model.samplers else "steps"
        raise HTTPException(422, f"{where}{field}: {e}") from None
    return {"x_T": body.x_T, "seed": body.seed, "steps": steps, "sampler": sampler}


def preview_steps(s: Services, model: ServedModel) -> int:
    """Steps of a preview request: DGAE_PREVIEW_STEPS, or the model's calibrated default when that is fewer."""
    return max(model.steps.min, min(s.settings.preview_steps, model.default_steps))


def check_attributes(model: ServedModel, names: list[str], where: str) -> None:
    unknown = [a for a in names if a not in model.attributes]
    if unknown:
        raise HTTPException(422, f"{where}unknown attribute(s) {unknown}; the model has {list(model.attributes)}")


def image_model(s: Services, owner: str, image_id: str, what: str, view: ModelView | None = None) -> ServedModel:
    """The model the caller's image `image_id` is encoded in, as a request uses it (404, 422, 503 as served_model)."""
    owned_image(s, owner, image_id, what)
    return served_model(s, model_of_image(s, image_id, view), view)


def same_model(s: Services, owner: str, model: ServedModel, image_id: str, what: str) -> str:
    """`image_id` (404 unless the caller's), which must be encoded in `model`: 422 naming both models and the fix."""
    owned_image(s, owner, image_id, what)
    other = model_of_image(s, image_id)
    if other != model.name:
        raise HTTPException(422, f"{what} {image_id} is encoded in model {other}, the base image in model {model.name}: "
                                 f"upload it with model={model.name}, or POST /api/images/{image_id}/encode "
                                 f'{{"model": "{model.name}"}} and use the id that returns')
    return image_id


def check_diffae(model: ServedModel, body: RecombineRequest, where: str) -> None:
    """422 unless `model` has Diff-AE's directions and every edit names a value (Diff-AE's edits take no donors)."""
    if not model.diffae_edits:
        raise HTTPException(422, f"{where}method: model {model.name} has no Diff-AE directions (diffusegae fit-edits "
                                 "fits them); use method gae")
    donors = [name for name, edit in body.attributes.items() if edit.donor]
    if donors:
        raise HTTPException(422, f"{where}attributes.{donors[0]}: method diffae moves z_sem towards a named value: give "
                                 '{"value": ..., "weight": alpha} (Diff-AE: -0.5..0.5); donor images are for method gae')


def check_value(model: ServedModel, attribute: str, value: str, where: str, *, prototypes: bool = True) -> None:
    """422 unless `model` can set `attribute` to the named `value` (it has prototypes, unless another method sets it,
    and the value exists)."""
    if prototypes and not model.value_edits:
        raise HTTPException(422, f"{where}attributes.{attribute}.value: model {model.name} has no value prototypes "
                                 "(diffusegae fit-edits makes them); give a donor image instead")
    names = model.values[attribute]
    if value not in names:
        shown = ", ".join(repr(n) for n in names[:12]) + (f", ... ({len(names)} in all)" if len(names) > 12 else "")
        raise HTTPException(422, f"{where}attributes.{attribute}.value: {attribute} has no value {value!r}; its "
                                 f"values: {shown} (GET /api/model)")


def recombine_spec(s: Services, owner: str, body: RecombineRequest, where: str = "", lane: Lane = "interactive",
                   model: ServedModel | None = None) -> RecombineSpec:
    """A recombine body -> the spec the worker runs, in its base image's model (`model`: the one the caller
    requires it in, e.g. a batch's); 404/422/503 when it cannot run."""
    model = model or image_model(s, owner, body.base, f"{where}base image")
    base = same_model(s, owner, model, body.base, f"{where}base image")
    check_attributes(model, list(body.attributes), where)
    sampled = sampling(model, body, where)
    attrs = {}
    method = getattr(body, "method", "gae")
    if method == "diffae":
        check_diffae(model, body, where)
    for name, edit in body.attributes.items():
        donor = same_model(s, owner, model, edit.donor, f"{where}donor image of {name}") if edit.donor else None
        if edit.value is not None:
            check_value(model, name, edit.value, where, prototypes=method == "gae")
        attrs[name] = Blend(donor=donor, value=edit.value, weight=edit.weight)
    if body.preview and body.steps is None:
        sampled["steps"] = preview_steps(s, model)
    return RecombineSpec(model=model.name, base=base, attributes=attrs, lane=lane, method=method, **sampled)


def interpolate_spec(s: Services, owner: str, body: InterpolateRequest) -> InterpolateSpec:
    model = image_model(s, owner, body.base, "base image")
    if body.attributes is not None:
        if not body.attributes:
            raise HTTPException(422, "attributes: name at least one attribute, or null for all")
        check_attributes(model, body.attributes, "")
    sampled = sampling(model, body)
    return InterpolateSpec(model=model.name, base=body.base, donor=same_model(s, owner, model, body.donor, "donor image"),
                           attributes=tuple(body.attributes) if body.attributes is not None else None,
                           frames=body.frames, **sampled)


def callback(s: Services, url: str | None, where: str = "callback_url") -> str:
    """A request's callback_url, checked against DGAE_WEBHOOK_HOSTS -> the URL ("" for none); 422 when refused."""
    if url is None:
        return ""
    try:
        return check_callback_url(url, s.settings.webhook_hosts)
    except CallbackError as e:
        raise HTTPException(422, f"{where}: {e}") from None


def submit_job(s: Services, owner: str, spec: JobSpec, batch: str = "", callback: str = "") -> str:
    job_id = new_id()
    s.records.create_job(job_id, spec, owner=owner, batch=batch, deployment=s.deployment,
                         **({"callback": callback} if callback else {}))
    try:
        s.dispatcher.decode(job_id, spec.lane, spec.model)
    except Exception:
        s.records.drop_fields(s.records.job_key(job_id), "callback")  # the caller never learns its id: no webhook either
        s.records.cancel(s.records.job_key(job_id))  # no task will ever run it
        raise
    return job_id


def result_png(s: Services, job_id: str) -> bytes | None:
    """A finished job's result: Redis's copy while it is hot (core.records.hot), else the store's."""
    return s.records.hot_result(s.records.job_key(job_id)) or s.store.result(job_id)


def _owned(s: Services, owner: str, what: str, key: Callable[[str], str], unit_id: str) -> dict[str, str]:
    """The record of the caller's job or batch; 404 (the same for another owner's) when there is none."""
    rec = s.records.get(key(unit_id)) if valid_id(unit_id) else None
    if not rec or rec.get("owner") != owner:
        raise HTTPException(404, f"{what} {unit_id!r} not found: it never existed here, it expired, or the service lost "
                                 "its records (Redis restarted without its data); submit it again")
    return rec


def owned_job(s: Services, owner: str, job_id: str) -> dict[str, str]:
    return _owned(s, owner, "job", s.records.job_key, job_id)


def webhook_out(rec: dict[str, str]) -> WebhookOut | None:
    """The delivery of a record's callback (None without one); `webhook` is set when the job or batch ends."""
    if not rec.get("callback"):
        return None
    status = json.loads(rec["webhook"]) if rec.get("webhook") else {"state": "waiting", "attempts": 0}
    return WebhookOut(url=rec["callback"], state=status["state"], attempts=status["attempts"],
                      last_error=status.get("last_error"))


def training_progress(rec: dict[str, str], sign: UrlSigner = unsigned) -> TrainingProgress:
    """A training job's stage, loss series and, while its GAE trains, the time left at its pace so far."""
    done, total, started = _num(rec, "done"), _num(rec, "total"), _num(rec, "started")
    resumed = _num(rec, "resumed_step")  # steps done before this run started: not part of its pace
    stage = rec.get("stage") or ("queued" if rec.get("state") == QUEUED else "preparing")
    pace = (done - resumed) / (time.time() - started) if stage == "gae" and done > resumed and started else None
    eta = (total - done) / pace if pace else None
    spec = _json_field(rec, "spec") or {}
    return TrainingProgress(stage=stage, losses=_json_field(rec, "losses") or [], eta_s=round(eta, 1) if eta else None,
                            steps_per_s=round(pace, 3) if pace else None,
                            sample_step=int(_num(rec, "sample_step")) if rec.get("sample_step") else None,
                            dataset=spec.get("dataset"), name=spec.get("name"), base_model=spec.get("base_model"),
                            seed=spec.get("seed"), checkpoint_every=spec.get("checkpoint_every") or None,
                            budget_s=spec.get("budget_s") or None,
                            checkpoint_step=int(rec["checkpoint_step"]) if rec.get("checkpoint_step") else None,
                            resumed_step=int(resumed) if rec.get("resumed_step") else None,
                            resume_from=spec.get("resume_from") or None,
                            sample_url=sign(f"/api/jobs/{rec['id']}/sample.png?step={int(_num(rec, 'sample_step'))}")
                            if rec.get("sample_step") else None)


def job_out(rec: dict[str, str], queue_position: int | None = None, *, sign: UrlSigner = unsigned,
            warnings: list[DomainWarning] | None = None) -> JobOut:
    """`warnings`: of the job's images (backend.api.domain.job_warnings), which need Redis reads."""
    jid, state = rec["id"], rec.get("state", QUEUED)
    frames = int(rec.get("frames") or 1) if rec.get("kind") == "interpolate" else None
    done = state == SUCCEEDED
    x0_step = int(_num(rec, "x0_step")) if rec.get("x0_preview") and state == RUNNING else None
    return JobOut(id=jid, kind=rec.get("kind", "recombine"), state=state,
                  model=(rec.get("model") or None) if rec.get("kind") == "train" and done else None,
                  training=training_progress(rec, sign) if rec.get("kind") == "train" else None,
                  progress=Progress(done=int(_num(rec, "done")), total=int(_num(rec, "total") or _num(rec, "steps"))),
                  error=rec.get("error") or None,
                  result_url=sign(f"/api/jobs/{jid}/result.png") if done else None, frames=frames,
                  frame_urls=[sign(f"/api/jobs/{jid}/frames/{i}.png") for i in range(frames)] if done and frames else None,
                  events_url=sign(f"/api/jobs/{jid}/events"),
                  batch=rec.get("batch") or None, steps=int(_num(rec, "steps")), sampler=rec.get("sampler", ""),
                  created=_num(rec, "created"), queue_position=queue_position, webhook=webhook_out(rec),
                  x0_preview_url=sign(f"/api/jobs/{jid}/x0.png?step={x0_step}") if x0_step is not None else None,
                  x0_step=x0_step,
                  warnings=warnings or [])


def job_out_now(s: Services, rec: dict[str, str], *, sign: UrlSigner = unsigned) -> JobOut:
    """job_out with the job's queue position and domain warnings (Redis reads: for single answers, not lists)."""
    return job_out(rec, s.records.queue_position(rec), sign=sign, warnings=job_warnings(s.records, [rec])[0])


async def idempotent(s: Services, owner: str, token: str | None, body_hash: str,
                     create: Callable[[], Awaitable[str]]) -> str:
    """Run `create` once per (owner, Idempotency-Key) for the retention period -> the id it made.

    The same key with the same body gives the first call's id (a client retrying after a timeout makes
    nothing new); with another body, 409. A request that arrives while the first is still creating waits for it.
    """
    if token is None:
        return await create()
    token = hashlib.sha256(token.encode()).hexdigest()
    deadline = time.monotonic() + 30
    while True:
        first_hash, made = await run_in_threadpool(s.records.reserve_idempotency, owner, token, body_hash,
                                                   s.settings.retention_s)
        if first_hash == "new":
            try:
                made = await create()
            except BaseException:
                await run_in_threadpool(s.records.release_idempotency, owner, token)
                raise
            await run_in_threadpool(s.records.complete_idempotency, owner, token, made)
            return made
        if first_hash != body_hash:
            raise HTTPException(409, "this Idempotency-Key was used with a different request body; use a new key")
        if made:
            return made
        if time.monotonic() > deadline:
            raise HTTPException(409, "a request with this Idempotency-Key is still being processed; retry later")
        await asyncio.sleep(0.05)


async def wait_until_finished(s: Services, key: str, seconds: float) -> dict[str, str] | None:
    """Wait until a record is finished or `seconds` pass; -> the last record. Woken by the record's announcements
    (core.records.events), read at least every 0.5 s."""
    deadline = time.monotonic() + min(max(seconds, 0.0), s.settings.max_wait)
    async with s.records.changes(key) as changes:
        while True:
            rec = await run_in_threadpool(s.records.get, key)
            now = time.monotonic()
            if not rec or rec.get("state") in TERMINAL or now >= deadline:
                return rec
            await changes.wait(min(0.5, deadline - now))


# --- batches ---

def owned_batch(s: Services, owner: str, batch_id: str) -> dict[str, str]:
    return _owned(s, owner, "batch", s.records.batch_key, batch_id)


def batch_state(states: list[str], *, cancelled: bool) -> str:
    """A batch's state from its items': cancelled (asked to, and an item was); finished: succeeded unless
    every item failed; else running once any item started or finished, queued before."""
    if cancelled and CANCELLED in states:
        return CANCELLED
    if all(st in TERMINAL for st in states):
        return SUCCEEDED if SUCCEEDED in states or FAILED not in states else FAILED
    return RUNNING if any(st == RUNNING or st in TERMINAL for st in states) else QUEUED


def batch_out(s: Services, rec: dict[str, str], *, items: bool = True,
              sign: UrlSigner = unsigned) -> tuple[BatchOut, list[dict[str, str] | None]]:
    job_ids: list[str] = json.loads(rec["jobs"])
    jobs = s.records.get_many(s.records.job_key(j) for j in job_ids)
    states = [(j or {}).get("state", FAILED) for j in jobs]  # a job record gone (expired) counts as failed
    count = {st: states.count(st) for st in (SUCCEEDED, FAILED, CANCELLED, RUNNING)}
    partial = sum(1.0 if st in TERMINAL else _fraction(j or {}) for st, j in zip(states, jobs))
    state = batch_state(states, cancelled=rec.get("cancelled") == "1")
    warnings = job_warnings(s.records, jobs) if items else []
    out = BatchOut(id=rec["id"], state=state, total=len(job_ids), done=count[SUCCEEDED], failed=count[FAILED],
                   cancelled=count[CANCELLED], progress=partial / max(1, len(job_ids)),
                   results_url=sign(f"/api/batches/{rec['id']}/results.zip"),
                   items=[BatchItemOut(index=i, job_id=j, state=st, error=(r or {}).get("error") or None,
                                       result_url=sign(f"/api/jobs/{j}/result.png") if st == SUCCEEDED else None,
                                       warnings=w)
                          for i, (j, st, r, w) in enumerate(zip(job_ids, states, jobs, warnings))] if items else None,
                   webhook=webhook_out(rec))
    return out, jobs
