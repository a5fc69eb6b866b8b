"""One worker process: its models, its heartbeat, and the claiming of units for its tasks.

One `WorkerProcess` per Celery worker process. It serves some of the registered models (worker.models:
it consumes their queues and loads each on first use, a few at a time). A task hands it one unit
(`run_encode(image_id)` / `run_decode(job_id)`): it claims the unit plus other queued units of the
same group (one sampler batch of one model, see core.records for the claim protocol), loads the
unit's model and gives the claimed keys to `worker.batches`, which does the work and closes the records.

Its watchdog thread beats the heartbeat, sends again the tasks of units whose worker died, and ends
this process (exit code 75) when its Celery consumer can no longer be trusted: after Redis was
unreachable (Celery's consumer may never consume again after a failed acknowledgement), or when it
sits idle while its queues have messages. The supervisor (`server.supervisor`) starts a new one. It also
publishes the registry (every model's entry and files, for the API) and fails units queued for a model
that no live worker serves, once they waited DGAE_UNSERVED_TIMEOUT.
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
from core.blobs import StoreUnavailable
from core.models import ALL_MODELS, serves
from core.queue import RESTART_EXIT_CODE, Dispatcher, waiting_messages
from core.records import FAILED, Records
from core.settings import Settings
from core.specs import TRAIN_GROUP, model_of_group, spec_model
from core.store import Store
from worker.batches import Worker, decode_jobs, encode_images
from worker.models import ModelSet, ModelUnavailable, model_files
from worker.recent import RecentLatents

log = logging.getLogger("diffusegae.worker")

STALLED_AFTER_S = 30.0  # idle this long while the queue has messages: the consumer is stuck
ORPHAN_SWEEP_S = 10.0  # how often running units of dead workers are looked for
GIVE_BACK_PAUSE_S = 1.0  # before a unit of another deployment goes back to the queue
STORE_RETRY_S = 300.0  # a batch whose writes the object store refuses is tried again for this long
TRAINER_NICENESS = 10  # a trainings-only worker yields the CPU to the model workers beside it


class WorkerProcess:
    def __init__(self, settings: Settings, dispatcher: Dispatcher) -> None:
        self.settings = settings
        self.records = Records.connect(settings.redis_url, settings.key_prefix, settings.redis_timeout)
        self.store = Store.of(settings)
        self.deployment = self.store.identity()  # units another deployment wrote are given back (core.deployment)
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.models = ModelSet(settings, self.store.blobs)
        self._published: set[str] = set()  # the registry entries this worker published last
        self.dispatcher = dispatcher
        self._stop = threading.Event()
        self._busy = False
        self._idle_since = time.monotonic()
        self._waiting_since: float | None = None  # idle with messages in the queue since
        self._redis_lost = False
        self.recent = RecentLatents()
        self._live: tuple[float, list[dict]] | None = None  # the live workers' heartbeats and when they were read
        Image.MAX_IMAGE_PIXELS = settings.max_image_pixels

    # --- lifecycle ---
    def start(self) -> None:
        """Start the heartbeat, then load the default model when this worker serves it (so that the first request
        does not wait for it; a failure is reported, the worker stays up)."""
        import torch

        torch.set_num_threads(self.settings.torch_thread_count())
        if self.settings.worker_train and not self.models.serves_all() and not self.models.served_names():
            os.nice(TRAINER_NICENESS)  # a worker for trainings only: edits on the same machine go first
            log.info("worker %s runs trainings only, at niceness +%d", self.worker_id, TRAINER_NICENESS)
        threading.Thread(target=self._watchdog_loop, name="watchdog", daemon=True).start()
        if self.models.serves_model(self.models.default):
            try:
                self.models.get(self.models.default)
            except ModelUnavailable:
                pass  # in the heartbeat: the API says why
        self._safe_beat()

    def stop(self) -> None:
        self._stop.set()
        try:
            self.records.drop_heartbeat(self.worker_id)
        except Exception:  # Redis gone at shutdown: the key expires by itself
            pass

    # --- heartbeat: while it lives, this worker's claims are honoured ---
    def _beat_once(self) -> None:
        serves = [ALL_MODELS] if self.models.serves_all() else self.models.served_names()
        info = {"id": self.worker_id, "hostname": socket.gethostname(), "pid": os.getpid(), "store": self.deployment,
                "serves": serves, "default": self.models.default, "loaded": self.models.loaded(),
                "max_models": self.settings.max_models, "train": self.settings.worker_train}
        self.records.heartbeat(self.worker_id, info, self.settings.heartbeat_ttl)
        try:
            entries, folders = self.models.entries()
        except StoreUnavailable as e:  # what was published stays; the API reports the store in /api/health
            log.warning("the registry cannot be read: %s", e)
            return
        # the registry, again on every beat: it survives Redis losing its data and shows models registered since;
        # a model this worker published and no longer finds was removed; other workers' entries are theirs to drop
        self.records.publish_models({n: e.model_dump_json() for n, e in entries.items()}, self._published - set(entries))
        self._published = set(entries)
        for name, entry in entries.items():
            fingerprint = entry.contract.fingerprint if entry.contract else ""
            if fingerprint and self.records.model_files_fingerprint(name) != fingerprint:
                self.records.publish_model_files(name, fingerprint, model_files(folders[name]))

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
                if time.monotonic() - last_sweep >= ORPHAN_SWEEP_S:
                    last_sweep = time.monotonic()
                    self.send_orphans_again()
                    self.fail_unserved()
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
        if self.records.fields(key, "kind")["kind"] == "train":
            self.dispatcher.train(unit)
            return
        model = self.model_of(key)
        if self.records.is_image_key(key):
            self.dispatcher.encode(unit, model)
        else:
            self.dispatcher.decode(unit, self.records.lane_of(key), model)

    def model_of(self, key: str) -> str:
        """The model a unit runs in: an image's `model_name`, a job's spec's `model` (records from before models
        were named: the default model)."""
        if self.records.is_image_key(key):
            return self.records.fields(key, "model_name")["model_name"] or self.models.default
        return spec_model(self.records.fields(key, "spec")["spec"]) or self.models.default

    def fail_unserved(self) -> None:
        """Fail the units that waited DGAE_UNSERVED_TIMEOUT for a model no live worker serves."""
        workers = self.records.workers()
        registered = set(self.records.models())
        cutoff = time.time() - self.settings.unserved_timeout
        for group, oldest in self.records.pending_groups().items():
            if group == TRAIN_GROUP:
                if oldest >= cutoff or any(w.get("train") for w in workers):
                    continue
                why = (f"no live worker runs trainings: this waited {self.settings.unserved_timeout:.0f} s "
                       "(DGAE_UNSERVED_TIMEOUT) for one; start one with diffusegae worker --train")
            else:
                model = model_of_group(group)
                if oldest >= cutoff or any(serves(w, model, registered) for w in workers):
                    continue
                why = (f"no live worker serves model {model!r}: this waited {self.settings.unserved_timeout:.0f} s "
                       "(DGAE_UNSERVED_TIMEOUT) for one; start a worker with --models " + model)
            for key in self.records.fail_queued(group, cutoff, why):
                log.warning("%s: %s", key, why)

    def _check_consuming(self) -> None:
        """A worker idle for STALLED_AFTER_S while its queues hold messages is not consuming: restart it."""
        if self._busy or not any(waiting_messages(self.records, self.settings, self.models.served_names()).values()):
            self._waiting_since = None
            return
        now = time.monotonic()
        self._waiting_since = self._waiting_since or now
        idle_for = min(now - self._waiting_since, now - self._idle_since)
        if idle_for >= STALLED_AFTER_S:
            self.restart(f"idle for {idle_for:.0f} s while its queues have messages")

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

    def run_train(self, job_id: str) -> None:
        """Claim a training job alone and run it (worker.training); any error fails it with the reason."""
        from worker.training import run_training

        key = self.records.job_key(job_id)
        if not self._ours(key):
            return
        if not self.records.claim(key, self.worker_id, 1):
            log.info("%s: done, cancelled or taken by a live worker; nothing to do", key)
            return
        self._execute(key, [key], lambda: run_training(self.records, self.store, self.models.registry, key))

    def _run(self, key: str, work: Callable[[Worker, list[str]], None]) -> None:
        """Claim `key` and its batch mates, run `work` on them in their model; any error fails exactly the claimed
        units."""
        if not self._ours(key):
            return
        model = self.model_of(key)
        if not self.models.serves_model(model):  # a task sent to a queue this worker reads before models had queues
            log.info("%s: model %s is not served here; sending its task to that model's queue", key, model)
            self._send_again(key)
            return
        keys = self.claim(key)
        if not keys:
            log.info("%s: done, cancelled or taken by a live worker; nothing to do", key)
            metrics.unclaimed(self.records, key)
            return
        log.info("%s: claimed %d unit(s) of model %s for one sampler batch", key, len(keys), model)

        def attempt() -> None:
            held = self.models.get(model)
            work(Worker(self.records, self.store, model, held.editor, held.fingerprint, self.claim,
                        self.settings.x0_preview_min_steps, self.recent), keys)

        try:
            self._execute(key, keys, attempt)
        finally:
            metrics.units_closed(self.records, keys)

    def _ours(self, key: str) -> bool:
        """Whether `key` is this deployment's unit; another's goes back to the queue (core.deployment)."""
        owner = self.records.fields(key, "deployment")["deployment"]
        if owner and owner != self.deployment:
            self.give_back(key, owner)
            return False
        return True

    def _execute(self, key: str, keys: list[str], attempt: Callable[[], None]) -> None:
        """Run the claimed units' work; any error fails exactly them, with the reason."""
        self._busy = True
        try:
            self._until_stored(attempt, key)
        except redis.ConnectionError:
            # Redis went away mid-batch: the units stay claimed by this worker, whose restart frees them.
            log.exception("work of %s: Redis is unreachable", key)
            raise
        except Exception as e:
            from worker.training import TrainingError

            log.exception("work of %s failed", key)
            for k in keys:
                self.records.finish(k, FAILED, str(e) if isinstance(e, ModelUnavailable | TrainingError)
                                    else f"{type(e).__name__}: {e}")
        finally:
            self._busy = False
            self._idle_since = time.monotonic()

    def _until_stored(self, run: Callable[[], None], key: str) -> None:
        """Run a batch; while the object store does not answer, run it again with backoff (its units stay claimed:
        the work is redone whole, which is harmless, core.records) for up to STORE_RETRY_S, then fail it."""
        waited, pause = 0.0, 1.0
        while True:
            try:
                return run()
            except StoreUnavailable as e:
                if waited >= STORE_RETRY_S:
                    raise
                log.warning("batch of %s: %s; trying again in %.0f s", key, e, pause)
                self._stop.wait(pause)
                waited, pause = waited + pause, min(pause * 2, 30.0)

    def give_back(self, key: str, owner: str) -> None:
        """A unit of another deployment (same key prefix, another store): its task goes back to the queue, unclaimed.

        The pause keeps two deployments from passing one task back and forth at full speed while they share a
        prefix; `diffusegae serve` refuses to start in that case, so it lasts only until one of them is stopped."""
        log.error("%s belongs to the deployment of store %s, not this worker's (%s): giving its task back to the queue; "
                  "give each deployment its own DGAE_KEY_PREFIX", key, owner, self.deployment)
        self._stop.wait(GIVE_BACK_PAUSE_S)
        self._send_again(key)

    def claim(self, key: str) -> list[str]:
        """`key` and queued units of its group, up to the batch size of its lane and this worker's share of them
        among the idle workers serving its model (core/records/lua/claim.lua)."""
        interactive = self.records.lane_of(key) == "interactive"
        limit = self.settings.max_sampler_batch if interactive else self.settings.max_bulk_batch
        return self.records.claim(key, self.worker_id, limit, self.peers(self.model_of(key)))

    def peers(self, model: str) -> list[str]:
        """The other live workers of this deployment that serve `model` (the heartbeats, read at most once a second)."""
        now = time.monotonic()
        if self._live is None or now - self._live[0] > 1.0:
            self._live = (now, self.records.workers())
        return [w["id"] for w in self._live[1] if w.get("id") != self.worker_id and w.get("store") == self.deployment
                and (ALL_MODELS in w.get("serves", ()) or model in w.get("serves", ()))]

