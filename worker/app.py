"""The Celery app the workers run: `celery -A worker.app worker -P solo -c 1` (one process per GPU).

`diffusegae worker` starts exactly that; settings come from the environment (backend.core.config).
"""

from __future__ import annotations

from backend.core.config import get_settings
from backend.core.queue import make_celery

app = make_celery(get_settings(), include=("worker.tasks",))
