"""The work on a claimed batch of units: read what they need, run one sampler batch, write results, close records.

`encode_images` and `decode_jobs` get the keys `WorkerProcess.claim` returned (the unit whose task
ran first, then its batch mates) and close every one of them: succeeded, failed with a reason, or
left cancelled. Result files are written before a record is closed (core.records), so a unit that
is redone after a crash finds its work done or does it again, never half of it.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from PIL import Image
from pydantic import ValidationError

from core import metrics
from core.blobs import StoreUnavailable
from core.records import FAILED, QUEUED, RUNNING, SUCCEEDED, TERMINAL, Records
from core.specs import ENCODE_LANE, InterpolateSpec, RecombineSpec, encode_group, parse_job_spec, sampler_group
from core.store import Store
from diffusegae.editing import Editor, Latents
from worker.progress import Cancelled, StepReporter
from worker.recent import RecentLatents
from worker.tensors import SpecError, chunk_lists, condition_rows, latents_bytes, latents_meta, load_latents, png_bytes, strip

log = logging.getLogger("diffusegae.worker")

ENCODE_WAIT_S = 600.0  # a decode waits this long for an image another live worker is encoding


@dataclass(frozen=True)
class Worker:
    """What a batch needs of the process that runs it (built by `worker.process.WorkerProcess`)."""

    records: Records
    store: Store
    model: str  # the registered model's name: every unit of the batch runs in it
    editor: Editor
    fingerprint: str  # of the loaded model: latents made by another model are redone
    claim: Callable[[str], list[str]]  # claims a unit and its batch mates -> their keys
    x0_preview_min_steps: int = 50  # decodes of this many steps or more publish x0 estimates while they run
    recent: RecentLatents = field(default_factory=RecentLatents)  # the process's: latents read lately


def encode_images(proc: Worker, keys: list[str]) -> None:
    """Encode the images of `keys` (image records) in one batch: latents file, the model's view as PNG, chunks."""
    ed = proc.editor
    images, crops, todo = [], [], []
    for key in keys:
        iid = proc.records.id_of(key)
        stored = proc.store.latents(iid)
        meta = latents_meta(stored)
        if _usable(proc, meta) and proc.store.has_image_png(iid):
            # encoded before (a redelivered task, or a re-upload after Redis lost its records)
            lat = load_latents(stored, ed.device)
            proc.records.finish(key, SUCCEEDED, model=proc.fingerprint, chunks=json.dumps(chunk_lists(ed, lat.z_dis)[0]),
                                domain=_domain_field(ed, lat)[0], crop=json.dumps(meta.get("crop")))
            continue
        try:
            from diffusegae.data.images import crop_facts, upright_rgb, upright_size

            with Image.open(io.BytesIO(proc.store.original(iid))) as im:  # upright, opaque, and reduced to a few times the model's
                crops.append(crop_facts(*upright_size(im), ed.info.resolution))
                images.append(upright_rgb(im, min_side=4 * ed.info.resolution))  # size: no full-size image is kept
            todo.append(key)
        except Exception as e:  # the API validated it, but never let one image fail the batch
            proc.records.finish(key, FAILED, f"cannot read the image: {e}")
    if not todo:
        return
    steps, sampler = inversion_settings(ed)
    x0 = ed.preprocess(images)  # (B, 3, R, R)
    with StepReporter(proc.records, todo, cancellable=False) as report:
        lat = ed.encode(x0, steps=steps, sampler=sampler, progress=report)
    metrics.sampler_batch("encode", len(todo), steps)
    chunks = chunk_lists(ed, lat.z_dis)
    domain = _domain_field(ed, lat)
    seen = Editor.to_images(x0)
    for i, key in enumerate(todo):
        iid = proc.records.id_of(key)
        proc.store.put_latents(iid, latents_bytes(lat[i:i + 1], {"model": proc.fingerprint, "steps": steps,
                                                                 "sampler": sampler, "crop": crops[i]}))
        proc.store.put_image_png(iid, png_bytes(seen[i]))
        proc.records.finish(key, SUCCEEDED, model=proc.fingerprint, chunks=json.dumps(chunks[i]), domain=domain[i],
                            crop=json.dumps(crops[i]))


def inversion_settings(ed: Editor) -> tuple[int, str]:
    """Steps and sampler every image is inverted with: the model's defaults (an image's x_T is made once and shared
    by every edit of it; a decode at other steps still starts from it)."""
    return ed.info.default_steps, ed.info.default_sampler


def _usable(proc: Worker, meta: dict | None) -> bool:
    """Latents made by this model with the inversion it runs now; anything else is encoded again."""
    return bool(meta) and meta.get("model") == proc.fingerprint and (
        (meta.get("steps"), meta.get("sampler")) == inversion_settings(proc.editor))


def _domain_field(ed: Editor, lat: Latents) -> list[str]:
    """Per image, the domain verdict as the record stores it (JSON; "" when the model has no domain statistics)."""
    verdicts = ed.judge(lat)
    return [""] * lat.z_sem.shape[0] if verdicts is None else [json.dumps(v) for v in verdicts]


def encode_missing(proc: Worker, image_ids: set[str]) -> tuple[dict[str, bytes], dict[str, str]]:
    """Make sure every image a decode batch needs is encoded with this model -> (the stored latents of each image
    that is, {image id: why it cannot be} for the others).

    An image not encoded yet is encoded here (as its own sampler batch, before the decode), unless another
    live worker is at it: then this waits for it, up to ENCODE_WAIT_S.
    """
    why: dict[str, str] = {}
    stored: dict[str, bytes] = {}
    deadline = time.monotonic() + ENCODE_WAIT_S
    waiting = set(image_ids)
    while waiting:
        encoded = False  # by this pass: look again at once, no wait
        for iid in sorted(waiting):
            data = proc.recent.get(proc.fingerprint, iid) or proc.store.latents(iid)
            if _usable(proc, latents_meta(data)):
                proc.recent.put(proc.fingerprint, iid, data)
                stored[iid] = data
                waiting.discard(iid)
                continue
            key = proc.records.image_key(iid)
            rec = proc.records.get(key) or {}
            state = rec.get("state")
            if not proc.store.has_original(iid):
                why[iid] = f"image {iid} not found in the store"
            elif state == FAILED:
                why[iid] = f"image {iid} could not be encoded: {rec.get('error') or 'unknown error'}"
            else:  # not encoded with this model, or running on a worker that may be dead: claim it
                if state not in (QUEUED, RUNNING):
                    proc.records.set_fields(key, state=QUEUED, group=encode_group(proc.model), lane=ENCODE_LANE, done=0, total=0)
                claimed = proc.claim(key)
                encoded = encoded or bool(claimed)
                try:
                    encode_images(proc, claimed)
                except StoreUnavailable:
                    raise  # the batch is tried again whole (worker.process)
                except Exception as e:
                    log.exception("encoding for a decode batch failed")
                    for k in claimed:
                        proc.records.finish(k, FAILED, f"{type(e).__name__}: {e}")
                metrics.units_closed(proc.records, claimed, waited=False)  # encoded here, not taken from the queue
        waiting -= set(why)
        if waiting and not encoded:
            if time.monotonic() > deadline:
                why.update({iid: f"timed out waiting for image {iid} to be encoded" for iid in waiting})
                break
            time.sleep(0.2)  # another live worker is encoding them
    return stored, why


def decode_jobs(proc: Worker, keys: list[str]) -> None:
    """Run the jobs of `keys` (one sampler group) as one sampler batch and write their PNGs: read, compute, write."""
    jobs = _read_jobs(proc, keys)
    if not jobs:
        return
    stored, missing = encode_missing(proc, {iid for _, spec in jobs for iid in spec.image_ids()})
    lat = {iid: load_latents(data, proc.editor.device) for iid, data in stored.items()}
    live, rows = [], []
    for key, spec in jobs:
        try:
            errors = [missing[i] for i in spec.image_ids() if i in missing]
            if errors:
                raise SpecError("; ".join(errors))
            rows.append(condition_rows(proc.editor, spec, lat))
            live.append((key, spec))
        except (SpecError, KeyError, ValueError) as e:
            proc.records.finish(key, FAILED, str(e))
    if not live:
        return
    try:
        images = _sample(proc, live, rows)
    except Cancelled:
        log.info("decode stopped: every job in the batch was cancelled")
        return
    _write_results(proc, live, images)


def _read_jobs(proc: Worker, keys: list[str]) -> list[tuple[str, RecombineSpec | InterpolateSpec]]:
    """The claimed jobs' specs; a record that holds none is failed."""
    jobs = []
    for key, rec in zip(keys, proc.records.get_many(keys)):
        try:
            jobs.append((key, parse_job_spec((rec or {})["spec"])))
        except (KeyError, ValidationError) as e:
            proc.records.finish(key, FAILED, f"invalid job record: {e}")
    group = sampler_group(jobs[0][1]) if jobs else ""
    for key, spec in jobs[1:]:
        if sampler_group(spec) != group:  # the claim takes units of one group only: a broken record
            raise RuntimeError(f"{key} is in group {sampler_group(spec)}, claimed into a batch of {group}")
    return jobs


def _sample(proc: Worker, live: list[tuple[str, RecombineSpec | InterpolateSpec]],
            rows: list[tuple[torch.Tensor, torch.Tensor]]) -> list[list[Image.Image]]:
    """One sampler batch over every job's rows -> each job's images (Cancelled when every job was cancelled)."""
    z = torch.cat([r[0] for r in rows])  # (N, 512): the decoder's condition over all jobs' rows
    x = torch.cat([r[1] for r in rows])  # (N, 3, R, R)
    steps, sampler = live[0][1].steps, live[0][1].sampler
    long_render = steps >= proc.x0_preview_min_steps
    ends = list(itertools.accumulate(r[0].shape[0] for r in rows))  # each job's rows: starts[i] .. ends[i]
    starts = [0, *ends[:-1]]
    with StepReporter(proc.records, [k for k, _ in live], cancellable=True,
                      x0_rows=starts if long_render else None) as report:
        out = proc.editor.decode_z_sem(z, x, steps=steps, sampler=sampler, progress=report,
                                 x0=report.x0 if long_render else None)
    metrics.sampler_batch("decode", z.shape[0], steps)
    images = Editor.to_images(out)
    return [images[a:b] for a, b in zip(starts, ends)]


def _write_results(proc: Worker, live: list[tuple[str, RecombineSpec | InterpolateSpec]],
                   images: list[list[Image.Image]]) -> None:
    """Each job's PNGs into the store, then its record closed (a job cancelled while the batch ran is left so)."""
    for (key, spec), mine in zip(live, images):
        if (proc.records.get(key) or {}).get("state") in TERMINAL:
            continue
        jid = proc.records.id_of(key)
        if isinstance(spec, InterpolateSpec):
            for i, im in enumerate(mine):
                proc.store.put_frame(jid, i, png_bytes(im))
            result = png_bytes(strip(mine))
        else:
            result = png_bytes(mine[0])
        proc.store.put_result(jid, result)
        proc.records.put_hot_result(key, result)
        proc.records.finish(key, SUCCEEDED)
