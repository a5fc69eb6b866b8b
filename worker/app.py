"""The Celery app the workers run: `celery -A worker.app worker -P solo -c 1` (one process per GPU).

`diffusegae worker` starts exactly that; settings come from the environment (core.settings). Which
queues it consumes follows from the models it serves (`ServedQueues`), not from the command line.
"""

from __future__ import annotations

from celery import bootsteps

from core.queue import make_celery
from core.settings import get_settings

QUEUE_REFRESH_S = 2.0  # how soon a worker that serves all models consumes the queue of a newly registered one

app = make_celery(get_settings(), include=("worker.tasks",))


class ServedQueues(bootsteps.StartStopStep):
    """Consume the queue of every model this worker serves, and of every model registered later (with `all`).

    Runs in the consumer's event loop (its timer), where Celery's own add_consumer control command would."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent, **kwargs) -> None:
        super().__init__(parent, **kwargs)
        self.consuming: set[str] = set()
        self.timer = None

    def start(self, c) -> None:
        self.add_new(c)
        self.timer = c.timer.call_repeatedly(QUEUE_REFRESH_S, self.add_new, (c,), priority=10)

    def stop(self, c) -> None:
        if self.timer is not None:
            self.timer.cancel()

    def add_new(self, c) -> None:
        from core.blobs import StoreUnavailable
        from worker.tasks import ModelTask

        try:
            queues = ModelTask.current().models.queues()
        except StoreUnavailable:  # the registry cannot be read now: the next round tries again
            return
        for queue in queues:
            if queue not in self.consuming:
                c.add_task_queue(queue, routing_key=queue)
                self.consuming.add(queue)


app.steps["consumer"].add(ServedQueues)
