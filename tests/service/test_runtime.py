"""The worker runs the model with the runtime DGAE_RUNTIME names and says which in /api/model and /api/health."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from tests.service.helpers import toy_png, upload, wait_image
from tests.stack import Stack

pytest.importorskip("onnxruntime")


def _edit_png(client: httpx.Client) -> Image.Image:
    base = upload(client, toy_png(1, 2, 3), "base.png").json()["id"]
    assert wait_image(client, base)["status"] == "ready"
    r = client.post("/api/recombine?wait=60", json={"base": base, "steps": 3})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text[:300]
    return Image.open(io.BytesIO(r.content))


@pytest.mark.parametrize("runtime", ["onnx", "torch"])
def test_the_worker_uses_the_runtime_the_setting_names(tiny_model, runtime):
    with Stack(tiny_model, env={"DGAE_RUNTIME": runtime}) as stack:
        stack.start_worker()
        url = stack.start_api()
        health = stack.wait_healthy(url, timeout=120)
        assert health["model"]["runtime"] == runtime, stack.logs()
        with httpx.Client(base_url=url, timeout=60) as client:
            model = client.get("/api/model").json()
            assert model["runtime"] == runtime and model["runtime_note"] == ""
            assert _edit_png(client).size == (16, 16)


def test_a_worker_whose_onnx_export_fails_runs_torch_and_says_why(tiny_model, tmp_path):
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where the export cache should be")
    with Stack(tiny_model, env={"DGAE_RUNTIME": "onnx", "DGAE_ONNX_CACHE_DIR": str(not_a_folder)}) as stack:
        stack.start_worker()
        url = stack.start_api()
        model = stack.wait_healthy(url, timeout=120)["model"]
        assert model["runtime"] == "torch" and "onnx runtime not used" in model["runtime_note"]
        with httpx.Client(base_url=url, timeout=60) as client:
            assert _edit_png(client).size == (16, 16)
