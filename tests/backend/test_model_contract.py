"""The typed model contract (core.models): request limits come from the base image's model, spacing from model.json."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil

import pytest
from PIL import Image
from pydantic import ValidationError

from core.models import ServedModel
from tests.fake_model import fake_model, publish_fake


def _png(colour: tuple[int, int, int] = (200, 10, 10)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(out, format="PNG")
    return out.getvalue()


def _upload(client, model: str | None = None, colour: tuple[int, int, int] = (200, 10, 10)) -> str:
    r = client.post("/api/images", files={"file": ("x.png", _png(colour), "image/png")},
                    data={"model": model} if model else {})
    assert r.status_code == 202, r.text
    return r.json()["id"]


def test_a_model_with_T_200_refuses_more_steps_with_422(no_worker_api):
    client, services = no_worker_api
    publish_fake(services.records, fake_model(name="t200", num_timesteps=200, default_steps=10))
    base = _upload(client)
    assert client.get(f"/api/images/{base}").json()["model"] == "t200"
    assert client.get("/api/model").json()["limits"]["steps"] == [1, 200]
    for path, body in (("/api/recombine", {"base": base}), ("/api/interpolate", {"base": base, "donor": base}),
                       ("/api/batches", {"items": [{"base": base}]})):
        key = "items" if path == "/api/batches" else None
        too_many = {"items": [{**body["items"][0], "steps": 500}]} if key else {**body, "steps": 500}
        r = client.post(path, json=too_many)
        assert r.status_code == 422, (path, r.text)
        assert "steps" in r.json()["detail"] and "1..200" in r.json()["detail"] and "T = 200" in r.json()["detail"]
        within = {"items": [{**body["items"][0], "steps": 200}]} if key else {**body, "steps": 200}
        assert client.post(path, json=within).status_code == 202, path


def test_each_request_is_checked_against_its_base_images_model(no_worker_api):
    client, services = no_worker_api
    publish_fake(services.records, fake_model(name="t1000", num_timesteps=1000), fake_model(name="t200", num_timesteps=200))
    big, small = _upload(client), _upload(client, "t200")
    assert big != small  # the same bytes in another model are another image
    assert client.post("/api/recombine", json={"base": big, "steps": 500}).status_code == 202
    assert client.post("/api/recombine", json={"base": big, "steps": 1001}).status_code == 422
    assert client.post("/api/recombine", json={"base": small, "steps": 500}).status_code == 422
    r = client.post("/api/recombine", json={"base": small, "attributes": {"pose": {"donor": big}}})
    assert r.status_code == 422 and "t1000" in r.json()["detail"] and "t200" in r.json()["detail"], r.text
    assert f"/api/images/{big}/encode" in r.json()["detail"]


def test_a_published_model_of_another_shape_is_a_503_not_a_crash(no_worker_api):
    client, services = no_worker_api
    services.records.drop_model("fake")
    services.records.publish_models({"old": json.dumps({"name": "old", "attributes": ["a"]})})  # an older worker's
    r = client.post("/api/images", files={"file": ("x.png", _png(), "image/png")})
    assert r.status_code == 503, r.text


def test_the_contract_refuses_an_inconsistent_model():
    good = fake_model()
    with pytest.raises(ValidationError, match="default_steps"):
        ServedModel.model_validate({**good, "default_steps": 2000})
    with pytest.raises(ValidationError, match="same attributes"):
        ServedModel.model_validate({**good, "chunk_sizes": [6, 4]})
    with pytest.raises(ValidationError, match="extra"):
        ServedModel.model_validate({**good, "colour": "blue"})


def test_spacing_round_trips_through_model_json_and_the_editor_uses_it(tiny_model, tmp_path):
    from diffusegae.checkpoint import CheckpointError
    from diffusegae.editing import Editor
    from diffusegae.fitting.steps import write_choice
    from diffusegae.model_folder import ModelFolder

    copy = ModelFolder(shutil.copytree(tiny_model, tmp_path / "m"))
    assert copy.read_manifest().spacing == "lambda"  # absent from older model.json files: the library's default
    write_choice(copy, {"steps": 4, "sampler": "ddim", "spacing": "trailing"})
    assert json.loads(copy.manifest_path.read_text())["spacing"] == "trailing"
    manifest = copy.read_manifest()
    assert (manifest.default_steps, manifest.spacing) == (4, "trailing")
    ed = Editor.load(copy.root, "cpu")
    assert ed.info.spacing == "trailing" and ed.info.num_timesteps == ed.ae.cfg.num_timesteps
    assert ed._check(4, "ddim")[0] == ed.ae.schedule.timesteps(4, "trailing") != ed.ae.schedule.timesteps(4, "lambda")
    copy.write_manifest(dataclasses.replace(manifest, spacing="linspace"))
    assert Editor.load(copy.root, "cpu").info.min_steps == 2
    copy.manifest_path.write_text(copy.manifest_path.read_text().replace('"linspace"', '"spiral"'))
    with pytest.raises(CheckpointError, match="spacing"):
        copy.read_manifest()
