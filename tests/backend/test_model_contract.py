"""The typed model contract (core.models): request limits come from the served model, spacing from model.json."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
from pydantic import ValidationError

from core.models import ServedModel
from tests.fake_model import fake_model

BASE = "a" * 64  # not uploaded: a request that passes validation is a 404 for it


def test_a_model_with_T_200_refuses_more_steps_with_422(no_worker_api):
    client, services = no_worker_api
    services.records.publish_model(fake_model(num_timesteps=200, default_steps=10))
    assert client.get("/api/model").json()["limits"]["steps"] == [1, 200]
    for path, body in (("/api/recombine", {"base": BASE}), ("/api/interpolate", {"base": BASE, "donor": BASE}),
                       ("/api/batches", {"items": [{"base": BASE}]})):
        key = "items" if path == "/api/batches" else None
        too_many = {"items": [{**body["items"][0], "steps": 500}]} if key else {**body, "steps": 500}
        r = client.post(path, json=too_many)
        assert r.status_code == 422, (path, r.text)
        assert "steps" in r.json()["detail"] and "1..200" in r.json()["detail"] and "T = 200" in r.json()["detail"]
        within = {"items": [{**body["items"][0], "steps": 200}]} if key else {**body, "steps": 200}
        assert client.post(path, json=within).status_code == 404, path  # valid; the image is not there


def test_the_same_request_runs_on_a_model_with_T_1000(no_worker_api):
    client, services = no_worker_api
    services.records.publish_model(fake_model(num_timesteps=1000))
    assert client.post("/api/recombine", json={"base": BASE, "steps": 500}).status_code == 404
    assert client.post("/api/recombine", json={"base": BASE, "steps": 1001}).status_code == 422


def test_a_published_model_of_another_shape_is_a_503_not_a_crash(no_worker_api):
    client, services = no_worker_api
    services.records.publish_model({"name": "old", "attributes": ["a"]})  # an older worker's dict
    r = client.post("/api/recombine", json={"base": BASE})
    assert r.status_code == 503 and "same release" in r.json()["detail"]


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
