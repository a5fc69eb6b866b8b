"""Thin tasks: take an id, hand it to the process's Runner (which holds the loaded model)."""

from __future__ import annotations

from typing import Any

from celery import Task
from celery.signals import worker_init, worker_shutdown

from backend.core.config import get_settings
from backend.core.queue import PROCESS_TASK
from worker.app import app
from worker.runtime import Runner


class ModelTask(Task):
    """Base class holding the per-process Runner: the model is loaded once per worker process."""

    _runner: Runner | None = None

    @property
    def runner(self) -> Runner:
        if ModelTask._runner is None:
            ModelTask._runner = Runner(get_settings())
            ModelTask._runner.start()
        return ModelTask._runner


@app.task(name=PROCESS_TASK, base=ModelTask, bind=True, acks_late=True, ignore_result=True)
def process(self: ModelTask, kind: str, unit_id: str) -> None:
    """Encode an image ("encode") or run a recombination/interpolation job ("decode"), merged with
    whatever else of the same kind is queued; idempotent (see backend.core.records)."""
    if kind not in ("encode", "decode"):
        raise ValueError(f"unknown kind {kind!r}")
    self.runner.process(kind, unit_id)


@worker_init.connect
def _load_model(**_: Any) -> None:
    """Load the model before consuming, so the first request does not pay for it."""
    process.runner  # noqa: B018 (creates and starts the Runner)


@worker_shutdown.connect
def _stop(**_: Any) -> None:
    if ModelTask._runner is not None:
        ModelTask._runner.stop()
