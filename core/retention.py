"""Retention: records and their files are deleted once unused for `DGAE_RETENTION_S` (workers run `sweep`).

Every image, job and batch is indexed by when it was last used (`Records.touch`: an upload of the same
bytes or a job naming an image counts as a use). A record unused since the cutoff and not open (queued or
running) is deleted from Redis first, atomically with that check, then its files. Images that an open
job names are touched at every sweep, so they outlive the job however long it waits.
"""

from __future__ import annotations

import logging
import time

from pydantic import ValidationError

from core.records import Records
from core.specs import parse_job_spec
from core.store import Store

log = logging.getLogger("diffusegae.retention")


def sweep(records: Records, store: Store, retention_s: float, *, now: float | None = None) -> int:
    """Delete what was unused for `retention_s` seconds -> how many records were deleted."""
    cutoff = (time.time() if now is None else now) - retention_s
    for job in records.open_jobs():
        try:
            images = parse_job_spec(records.fields(job, "spec")["spec"]).image_ids()
        except ValidationError:
            continue  # a broken record: its job fails when a worker reads it
        for image in images:
            records.touch(records.image_key(image))
    deleted = 0
    for key in records.unused_since(cutoff):
        if not records.forget(key, cutoff):
            continue
        deleted += 1
        unit = records.id_of(key)
        kind = records.kind_of(key)
        if kind == "image":
            store.forget_image(unit)
        elif kind == "job":
            store.forget_job(unit)
    if deleted:
        log.info("retention: deleted %d record(s) unused for %.0f s, with their files", deleted, retention_s)
    return deleted
