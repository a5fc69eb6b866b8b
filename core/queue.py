"""The Celery app both halves share: the API sends tasks by name, the worker runs them.

Building it imports Celery only (no torch, no task code): `worker.app` adds the tasks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from celery import Celery

from core.models import model_queue
from core.records.keys import Keys
from core.settings import Settings
from core.specs import ENCODE_LANE, Lane

if TYPE_CHECKING:
    from core.records import Records

ENCODE_TASK = "diffusegae.encode"  # (image id): encode one image, merged with other queued encodes
# Message priorities in the Redis transport (0 first): a worker takes every waiting interactive task before a bulk one.
PRIORITY = {"interactive": 0, "bulk": 9}
RESTART_EXIT_CODE = 75  # EX_TEMPFAIL: a worker process that ends with it asks its supervisor for a fresh one
DECODE_TASK = "diffusegae.decode"  # (job id): run one recombine/interpolate job, merged with its sampler group
TRAIN_TASK = "diffusegae.train"  # (job id): run one training (core.specs.TrainSpec)


def make_celery(settings: Settings, include: tuple[str, ...] = ()) -> Celery:
    app = Celery("diffusegae", broker=settings.redis_url, include=list(include))
    app.conf.update(
        task_default_queue=settings.queue,
        task_ignore_result=True,  # state and progress live in our own records (one task may serve many jobs)
        task_acks_late=True,  # a task is acknowledged after it ran: a killed worker's task is redelivered
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # long tasks: take one at a time
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=settings.redis_timeout,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout,
            "unacked_restore_interval": settings.restore_interval,
            "unacked_restore_throttle": 1,
            "global_keyprefix": Keys(settings.key_prefix).celery,
            "socket_connect_timeout": settings.redis_timeout,
            "priority_steps": sorted(PRIORITY.values()),
        },
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        worker_enable_remote_control=False,
    )
    return app


class Dispatcher:
    """Sends the task that processes one unit (see core.records), on the queue of the unit's model."""

    def __init__(self, app: Celery, queue: str) -> None:
        self.app, self.queue = app, queue

    def encode(self, image_id: str, model: str) -> None:
        self.app.send_task(ENCODE_TASK, args=[image_id], queue=model_queue(self.queue, model),
                           priority=PRIORITY[ENCODE_LANE])

    def decode(self, job_id: str, lane: Lane, model: str) -> None:
        self.app.send_task(DECODE_TASK, args=[job_id], queue=model_queue(self.queue, model), priority=PRIORITY[lane])

    def train(self, job_id: str) -> None:
        self.app.send_task(TRAIN_TASK, args=[job_id], queue=train_queue(self.queue), priority=PRIORITY["bulk"])


def train_queue(queue: str) -> str:
    """The Celery queue of trainings ('+' is in no model name: no model's queue is this one)."""
    return f"{queue}+train"


def queue_lists(settings: Settings, model: str) -> dict[str, str]:
    """The Redis list Celery's transport keeps for each lane of a model's queue (its key naming: queue, queue + sep +
    priority)."""
    base = f"{Keys(settings.key_prefix).celery}{model_queue(settings.queue, model)}"
    return {lane: base if p == 0 else f"{base}\x06\x16{p}" for lane, p in PRIORITY.items()}


def waiting_messages(records: Records, settings: Settings, models: list[str]) -> dict[str, int]:
    """Task messages waiting in each model's queue, all lanes."""
    lists = [(m, name) for m in models for name in queue_lists(settings, m).values()]
    out = dict.fromkeys(models, 0)
    for (m, _), n in zip(lists, records.lengths(name for _, name in lists)):
        out[m] += n
    return out
