"""The one-command local mode: `diffusegae serve` starts the worker itself and serves API and UI."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.service.helpers import toy_png, upload, wait_image
from tests.stack import Stack, stop_process, wait_for


@pytest.mark.slow
def test_serve_one_command(tiny_model):
    with Stack(tiny_model) as stack:
        proc, url = stack.start_serve()
        stack.wait_healthy(url)
        with httpx.Client(base_url=url, timeout=60) as client:
            image = upload(client, toy_png(1, 2, 3)).json()["id"]
            assert wait_image(client, image)["status"] == "ready"
            r = client.post("/api/recombine?wait=30", json={"base": image, "attributes": {"pose": {"donor": image}}})
            assert r.status_code == 200 and r.headers["content-type"] == "image/png"
            assert client.get("/docs").status_code == 200
        children = _children(proc.pid)
        assert children, "serve started no worker process"
        stop_process(proc, timeout=20)
        assert proc.returncode is not None
        wait_for(lambda: not any(_alive(pid) for pid in children), 15, what="serve's children to exit")


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def test_a_taken_port_is_one_line_naming_it_and_the_flag(tmp_path):
    import socket
    import subprocess
    import sys

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "server.cli", "serve", "--port", str(port)], capture_output=True,
                           text=True, timeout=60, cwd=tmp_path)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {port} on 127.0.0.1 is taken by pid" in lines[0] and "--port" in lines[0], r.stderr
    assert "http://" not in r.stdout  # no URL announced for a server that cannot start
