"""One worker process: its loaded model, its heartbeat, and the claiming of units for its tasks.

One `WorkerProcess` per Celery worker process (the model is loaded once). A task hands it one
unit (`run_encode(image_id)` / `run_decode(job_id)`): it claims the unit plus other queued units of
the same group (one sampler batch, see core.records for the claim protocol) and gives the claimed
keys to `worker.batches`, which does the work and closes the records.

Its watchdog thread beats the heartbeat, sends again the tasks of units whose worker died, and ends
this process (exit code 75) when its Celery consumer can no longer be trusted: after Redis was
unreachable (Celery's consumer may never consume again after a failed acknowledgement), or when it
sits idle while its queue has messages. The supervisor (`server.supervisor`) starts a new one.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

import redis
from PIL import Image

from core import metrics, retention
from core.models import DomainCheck, ServedModel, StepRange
from core.queue import RESTART_EXIT_CODE, Dispatcher, waiting_messages
from core.records import FAILED, Records
from core.settings import Settings
from core.store import Store
from worker.batches import Worker, decode_jobs, encode_images

log = logging.getLogger("diffusegae.worker")

STALLED_AFTER_S = 30.0  # idle this long while the queue has messages: the consumer is stuck
ORPHAN_SWEEP_S = 10.0  # how often running units of dead workers are looked for
GIVE_BACK_PAUSE_S = 1.0  # before a unit of another deployment goes back to the queue


class ModelNotLoaded(RuntimeError):
    """This worker could not load its model; the units it claims fail with the reason."""


class WorkerProcess:
    def __init__(self, settings: Settings, dispatcher: Dispatcher) -> None:
        self.settings = settings
        self.records = Records.connect(settings.redis_url, settings.key_prefix, settings.redis_timeout)
        self.store = Store(settings.store_dir)
        self.deployment = self.store.identity()  # units another deployment wrote are given back (core.deployment)
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.editor = None  # diffusegae.editing.Editor once loaded
        self.fingerprint = ""  # of the loaded model folder: latents made by another model are redone
        self.examples: list[bytes] = []  # PNGs of images the model knows (model.json "examples")
        self.served: ServedModel | None = None  # the loaded model's contract, built once at load, published every beat
        self.model_status, self.model_error = "loading", None
        self.dispatcher = dispatcher
        self._stop = threading.Event()
        self._busy = False
        self._idle_since = time.monotonic()
        self._waiting_since: float | None = None  # idle with messages in the queue since
        self._redis_lost = False
        Image.MAX_IMAGE_PIXELS = settings.max_image_pixels

    # --- lifecycle ---
    def start(self) -> None:
        """Start the heartbeat, then load the model (errors are reported, the worker stays up)."""
        threading.Thread(target=self._watchdog_loop, name="watchdog", daemon=True).start()
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
            load_started = time.monotonic()
            self.editor = Editor.load(model_dir, self.settings.device, runtime=self.settings.runtime,
                                      threads=self.settings.torch_thread_count(), cache_dir=self.settings.onnx_cache_dir,
                                      bf16_min_batch=self.settings.bf16_min_batch)
            self.fingerprint = ModelFolder(model_dir).fingerprint()
            self.examples = [p.read_bytes() for p in ModelFolder(model_dir).example_files()]
        except (CheckpointError, OSError, RuntimeError, ValueError) as e:
            self.model_status, self.model_error = "error", f"cannot load the model in {model_dir}: {e}"
            log.error(self.model_error)
            self._safe_beat()
            return
        self.served = self._contract()
        self.model_status = "ready"
        if self.editor.domain is None:
            log.warning("model %s has no domain statistics (%s/domain): encoded images get no domain score and "
                        "out-of-domain images are not flagged; run diffusegae calibrate-domain --model %s",
                        self.editor.info.name, model_dir, model_dir)
        metrics.model_loaded(time.monotonic() - load_started, str(self.editor.device))
        self._safe_beat()
        log.info("worker %s: model %s loaded on %s, runtime %s (%s)", self.worker_id, self.editor.info.name,
                 self.editor.device, self.editor.runtime.name, self.editor.runtime.detail)

    def _contract(self) -> ServedModel:
        """The loaded model's contract (core.models), as this worker publishes it."""
        info, domain = self.editor.info, self.editor.domain
        return ServedModel(
            name=info.name, fingerprint=self.fingerprint, resolution=info.resolution, attributes=info.attributes,
            chunk_sizes=info.chunk_sizes, values=dict(zip(info.attributes, info.values)),
            num_timesteps=info.num_timesteps, steps=StepRange(min=info.min_steps, max=info.num_timesteps),
            default_steps=info.default_steps, default_sampler=info.default_sampler, samplers=info.samplers,
            spacing=info.spacing, description=info.description, dataset=info.dataset, examples=len(self.examples),
            example_labels=info.example_labels,
            domain=DomainCheck(score=domain.config.score) if domain is not None else None,
            device=str(self.editor.device), runtime=self.editor.runtime.name, runtime_note=self.editor.runtime.note)

    # --- heartbeat: while it lives, this worker's claims are honoured ---
    def _beat_once(self) -> None:
        model = self.served.model_dump(mode="json") if self.served else None
        info = {"id": self.worker_id, "hostname": socket.gethostname(), "pid": os.getpid(), "store": self.deployment,
                "model_status": self.model_status, "model_error": self.model_error, "model": model}
        self.records.heartbeat(self.worker_id, info, self.settings.heartbeat_ttl)
        if self.model_status == "ready":  # again on every beat: survives Redis losing its data
            self.records.publish_model(model)
            self.records.publish_examples(self.examples)

    def _safe_beat(self) -> bool:
        try:
            self._beat_once()
        except Exception as e:  # Redis down: keep trying; the API reports it
            if not self._redis_lost:
                log.warning("Redis is unreachable (%s); this worker restarts once it is back", e)
            self._redis_lost = True
            return False
        return True

    def _watchdog_loop(self) -> None:
        period = min(self.settings.heartbeat_ttl / 3, 5.0)
        retention_every = min(60.0, self.settings.retention_s / 2)
        last_sweep = last_retention = 0.0
        while not self._stop.wait(period):
            if not self._safe_beat():
                continue
            if self._redis_lost:
                self.restart("Redis is reachable again after an outage")
            try:
                if time.monotonic() - last_sweep >= ORPHAN_SWEEP_S and self.model_status == "ready":
                    last_sweep = time.monotonic()
                    self.send_orphans_again()
                if time.monotonic() - last_retention >= retention_every:
                    last_retention = time.monotonic()
                    retention.sweep(self.records, self.store, self.settings.retention_s)
                self._check_consuming()
            except Exception as e:  # a Redis hiccup between the beat and here: the next round retries
                log.warning("watchdog: %s", e)

    def send_orphans_again(self) -> None:
        """Send a task again for every running unit whose worker died; its claim is free, so it is redone."""
        for key in self.records.orphans():
            log.info("%s: its worker died; sending its task again", key)
            self._send_again(key)

    def _send_again(self, key: str) -> None:
        unit = self.records.id_of(key)
        if self.records.is_image_key(key):
            self.dispatcher.encode(unit)
        else:
            self.dispatcher.decode(unit, self.records.lane_of(key))

    def _check_consuming(self) -> None:
        """A worker idle for STALLED_AFTER_S while its queue holds messages is not consuming: restart it."""
        if self._busy or waiting_messages(self.records, self.settings) == 0:
            self._waiting_since = None
            return
        now = time.monotonic()
        self._waiting_since = self._waiting_since or now
        idle_for = min(now - self._waiting_since, now - self._idle_since)
        if idle_for >= STALLED_AFTER_S:
            self.restart(f"idle for {idle_for:.0f} s while the queue has messages")

    def restart(self, why: str) -> None:
        """End this process at once; its supervisor starts a fresh one (whose Celery consumer works)."""
        log.error("worker %s restarts: %s", self.worker_id, why)
        try:
            self.records.drop_heartbeat(self.worker_id)  # its claims are free now: no waiting for the TTL
        except Exception:
            pass
        logging.shutdown()
        os._exit(RESTART_EXIT_CODE)

    # --- what the tasks call ---
    def run_encode(self, image_id: str) -> None:
        self._run(self.records.image_key(image_id), encode_images)

    def run_decode(self, job_id: str) -> None:
        self._run(self.records.job_key(job_id), decode_jobs)

    def _run(self, key: str, work: Callable[[Worker, list[str]], None]) -> None:
        """Claim `key` and its batch mates, run `work` on them; any error fails exactly the claimed units."""
        owner = self.records.fields(key, "deployment")["deployment"]
        if owner and owner != self.deployment:
            self.give_back(key, owner)
            return
        keys = self.claim(key)
        if not keys:
            log.info("%s: done, cancelled or taken by a live worker; nothing to do", key)
            metrics.unclaimed(self.records, key)
            return
        log.info("%s: claimed %d unit(s) for one sampler batch", key, len(keys))
        self._busy = True
        try:
            if self.editor is None:
                raise ModelNotLoaded(self.model_error or "the model is not loaded")
            work(Worker(self.records, self.store, self.editor, self.fingerprint, self.claim,
                        self.settings.x0_preview_min_steps), keys)
        except redis.ConnectionError:
            # Redis went away mid-batch: the units stay claimed by this worker, whose restart frees them.
            log.exception("batch of %s: Redis is unreachable", key)
            raise
        except Exception as e:
            log.exception("batch of %s failed", key)
            for k in keys:
                self.records.finish(k, FAILED, str(e) if isinstance(e, ModelNotLoaded) else f"{type(e).__name__}: {e}")
        finally:
            self._busy = False
            self._idle_since = time.monotonic()
            metrics.units_closed(self.records, keys)

    def give_back(self, key: str, owner: str) -> None:
        """A unit of another deployment (same key prefix, another store): its task goes back to the queue, unclaimed.

        The pause keeps two deployments from passing one task back and forth at full speed while they share a
        prefix; `diffusegae serve` refuses to start in that case, so it lasts only until one of them is stopped."""
        log.error("%s belongs to the deployment of store %s, not this worker's (%s): giving its task back to the queue; "
                  "give each deployment its own DGAE_KEY_PREFIX", key, owner, self.deployment)
        self._stop.wait(GIVE_BACK_PAUSE_S)
        self._send_again(key)

    def claim(self, key: str) -> list[str]:
        """`key` and queued units of its group, up to the batch size of its lane."""
        interactive = self.records.lane_of(key) == "interactive"
        limit = self.settings.max_sampler_batch if interactive else self.settings.max_bulk_batch
        return self.records.claim(key, self.worker_id, limit)
