"""The queue as a caller sees it: how much waits per lane, and where each of the caller's jobs stands."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import OwnerDep, ServicesDep
from backend.api.registry import read_models
from backend.api.routes.health import serving
from backend.api.schemas import QueueJob, QueueOut
from core.records import QUEUED, RUNNING

router = APIRouter(prefix="/api/queue", tags=["jobs"])


@router.get("", response_model=QueueOut)
def get_queue(s: ServicesDep, owner: OwnerDep) -> QueueOut:
    """Queued units per lane, live workers, per model its workers and queue depth, and the caller's queued and
    running jobs with how many queued units a worker takes before each (interactive edits go before bulk work)."""
    ids = s.records.owned_jobs(owner)
    recs = s.records.get_many(s.records.job_key(j) for j in ids)
    jobs = [QueueJob(id=j, state=r["state"], queue_position=s.records.queue_position(r))
            for j, r in zip(ids, recs) if r and r.get("state") in (QUEUED, RUNNING)]
    view = read_models(s)
    return QueueOut(waiting=s.records.waiting(), workers=len(view.workers), models=serving(s, view), jobs=jobs)
