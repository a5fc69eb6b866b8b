"""Thin tasks: take an id, hand it to the process's WorkerProcess (which holds the loaded models)."""

from __future__ import annotations

from typing import Any

from celery import Task
from celery.signals import worker_init, worker_shutdown

from core.queue import DECODE_TASK, ENCODE_TASK, TRAIN_TASK, Dispatcher
from core.settings import get_settings
from worker.app import app
from worker.process import WorkerProcess


class ModelTask(Task):
    """Base class holding the per-process WorkerProcess: each model is loaded once per worker process."""

    _process: WorkerProcess | None = None

    @staticmethod
    def current() -> WorkerProcess:
        if ModelTask._process is None:
            settings = get_settings()
            ModelTask._process = WorkerProcess(settings, Dispatcher(app, settings.queue))
            ModelTask._process.start()
        return ModelTask._process

    @property
    def process(self) -> WorkerProcess:
        return ModelTask.current()


@app.task(name=ENCODE_TASK, base=ModelTask, bind=True, acks_late=True, ignore_result=True)
def encode(self: ModelTask, image_id: str) -> None:
    """Encode one image, merged with the other queued encodes; idempotent (see core.records)."""
    self.process.run_encode(image_id)


@app.task(name=DECODE_TASK, base=ModelTask, bind=True, acks_late=True, ignore_result=True)
def decode(self: ModelTask, job_id: str) -> None:
    """Run one recombine or interpolate job, merged with queued jobs of its sampler group; idempotent."""
    self.process.run_decode(job_id)


@app.task(name=TRAIN_TASK, base=ModelTask, bind=True, acks_late=True, ignore_result=True)
def train(self: ModelTask, job_id: str) -> None:
    """Run one training job (core.specs.TrainSpec) to a registered model; idempotent (a finished job stays so)."""
    self.process.run_train(job_id)


@worker_init.connect
def _load_model(**_: Any) -> None:
    """Load the default model before consuming, so the first request does not pay for it."""
    encode.process  # noqa: B018 (creates and starts the WorkerProcess)


@worker_shutdown.connect
def _stop(**_: Any) -> None:
    if ModelTask._process is not None:
        ModelTask._process.stop()
