"""Prometheus metrics of the service: defined here, written by the API and the workers, read at `GET /metrics`.

The API and the workers are separate processes, so the metrics use `prometheus_client`'s multiprocess
mode: every process writes its values to files in the folder `PROMETHEUS_MULTIPROC_DIR` (one folder for
the API and the workers of one deployment on one machine), and a scrape of the API adds them up. The
variable must be set before `prometheus_client` is imported; `diffusegae serve | api | worker` see to it
(server/supervisor.py): they use the folder the variable names (created if missing, files of dead
processes removed) or make a private one that they remove at exit. Without the variable, each process
keeps its own values in memory (and the API's /metrics shows only its own).

What each metric means is in README.md ("Metrics"). Label values are route templates, kinds, states,
lanes and devices: never an image, job or batch id, never a key.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import redis
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily, Metric

from core.queue import queue_lists

if TYPE_CHECKING:
    from core.records import Records
    from core.settings import Settings

log = logging.getLogger("diffusegae.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
KINDS = frozenset({"encode", "recombine", "interpolate"})  # label values of `kind` (anything else: "other")
_CLOSED = frozenset({"succeeded", "failed", "cancelled"})


def multiproc_dir() -> Path | None:
    path = os.environ.get(MULTIPROC_ENV)
    return Path(path) if path else None


if (_dir := multiproc_dir()) is not None:
    _dir.mkdir(parents=True, exist_ok=True)  # the files go there from the first metric on
    if not getattr(values.ValueClass, "_multiprocess", False):  # prometheus_client was imported before the variable was set
        values.ValueClass = values.get_value_class()


# --- the API: requests ---
REQUESTS = Counter("diffusegae_http_requests", "HTTP requests answered, by method, route template and status",
                   ["method", "route", "status"])
REQUEST_SECONDS = Histogram("diffusegae_http_request_duration_seconds", "Time from a request's arrival to the end of its response",
                            ["method", "route"])

# --- the workers: units of work (an image's encoding, a recombine or interpolate job) ---
JOBS = Counter("diffusegae_jobs", "Units of work a worker saw end, by kind (encode, recombine, interpolate) and final state",
               ["kind", "state"])
JOB_WAIT_SECONDS = Histogram("diffusegae_job_wait_seconds", "Time a unit waited from queued to claimed by a worker, by kind",
                             ["kind"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800))
JOB_RUN_SECONDS = Histogram("diffusegae_job_run_seconds", "Time from claimed to succeeded or failed, by kind",
                            ["kind"], buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600))
BATCH_SIZE = Histogram("diffusegae_sampler_batch_size", "Rows in one sampler batch (images encoded, or decoded rows), by op",
                       ["op"], buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
BATCH_STEPS = Histogram("diffusegae_sampler_steps", "Sampler steps of one sampler batch, by op",
                        ["op"], buckets=(5, 10, 20, 50, 100, 250, 500, 1000))
ENCODES = Counter("diffusegae_encodes", "Images run through the model's encoder (not counting ones found already encoded)")
MODEL_LOAD_SECONDS = Gauge("diffusegae_model_load_seconds", "How long this worker process took to load its model",
                           ["device"], multiprocess_mode="liveall")

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _quiet(f: Callable[..., None]) -> Callable[..., None]:
    """What the API and the workers call never raises: a metric that cannot be recorded (Redis away, a full disk)
    does not fail a request or a batch."""

    @functools.wraps(f)
    def wrapper(*args: object, **kwargs: object) -> None:
        try:
            f(*args, **kwargs)
        except Exception:
            log.debug("metric not recorded (%s)", f.__name__, exc_info=True)

    return wrapper


# --- what the API calls ---
@_quiet
def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    method = method if method in _METHODS else "other"
    REQUESTS.labels(method, route, str(status)).inc()
    REQUEST_SECONDS.labels(method, route).observe(seconds)


# --- what the workers call ---
@_quiet
def model_loaded(seconds: float, device: str) -> None:
    MODEL_LOAD_SECONDS.labels(device).set(seconds)


@_quiet
def sampler_batch(op: str, rows: int, steps: int) -> None:
    """One sampler batch ran (`op`: "encode" or "decode")."""
    BATCH_SIZE.labels(op).observe(rows)
    BATCH_STEPS.labels(op).observe(steps)
    if op == "encode":
        ENCODES.inc(rows)


def _kind(records: Records, key: str, rec_kind: str | None) -> str:
    kind = "encode" if records.is_image_key(key) else (rec_kind or "")
    return kind if kind in KINDS else "other"


def _float(v: str | None) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except ValueError:
        return None


@_quiet
def units_closed(records: Records, keys: list[str], waited: bool = True) -> None:
    """A worker is done with the units it claimed (`keys`): count each that ended, with its wait and run times.

    `waited`: the units came through the queue (False for images a decode batch encoded on the spot, whose
    wait is not a queue's). Never raises: metrics do not fail a batch.
    """
    if not keys:
        return
    names = ("state", "kind", "created", "queued_at", "started", "finished")
    for key, rec in zip(keys, records.many_fields(keys, *names)):
        state, kind, created, queued_at, started, finished = (rec[n] for n in names)
        if state not in _CLOSED:
            continue  # still running: the worker lost Redis mid-batch, its restart redoes it
        kind = _kind(records, key, kind)
        JOBS.labels(kind, state).inc()
        t_queued, t_started, t_finished = _float(queued_at or created), _float(started), _float(finished)
        if waited and t_queued is not None and t_started is not None:
            JOB_WAIT_SECONDS.labels(kind).observe(max(0.0, t_started - t_queued))
        if state != "cancelled" and t_started is not None and t_finished is not None:
            JOB_RUN_SECONDS.labels(kind).observe(max(0.0, t_finished - t_started))


@_quiet
def unclaimed(records: Records, key: str) -> None:
    """A task found its unit already taken or ended: count it if it was cancelled before any worker claimed it
    (no worker closes such a unit; a unit claimed and then cancelled is counted by the worker that claimed it)."""
    state, kind, started = records.fields(key, "state", "kind", "started").values()
    if state == "cancelled" and not started:
        JOBS.labels(_kind(records, key, kind), state).inc()


# --- the scrape (the API) ---
class DeploymentCollector:
    """Gauges read from Redis at scrape time: whether Redis answers, task messages waiting per lane, live workers."""

    def __init__(self, records: Records, settings: Settings) -> None:
        self.records, self.settings = records, settings

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("diffusegae_redis_up", "1 when Redis answered this scrape, else 0 (and the gauges below are absent)")
        depth = GaugeMetricFamily("diffusegae_queue_depth", "Task messages waiting in a model's queue (not yet taken by "
                                  "a worker), by model and lane", labels=["model", "lane"])
        workers = GaugeMetricFamily("diffusegae_workers", "Worker processes with a live heartbeat")
        try:
            lanes = [(m, lane, name) for m in sorted(self.records.models())
                     for lane, name in queue_lists(self.settings, m).items()]
            lengths = self.records.lengths(name for _, _, name in lanes)
            live = len(self.records.workers())
        except redis.RedisError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for (model, lane, _), n in zip(lanes, lengths):
            depth.add_metric([model, lane], int(n))
        workers.add_metric([], live)
        yield from (up, depth, workers)


class _Together:
    def __init__(self, collectors: Iterable) -> None:
        self.collectors = list(collectors)

    def collect(self) -> Iterator[Metric]:
        for c in self.collectors:
            yield from c.collect()


def exposition(*extra: object) -> bytes:
    """The Prometheus text of every process's metrics (multiprocess mode: all files in the folder; else this
    process's registry) plus the `extra` collectors."""
    if multiproc_dir() is not None:
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(_Together([registry, *extra]))  # type: ignore[arg-type]


# --- the folder (server/supervisor.py) ---
def _pid_of(path: Path) -> int | None:
    """The process id in a file name of the multiprocess folder (`counter_123.db`, `gauge_liveall_123.db`)."""
    try:
        return int(path.stem.rsplit("_", 1)[1])
    except (IndexError, ValueError):
        return None


def prepare_dir(path: Path) -> int:
    """Create the multiprocess folder if missing and remove the files of processes that are gone (stale values
    of an earlier run); files of live processes (another command of this deployment) are kept. -> files removed."""
    path.mkdir(parents=True, exist_ok=True)
    removed = 0
    for f in path.glob("*.db"):
        pid = _pid_of(f)
        if pid is not None and pid != os.getpid() and not psutil.pid_exists(pid):
            f.unlink(missing_ok=True)
            removed += 1
    return removed


def process_dead(pid: int) -> None:
    """A worker process ended: drop its live gauges (as prometheus_client asks of a process manager)."""
    if multiproc_dir() is None:
        return
    from prometheus_client import multiprocess

    try:
        multiprocess.mark_process_dead(pid)
    except OSError:
        log.debug("mark_process_dead(%d) failed", pid, exc_info=True)
