"""`diffusegae serve | api | worker`: the ways to run the service (the commands are in server/cli.py).

- serve: local mode, one command. Uses Redis at DGAE_REDIS_URL, or starts a private, non-persistent
  `redis-server` child when nothing answers on a local address; starts one Celery worker child
  process (`-P solo`, restarted if it dies) and runs the API in this process. Ctrl-C / SIGTERM
  stops everything it started.
- api: the FastAPI app alone (scaled mode).
- worker: one Celery worker process (scaled mode; one per GPU, pinned with CUDA_VISIBLE_DEVICES), as a
  supervised child: restarted when it exits (a worker restarts itself after a Redis outage).
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import redis

from core.deployment import NamespaceTaken, check_namespace, derived_prefix
from core.queue import RESTART_EXIT_CODE
from core.settings import ROOT, Settings, get_settings, redacted
from core.store import Store
from server.ports import check_free

log = logging.getLogger("diffusegae.serve")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "")
METRICS_PREFIX = "diffusegae-metrics-"  # private PROMETHEUS_MULTIPROC_DIR folders: <prefix><pid>-<random> in the temp dir


def _apply_args(args: argparse.Namespace) -> Settings:
    """Command-line options override the environment; children inherit them through it.

    Without DGAE_KEY_PREFIX the deployment's Redis namespace comes from its store (core.deployment)."""
    model = getattr(args, "model", None)
    if model is not None:
        os.environ["DGAE_MODEL_DIR"] = str(Path(model).resolve())
    served = getattr(args, "models", None)
    if served is not None:
        os.environ["DGAE_WORKER_MODELS"] = served
    if getattr(args, "train", False):
        os.environ["DGAE_WORKER_TRAIN"] = "1"
    get_settings.cache_clear()
    settings = get_settings()
    if "DGAE_KEY_PREFIX" not in os.environ:
        os.environ["DGAE_KEY_PREFIX"] = derived_prefix(Store.of(settings).identity())
        get_settings.cache_clear()
        settings = get_settings()
    os.environ.setdefault("OMP_NUM_THREADS", str(settings.torch_thread_count()))
    return settings


def _check_namespace(settings: Settings) -> None:
    """Refuse to start beside a live deployment of another store on the same key prefix (core.deployment)."""
    from core.records import Records

    records = Records.connect(settings.redis_url, settings.key_prefix, settings.redis_timeout)
    try:
        store = Store.of(settings)
        check_namespace(records, store.identity(), store.blobs.where)
    except NamespaceTaken as e:
        raise SystemExit(f"error: {e}") from None
    except redis.RedisError as e:  # Redis down: the API reports it and the worker waits for it; nothing to compare
        log.warning("could not check the Redis key prefix %r against other deployments: %s", settings.key_prefix, e)
    finally:
        records.close()


def _metrics_dir() -> Path:
    """The prometheus_client multiprocess folder this command and its children share (PROMETHEUS_MULTIPROC_DIR).

    Call it before anything imports prometheus_client. A folder the variable names is created if missing and
    the files of processes that are gone are removed (another command of this deployment may be using it);
    without the variable, this command owns a private folder, removed at exit (and at the next start if it was killed).
    """
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
    else:
        for old in Path(tempfile.gettempdir()).glob(f"{METRICS_PREFIX}*-*"):  # left by a command that was killed
            pid = old.name[len(METRICS_PREFIX):].split("-", 1)[0]
            if pid.isdigit() and not psutil.pid_exists(int(pid)):
                shutil.rmtree(old, ignore_errors=True)
        path = Path(tempfile.mkdtemp(prefix=f"{METRICS_PREFIX}{os.getpid()}-"))
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
        atexit.register(shutil.rmtree, path, True)

        def remove_then_die(signum: int, _frame: object) -> None:
            # uvicorn ends its process by raising SIGTERM again after a graceful shutdown: atexit would not run
            shutil.rmtree(path, ignore_errors=True)
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

        signal.signal(signal.SIGTERM, remove_then_die)  # `worker` sets its own handler after this, and exits normally
    from core import metrics  # imported only now that the variable is set

    removed = metrics.prepare_dir(path)
    log.info("metrics: PROMETHEUS_MULTIPROC_DIR=%s (%s%s)", path, "given" if given else "private, removed at exit",
             f", {removed} stale file(s) removed" if removed else "")
    return path


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _die_with_parent() -> None:
    """Children get SIGTERM if `serve` itself is killed (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _redis_ping(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def start_private_redis(url: str) -> subprocess.Popen | None:
    """Start a redis-server child for `url` when nothing answers there and the host is local."""
    if _redis_ping(url):
        log.info("using Redis at %s", redacted(url))
        return None
    parts = urlsplit(url)
    if parts.hostname not in LOCAL_HOSTS:
        raise SystemExit(f"Redis does not answer at {redacted(url)}, and it is not a local address this command could start it on")
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit(f"Redis does not answer at {redacted(url)} and redis-server is not installed: run `bash scripts/setup.sh` "
                         "(or apt-get install redis-server), or point DGAE_REDIS_URL at a running Redis")
    data = tempfile.mkdtemp(prefix="diffusegae-redis-")
    proc = subprocess.Popen([exe, "--port", str(parts.port or 6379), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", data], stdout=subprocess.DEVNULL,
                            preexec_fn=_die_with_parent)
    for _ in range(100):
        if _redis_ping(url):
            log.info("started a private redis-server (pid %d) at %s", proc.pid, redacted(url))
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"could not start redis-server for {redacted(url)}")


def worker_command(settings: Settings, name: str = "diffusegae") -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "-P", "solo", "-c", "1", "-Q", settings.queue,
            "-n", f"{name}-{os.getpid()}@%h", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
            "--without-heartbeat"]


class SupervisedWorker:
    """One Celery worker child process, restarted when it dies (as a crashed or killed worker would be)."""

    def __init__(self, settings: Settings, env: dict[str, str] | None = None, name: str = "diffusegae") -> None:
        self.cmd = worker_command(settings, name)
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            started = time.monotonic()
            self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env={**_child_env(), **self.env}, preexec_fn=_die_with_parent)
            code = self.proc.wait()
            from core import metrics

            metrics.process_dead(self.proc.pid)  # its live gauges (the model load time) go with it
            if self._stopping.is_set():
                return
            if code == RESTART_EXIT_CODE or time.monotonic() - started > 30:
                backoff = 1.0
            else:  # it died young: do not spin
                backoff = min(backoff * 2, 30.0)
            log.warning("the worker exited with %s; restarting in %.0f s", code, backoff)
            self._stopping.wait(backoff)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # warm shutdown: finishes the current task (an interrupted one is redelivered)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def serve(args: argparse.Namespace) -> None:
    """API + one embedded worker (+ a private Redis if none runs) on http://HOST:PORT."""
    check_free(args.host, args.port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    _metrics_dir()  # before the app imports prometheus_client; the worker child inherits it
    import uvicorn

    from backend.api.main import create_app

    settings = _apply_args(args)
    redis_proc = start_private_redis(settings.redis_url)
    _check_namespace(settings)
    worker = SupervisedWorker(settings)
    worker.start()
    # trainings in a process of their own, so that edits stay fast while one runs
    trainer = SupervisedWorker(settings, {"DGAE_WORKER_MODELS": "none", "DGAE_WORKER_TRAIN": "1"}, "diffusegae-train")
    trainer.start()
    print(f"DiffuseGAE Editor: http://{args.host}:{args.port}  (default model {settings.model_dir}, every model: "
          "/api/models, API docs at /docs)", flush=True)
    try:
        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    finally:
        trainer.stop()
        worker.stop()
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(10)


def api(args: argparse.Namespace) -> None:
    check_free(args.host, args.port)
    _metrics_dir()  # before the app imports prometheus_client
    import uvicorn

    from backend.api.main import create_app

    settings = _apply_args(args)
    _check_namespace(settings)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")


def worker(args: argparse.Namespace) -> None:
    """One supervised Celery worker child in the foreground; SIGTERM / Ctrl-C stop it (warm shutdown)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    _metrics_dir()  # an API's /metrics sees this worker's metrics when both name the same PROMETHEUS_MULTIPROC_DIR
    settings = _apply_args(args)
    _check_namespace(settings)
    supervised = SupervisedWorker(settings)
    done = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    supervised.start()
    done.wait()
    supervised.stop()
