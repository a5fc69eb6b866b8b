"""No secret in a response or a log line: the Redis password, API keys given in URLs."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import httpx
import pytest
from fastapi.testclient import TestClient

from backend.api.main import create_app
from core.settings import Settings, redacted
from tests.stack import Stack, free_port, stop_process, wait_for

PASSWORD = "pw-4f1c9e27d3"
KEY = "key-9b2e51f0aa77"


def test_redacted_urls_keep_the_address_and_drop_the_credentials():
    assert redacted(f"redis://:{PASSWORD}@127.0.0.1:6380/0") == "redis://***@127.0.0.1:6380/0"
    assert redacted(f"redis://user:{PASSWORD}@[::1]:6380/2") == "redis://***@[::1]:6380/2"
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_health_and_errors_never_show_the_redis_password(tmp_path):
    settings = Settings(redis_url=f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0", key_prefix="sec:", store_dir=tmp_path,
                        redis_timeout=0.3, frontend_dir=tmp_path / "no-ui")
    with TestClient(create_app(settings)) as client:
        for path in ("/api/health", "/api/images", "/api/model"):
            r = client.get(path)
            assert PASSWORD not in r.text, (path, r.text)
        assert "Redis does not answer at redis://***@127.0.0.1" in client.get("/api/health").json()["detail"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_serve_logs_neither_the_redis_password_nor_api_keys(tiny_model):
    port, workdir = free_port(), tempfile.mkdtemp()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                              "--dir", workdir, "--requirepass", PASSWORD], stdout=subprocess.DEVNULL)
    try:
        url = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
        wait_for(lambda: subprocess.run(["redis-cli", "-p", str(port), "-a", PASSWORD, "--no-auth-warning", "ping"],
                                        capture_output=True).stdout.strip() == b"PONG", 10, what="redis-server")
        with Stack(tiny_model, redis_url=url, env={"DGAE_API_KEYS": KEY}) as stack:
            _, base = stack.start_serve()
            stack.wait_healthy(base, timeout=90, headers={"X-API-Key": KEY})
            assert httpx.get(f"{base}/api/images?api_key={KEY}").status_code == 200
            assert httpx.get(f"{base}/api/images?limit=5&api_key={KEY}&x=1").status_code in (200, 422)
            logs = stack.logs(tail=200_000)
            assert "api_key=***" in logs
            assert PASSWORD not in logs and KEY not in logs
    finally:
        stop_process(redis)
        shutil.rmtree(workdir, ignore_errors=True)
