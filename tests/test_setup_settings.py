"""Set-up honours its own settings: scripts/setup.sh's Redis step (scripts/redis.sh) uses DGAE_REDIS_URL, and the
tests use DGAE_TEST_REDIS_URL. Each test runs the real script against a private port and stops what it started."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.stack import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
REDIS_SH = ROOT / "scripts" / "redis.sh"

needs_redis_server = pytest.mark.skipif(shutil.which("redis-server") is None or shutil.which("redis-cli") is None,
                                        reason="needs redis-server and redis-cli (bash scripts/setup.sh installs them)")


def _run(url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"} | {"DGAE_REDIS_URL": url}
    return subprocess.run(["bash", str(REDIS_SH)], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)


class _Started:
    """The redis-server redis.sh started on `port` (found by its pid file); stopped by that pid only."""

    def __init__(self, port: int) -> None:
        self.dir = Path(f"/tmp/diffusegae-redis-{port}")
        self.pid: int | None = None

    def read_pid(self) -> int:
        self.pid = int((self.dir / "redis.pid").read_text())
        return self.pid

    def stop(self) -> None:
        if self.pid is None and (self.dir / "redis.pid").is_file():
            self.read_pid()
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                wait_for(lambda: not Path(f"/proc/{self.pid}").exists(), 10, what="redis-server to stop")
            except ProcessLookupError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_port():
    port = free_port()
    started = _Started(port)
    assert not started.dir.exists(), f"{started.dir} is left over from an earlier run"
    yield port, started
    started.stop()


def test_setup_runs_the_redis_step_with_no_fixed_address():
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert "bash scripts/redis.sh" in setup
    assert "6379" not in setup.replace("redis://127.0.0.1:6379/0", ""), "setup.sh names a fixed Redis port"
    test_sh = (ROOT / "scripts" / "test.sh").read_text()
    assert 'DGAE_REDIS_URL="${DGAE_TEST_REDIS_URL:-redis://127.0.0.1:6379/12}" bash scripts/redis.sh' in test_sh


@needs_redis_server
def test_redis_step_starts_a_server_at_the_urls_port_and_reuses_it(private_port):
    port, started = private_port
    url = f"redis://127.0.0.1:{port}/0"
    r = _run(url)
    assert r.returncode == 0, r.stderr
    assert f"starting redis-server on 127.0.0.1:{port}" in r.stdout
    pid = started.read_pid()
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        assert client.ping()
        assert client.config_get("save")["save"] == ""  # no persistence
    finally:
        client.close()

    again = _run(url)  # already answers: nothing new is started
    assert again.returncode == 0 and "answers" in again.stdout and "starting" not in again.stdout, again.stdout
    assert started.read_pid() == pid


@needs_redis_server
def test_redis_step_requires_the_urls_password_and_never_shows_it(private_port):
    port, started = private_port
    secret = "s3cr@t pass"
    url = f"redis://:s3cr%40t%20pass@127.0.0.1:{port}/3"
    r = _run(url)
    assert r.returncode == 0, r.stderr
    output = r.stdout + r.stderr
    assert "s3cr" not in output and f"redis://:***@127.0.0.1:{port}/3" in output
    pid = started.read_pid()
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    assert "s3cr" not in cmdline, "the password is on redis-server's command line"

    with redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=2) as anonymous:
        with pytest.raises(redis.AuthenticationError):
            anonymous.ping()
    with redis.Redis(host="127.0.0.1", port=port, password=secret, socket_connect_timeout=2) as client:
        assert client.ping()
    again = _run(url)  # pings with the password
    assert again.returncode == 0 and "starting" not in again.stdout, again.stdout + again.stderr


def test_redis_step_refuses_a_url_that_is_not_redis():
    r = _run("http://127.0.0.1:1/0")
    assert r.returncode != 0 and "redis://" in r.stderr and "starting" not in r.stdout


def test_the_ui_tests_use_the_test_redis_url(tmp_path):
    conftest = (ROOT / "tests" / "ui" / "conftest.py").read_text()
    assert "6379" not in conftest.replace("redis://127.0.0.1:6379/12", "")
    assert "redis_answers(TEST_REDIS_URL)" in conftest
    env = {**os.environ, "DGAE_TEST_REDIS_URL": "redis://127.0.0.1:1/5"}
    code = ("from tests.stack import TEST_REDIS_URL, Stack, redis_answers; "
            f"print(TEST_REDIS_URL, Stack('.', workdir={str(tmp_path)!r}).env['DGAE_REDIS_URL'], "
            "redis_answers(TEST_REDIS_URL, 0.5))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["redis://127.0.0.1:1/5", "redis://127.0.0.1:1/5", "False"]


@pytest.mark.skipif(not os.environ.get("DGAE_VENV"), reason="not run by scripts/test.sh (which exports DGAE_VENV)")
def test_the_suite_runs_in_the_projects_virtualenv():
    """scripts/test.sh runs pytest in the virtualenv scripts/setup.sh made (from DGAE_PYTHON when set: CI names
    Debian's /usr/bin/python3, whose own site-packages stay untouched)."""
    assert sys.prefix != sys.base_prefix, "pytest runs outside a virtualenv"
    assert Path(sys.prefix).resolve() == Path(os.environ["DGAE_VENV"]).resolve()
    base = os.environ.get("DGAE_PYTHON")
    if base and Path(base).is_absolute():
        made_from = subprocess.run([base, "-c", "import sys; print(sys.base_prefix)"], capture_output=True, text=True)
        assert made_from.stdout.strip() == sys.base_prefix
        bare = subprocess.run([base, "-c", "import torch, fastapi"], capture_output=True, text=True, cwd="/",
                              env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
        assert bare.returncode != 0, f"{base} itself has the project's packages: setup wrote outside the virtualenv"
