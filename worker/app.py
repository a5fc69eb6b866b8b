"""The Celery app the workers run: `celery -A worker.app worker -P solo -c 1` (one process per GPU).

`diffusegae worker` starts exactly that; settings come from the environment (core.settings).
"""

from __future__ import annotations

from core.queue import make_celery
from core.settings import get_settings

app = make_celery(get_settings(), include=("worker.tasks",))
