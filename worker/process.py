"""One worker process: its loaded model, its heartbeat, and the claiming of units for its tasks.

One `WorkerProcess` per Celery worker process (the model is loaded once). A task hands it one
unit (`run_encode(image_id)` / `run_decode(job_id)`): it claims the unit plus other queued units of
the same group (one sampler batch, see core.records for the claim protocol) and gives the claimed
keys to `worker.batches`, which does the work and closes the records.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any

from PIL import Image

from core.records import FAILED, Records
from core.settings import Settings
from core.store import Store
from worker.batches import Worker, decode_jobs, encode_images

log = logging.getLogger("diffusegae.worker")


class ModelNotLoaded(RuntimeError):
    """This worker could not load its model; the units it claims fail with the reason."""


class WorkerProcess:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.records = Records.connect(settings.redis_url, settings.key_prefix, settings.redis_timeout)
        self.store = Store(settings.store_dir)
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.editor = None  # diffusegae.editing.Editor once loaded
        self.fingerprint = ""  # of the loaded model folder: latents made by another model are redone
        self.model_status, self.model_error = "loading", None
        self._stop = threading.Event()
        Image.MAX_IMAGE_PIXELS = settings.max_image_pixels

    # --- lifecycle ---
    def start(self) -> None:
        """Start the heartbeat, then load the model (errors are reported, the worker stays up)."""
        threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True).start()
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
        from diffusegae.model_folder import ModelFolder

        torch.set_num_threads(self.settings.torch_thread_count())
        model_dir = self.settings.model_dir
        try:
            self.editor = Editor.load(model_dir, self.settings.device)
            self.fingerprint = ModelFolder(model_dir).fingerprint()
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

    # --- heartbeat: while it lives, this worker's claims are honoured ---
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

    # --- what the tasks call ---
    def run_encode(self, image_id: str) -> None:
        self._run(self.records.image_key(image_id), encode_images)

    def run_decode(self, job_id: str) -> None:
        self._run(self.records.job_key(job_id), decode_jobs)

    def _run(self, key: str, work: Callable[[Worker, list[str]], None]) -> None:
        """Claim `key` and its batch mates, run `work` on them; any error fails exactly the claimed units."""
        keys = self.claim(key)
        if not keys:
            log.info("%s: done, cancelled or taken by a live worker; nothing to do", key)
            return
        log.info("%s: claimed %d unit(s) for one sampler batch", key, len(keys))
        try:
            if self.editor is None:
                raise ModelNotLoaded(self.model_error or "the model is not loaded")
            work(Worker(self.records, self.store, self.editor, self.fingerprint, self.claim), keys)
        except Exception as e:
            log.exception("batch of %s failed", key)
            for k in keys:
                self.records.finish(k, FAILED, str(e) if isinstance(e, ModelNotLoaded) else f"{type(e).__name__}: {e}")

    def claim(self, key: str) -> list[str]:
        return self.records.claim(key, self.worker_id, self.settings.max_sampler_batch)
