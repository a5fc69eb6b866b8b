"""What one worker process holds and does: the loaded model, its heartbeat, and running claimed units.

One `Runner` per process (the model is loaded once). `process(kind, id)` is all a task calls:
claim the unit plus other queued units of its group (one sampler batch), run the batch through
the library, write the result files, then close the records. See backend.core.records for the
claim protocol that makes this safe to re-run after a crash.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from typing import Any

from PIL import Image

from backend.core.config import Settings
from backend.core.records import ENCODE_GROUP, FAILED, QUEUED, RUNNING, SUCCEEDED, TERMINAL, Records
from backend.core.store import Store

log = logging.getLogger("diffusegae.worker")


class Cancelled(Exception):
    """Every job of the running sampler batch was cancelled: stop at this step."""


class StepReporter:
    """The sampler's progress callback. Records progress and watches for cancellation on a side
    thread, every `interval` seconds, so a sampler step never waits for Redis; once every job of
    the batch is cancelled, the next step raises `Cancelled`."""

    def __init__(self, records: Records, keys: list[str], *, cancellable: bool, interval: float = 0.05) -> None:
        self.records, self.keys, self.cancellable, self.interval = records, keys, cancellable, interval
        self.latest: tuple[int, int] | None = None
        self._written: tuple[int, int] | None = None
        self._cancelled, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)

    def __call__(self, done: int, total: int) -> None:
        self.latest = (done, total)
        if self._cancelled.is_set():
            raise Cancelled

    def __enter__(self) -> StepReporter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        try:
            self._flush()  # the last step's numbers
        except Exception as e:
            log.warning("progress update failed: %s", e)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._flush()
            except Exception as e:  # Redis hiccup: the sampler carries on, the next tick retries
                log.warning("progress update failed: %s", e)

    def _flush(self) -> None:
        latest = self.latest
        if latest is not None and latest != self._written:
            states = self.records.progress(self.keys, *latest)
            self._written = latest
        elif self.cancellable:
            states = self.records.states(self.keys)
        else:
            return
        if self.cancellable and all(st != RUNNING for st in states):
            self._cancelled.set()


class ModelNotLoaded(RuntimeError):
    """This worker could not load its model; the jobs it claims fail with the reason."""


class Runner:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.records = Records.connect(settings.redis_url, settings.key_prefix, settings.redis_timeout)
        self.store = Store(settings.store_dir)
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.editor = None
        self.fingerprint = ""
        self.model_status, self.model_error = "loading", None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        Image.MAX_IMAGE_PIXELS = settings.max_image_pixels

    # --- lifecycle ---
    def start(self) -> None:
        """Start the heartbeat, then load the model (errors are reported, the worker stays up)."""
        self._beat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        self._beat.start()
        self.load_model()

    def stop(self) -> None:
        self._stop.set()
        try:
            self.records.drop_heartbeat(self.worker_id)
        except Exception:  # Redis gone at shutdown: the key expires by itself
            pass

    def load_model(self) -> None:
        import torch

        from diffusegae.checkpoint import CheckpointError
        from diffusegae.editing import Editor
        from worker.engine import model_fingerprint

        torch.set_num_threads(self.settings.torch_thread_count())
        model_dir = self.settings.model_dir
        try:
            self.editor = Editor.load(model_dir, self.settings.device)
            self.fingerprint = model_fingerprint(model_dir)
        except (CheckpointError, OSError, RuntimeError, ValueError) as e:
            self.model_status, self.model_error = "error", f"cannot load the model in {model_dir}: {e}"
            log.error(self.model_error)
            self._safe_beat()
            return
        self.model_status = "ready"
        self._safe_beat()
        log.info("worker %s: model %s loaded on %s", self.worker_id, self.editor.info.name, self.editor.device)

    def model_info(self) -> dict[str, Any]:
        if self.editor is None:
            return {}
        return {**self.editor.info.as_dict(), "fingerprint": self.fingerprint, "device": str(self.editor.device)}

    def _beat_once(self) -> None:
        info = {"id": self.worker_id, "hostname": socket.gethostname(), "pid": os.getpid(),
                "model_status": self.model_status, "model_error": self.model_error, "model": self.model_info() or None}
        self.records.heartbeat(self.worker_id, info, self.settings.heartbeat_ttl)
        if self.model_status == "ready":  # again on every beat: survives Redis losing its data
            self.records.publish_model(self.model_info())

    def _safe_beat(self) -> None:
        try:
            self._beat_once()
        except Exception as e:  # Redis down: keep trying, the API reports it
            log.warning("heartbeat failed: %s", e)

    def _heartbeat_loop(self) -> None:
        period = self.settings.heartbeat_ttl / 3
        while not self._stop.is_set():
            self._safe_beat()
            self._stop.wait(period)

    # --- the task body ---
    def process(self, kind: str, unit_id: str) -> None:
        key = self.records.image_key(unit_id) if kind == "encode" else self.records.job_key(unit_id)
        keys = self.records.claim(key, self.worker_id, self.settings.max_sampler_batch)
        if not keys:
            log.info("%s %s: done, cancelled or taken by a live worker; nothing to do", kind, unit_id)
            return
        log.info("%s: claimed %d unit(s) for one sampler batch", kind, len(keys))
        try:
            if self.editor is None:
                raise ModelNotLoaded(self.model_error or "the model is not loaded")
            if kind == "encode":
                self.encode(keys)
            else:
                self.decode(keys)
        except Exception as e:
            log.exception("%s batch failed", kind)
            for k in keys:
                self.records.finish(k, FAILED, str(e) if isinstance(e, ModelNotLoaded) else f"{type(e).__name__}: {e}")

    def encode(self, keys: list[str]) -> None:
        from diffusegae.editing import Editor
        from worker.engine import chunk_lists, latents_meta, load_latents, png_bytes, save_latents

        ed = self.editor
        images, todo = [], []
        for key in keys:
            iid = self.records.id_of(key)
            meta = latents_meta(self.store.latents(iid))
            if meta and meta.get("model") == self.fingerprint and self.store.image_png(iid).is_file():
                # encoded before (a redelivered task, or a re-upload after Redis lost its records)
                z_dis = load_latents(self.store.latents(iid), ed.device).z_dis
                self.records.finish(key, SUCCEEDED, model=self.fingerprint, chunks=json.dumps(chunk_lists(ed, z_dis)[0]))
                continue
            try:
                with Image.open(self.store.original(iid)) as im:
                    im.load()
                    images.append(im.convert("RGB"))
                todo.append(key)
            except Exception as e:  # the API validated it, but never let one image fail the batch
                self.records.finish(key, FAILED, f"cannot read the image: {e}")
        if not todo:
            return
        steps, sampler = ed.info.default_steps, ed.info.default_sampler
        x0 = ed.preprocess(images)
        with StepReporter(self.records, todo, cancellable=False) as report:
            lat = ed.encode(x0, steps=steps, sampler=sampler, progress=report)
        chunks = chunk_lists(ed, lat.z_dis)
        seen = Editor.to_images(x0)
        for i, key in enumerate(todo):
            iid = self.records.id_of(key)
            save_latents(self.store.latents(iid), lat[i:i + 1], {"model": self.fingerprint, "steps": steps, "sampler": sampler})
            self.store.write_atomic(self.store.image_png(iid), png_bytes(seen[i]))
            self.records.finish(key, SUCCEEDED, model=self.fingerprint, chunks=json.dumps(chunks[i]))

    def _latents(self, image_ids: set[str]) -> dict[str, Any]:
        """Latents of every image a decode batch needs, encoding here the ones not encoded yet.

        -> {image id: Latents (batch 1) or an error message}.
        """
        from worker.engine import latents_meta, load_latents

        out: dict[str, Any] = {}
        deadline = time.monotonic() + 600
        waiting = set(image_ids)
        while waiting:
            for iid in sorted(waiting):
                path = self.store.latents(iid)
                meta = latents_meta(path)
                if meta and meta.get("model") == self.fingerprint:
                    out[iid] = load_latents(path, self.editor.device)
                    continue
                rec = self.records.get(self.records.image_key(iid)) or {}
                state = rec.get("state")
                if not self.store.original(iid).is_file():
                    out[iid] = f"image {iid} not found in the store"
                elif state == FAILED:
                    out[iid] = f"image {iid} could not be encoded: {rec.get('error') or 'unknown error'}"
                else:  # not encoded (with this model), or running on a worker that may be dead: encode it here
                    key = self.records.image_key(iid)
                    if state not in (QUEUED, RUNNING):
                        self.records.set_fields(key, state=QUEUED, group=ENCODE_GROUP, done=0, total=0)
                    claimed = self.records.claim(key, self.worker_id, self.settings.max_sampler_batch)
                    try:
                        self.encode(claimed)
                    except Exception as e:
                        log.exception("encoding inside a decode batch failed")
                        for k in claimed:
                            self.records.finish(k, FAILED, f"{type(e).__name__}: {e}")
            waiting -= set(out)
            if waiting:
                if time.monotonic() > deadline:
                    out.update({iid: f"timed out waiting for image {iid} to be encoded" for iid in waiting})
                    break
                time.sleep(0.2)  # another live worker is encoding them
        return out

    def decode(self, keys: list[str]) -> None:
        import torch

        from diffusegae.editing import Editor
        from worker.engine import SpecError, images_needed, png_bytes, rows_for, strip

        ed = self.editor
        recs = self.records.get_many(keys)
        _, steps, sampler = recs[0]["group"].split(":")
        jobs = []  # (key, kind, spec)
        for key, rec in zip(keys, recs):
            try:
                jobs.append((key, rec["kind"], json.loads(rec["spec"])))
            except (KeyError, TypeError, json.JSONDecodeError) as e:
                self.records.finish(key, FAILED, f"invalid job record: {e}")
        lat = self._latents({iid for _, kind, spec in jobs for iid in images_needed(kind, spec)})
        rows, live = [], []
        for key, kind, spec in jobs:
            errors = [lat[i] for i in images_needed(kind, spec) if isinstance(lat[i], str)]
            try:
                if errors:
                    raise SpecError("; ".join(errors))
                rows.append(rows_for(ed, kind, spec, lat))
                live.append((key, kind, spec))
            except (SpecError, KeyError, ValueError) as e:
                self.records.finish(key, FAILED, str(e))
        if not live:
            return
        z = torch.cat([r[0] for r in rows])
        x = torch.cat([r[1] for r in rows])
        live_keys = [k for k, _, _ in live]
        try:
            with StepReporter(self.records, live_keys, cancellable=True) as report:
                out = ed.decode(z, x, steps=int(steps), sampler=sampler, progress=report)
        except Cancelled:
            log.info("decode stopped: every job in the batch was cancelled")
            return
        images = Editor.to_images(out)
        row = 0
        for (key, kind, _), (zr, _) in zip(live, rows):
            n = zr.shape[0]
            mine, row = images[row:row + n], row + n
            jid = self.records.id_of(key)
            if (self.records.get(key) or {}).get("state") in TERMINAL:
                continue  # cancelled while the batch ran
            if kind == "interpolate":
                for i, im in enumerate(mine):
                    self.store.write_atomic(self.store.frame(jid, i), png_bytes(im))
                self.store.write_atomic(self.store.result(jid), png_bytes(strip(mine)))
            else:
                self.store.write_atomic(self.store.result(jid), png_bytes(mine[0]))
            self.records.finish(key, SUCCEEDED)
