"""Upload -> encode: ids are content hashes, the same bytes are encoded once, chunks match the model."""

from __future__ import annotations

import io

from PIL import Image

from tests.service.helpers import toy_png, upload, wait_image


def test_model_and_health(client):
    model = client.get("/api/model").json()
    assert model["attributes"] == ["identity", "background", "pose"]
    assert model["chunk_sizes"] == [6, 4, 4] and model["resolution"] == 16
    assert model["default_sampler"] in model["samplers"] and model["default_steps"] == 10
    health = client.get("/api/health").json()
    assert health == {**health, "status": "ok", "redis": True, "workers": 1, "api_keys": False}
    assert health["model"]["name"] == model["name"]
    assert "values" not in health["model"] and "examples" not in health["model"]  # those are /api/model's


def test_upload_encode_and_files(client, stack):
    data = toy_png(1, 3, 7, size=40, fmt="JPEG")
    r = upload(client, data, "toy.jpg")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] in ("queued", "encoding", "ready") and len(body["id"]) == 64
    ready = wait_image(client, body["id"])
    assert ready["status"] == "ready" and ready["progress"] == 1.0 and ready["error"] is None
    assert {a: len(c) for a, c in ready["chunks"].items()} == {"identity": 6, "background": 4, "pose": 4}
    seen = Image.open(io.BytesIO(client.get(f"/api/images/{body['id']}/image.png").content))
    assert seen.size == (16, 16)
    original = client.get(f"/api/images/{body['id']}/original")
    assert original.content == data and original.headers["content-type"] == "image/jpeg"
    listed = client.get("/api/images").json()["images"]
    assert listed[0]["id"] == body["id"]  # newest first


def test_same_bytes_are_encoded_once(client, stack, images):
    latents = stack.dir / "store" / "images" / images[0] / "latents.safetensors"
    before = latents.stat().st_mtime_ns
    again = upload(client, toy_png(0, 1, 2), "same-bytes-other-name.png")
    assert again.status_code == 202
    assert again.json()["id"] == images[0] and again.json()["status"] == "ready"
    assert latents.stat().st_mtime_ns == before


def test_image_json_carries_domain_and_crop(client):
    """Once encoded, an image says whether the model knows its kind (the tiny model is calibrated) and how it was
    cropped; a 640x480 photo-like JPEG is cropped to its centre square and flagged."""
    toy = wait_image(client, upload(client, toy_png(2, 3, 4, size=64), "toy64.png").json()["id"])
    assert toy["domain"] == {**toy["domain"], "in_domain": True}
    assert toy["domain"]["score"] <= toy["domain"]["threshold"]
    assert set(toy["domain"]["chunks"]) == {"identity", "background", "pose"}
    assert toy["crop"] == {"box": [0, 0, 64, 64], "cropped": False, "resized": True, "source_size": [64, 64],
                           "resolution": 16}

    from diffusegae.evaluation.ood import photos

    buf = io.BytesIO()
    photos(1, seed=0)[0].save(buf, "JPEG", quality=85)
    photo = wait_image(client, upload(client, buf.getvalue(), "photo.jpg").json()["id"])
    assert photo["status"] == "ready"
    assert photo["domain"]["in_domain"] is False and photo["domain"]["score"] > photo["domain"]["threshold"]
    assert photo["crop"] == {"box": [80, 0, 560, 480], "cropped": True, "resized": True, "source_size": [640, 480],
                             "resolution": 16}

    model = client.get("/api/model").json()
    assert model["description"] and model["examples"]
    example = client.get(model["examples"][0])
    assert example.status_code == 200 and example.headers["content-type"] == "image/png"
    assert client.get("/api/model/examples/99.png").status_code == 404
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert {"in_domain", "score", "threshold"} <= set(schema["DomainVerdict"]["properties"])
    assert "domain" in schema["ImageOut"]["properties"] and "crop" in schema["ImageOut"]["properties"]
