"""Redis down -> 503 with a clear message; the API recovers by itself when Redis is back."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import pytest
from fastapi.testclient import TestClient

from backend.api.main import create_app
from core.settings import Settings
from tests.fake_model import fake_model, publish_fake
from tests.service.helpers import toy_png
from tests.stack import free_port, stop_process, wait_for


def _redis(port: int, workdir: str) -> subprocess.Popen:
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", workdir], stdout=subprocess.DEVNULL)
    wait_for(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode == 0, 10,
             what="redis-server")
    return proc


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_redis_down_then_back(tmp_path):
    """A private Redis (the shared one stays up), so it can be stopped and started again."""
    port, workdir = free_port(), tempfile.mkdtemp()
    settings = Settings(redis_url=f"redis://127.0.0.1:{port}/0", key_prefix="down:", queue="down", store_dir=tmp_path,
                        redis_timeout=0.5, frontend_dir=tmp_path / "no-ui")
    proc = _redis(port, workdir)
    try:
        with TestClient(create_app(settings)) as client:
            assert client.get("/api/images").status_code == 200
            stop_process(proc)
            for method, path, kw in (("GET", "/api/images", {}), ("GET", "/api/model", {}),
                                     ("GET", "/api/jobs/" + "1" * 32, {}),
                                     ("POST", "/api/images", {"files": {"file": ("a.png", toy_png(0, 0, 0))}})):
                r = client.request(method, path, **kw)
                assert r.status_code == 503, (path, r.status_code, r.text)
                assert "Redis is unavailable" in r.json()["detail"]
            health = client.get("/api/health")
            assert health.status_code == 200 and health.json()["redis"] is False and health.json()["status"] == "degraded"
            proc = _redis(port, workdir)
            publish_fake(client.app.state.services.records, fake_model())  # what a worker's next beat does
            r = client.post("/api/images", files={"file": ("a.png", toy_png(0, 0, 0))})
            assert r.status_code == 202, r.text
            assert client.get("/api/health").json()["redis"] is True
    finally:
        stop_process(proc)
