"""A request with a field the API does not know is a 422 naming it, never a job run without it: a misspelt
`wieght` used to run at weight 1.0. Every request body of the OpenAPI document is walked, each object in it
(nested models too) gets one unknown field; no worker is needed, validation answers before any job is made."""

from __future__ import annotations

import copy
import io
import zipfile
from typing import Any

import pytest
from PIL import Image

from backend.api.bodies import parse_spec
from backend.api.uploads import UploadError
from tests.backend.conftest import MODEL

ID = "ab" * 32  # an image id nobody uploaded: a body that validates answers 404


def _resolve(schema: dict[str, Any], doc: dict[str, Any], local: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"].get(name) or local["$defs"][name]
    return schema


def _example(schema: dict[str, Any], doc: dict[str, Any], local: dict[str, Any], path: tuple,
             models: list[tuple[tuple, dict[str, Any]]], name: str = "") -> Any:
    """A value `schema` accepts; every object with properties on the way is listed in `models` by its path."""
    schema = _resolve(schema, doc, local)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return _example(options[0], doc, local, path, models, name)
    kind = schema.get("type")
    if kind == "object" and "properties" in schema:
        models.append((path, schema))
        required = set(schema.get("required", ()))
        return {key: _optional(sub) if key not in required and _has_default(sub)
                else _example(sub, doc, local, (*path, key), models, key) for key, sub in schema["properties"].items()}
    if kind == "object":  # a map, e.g. attribute -> edit
        return {"background": _example(schema["additionalProperties"], doc, local, (*path, "background"), models)}
    if kind == "array":
        return [_example(schema["items"], doc, local, (*path, 0), models, name)]
    if "enum" in schema:
        return schema["enum"][0]
    return {"string": ID if name in ("base", "donor") else "background", "integer": int(schema.get("minimum", 0)),
            "number": 1.0, "boolean": False}[kind]


def _has_default(schema: dict[str, Any]) -> bool:
    return "default" in schema or any(s.get("type") == "null" for s in schema.get("anyOf", ()))  # null: not shown


def _optional(schema: dict[str, Any]) -> Any:
    return schema.get("default")


def _with_field(body: Any, path: tuple, key: str) -> Any:
    body = copy.deepcopy(body)
    target = body
    for step in path:
        target = target[step]
    target[key] = 1
    return body


def _json_bodies(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op["requestBody"]["content"]["application/json"]["schema"])
            for path, ops in doc["paths"].items() for method, op in ops.items()
            if "application/json" in op.get("requestBody", {}).get("content", {})]


def test_every_json_body_refuses_an_unknown_field_anywhere(no_worker_api):
    client, _ = no_worker_api
    doc = client.app.openapi()
    bodies = _json_bodies(doc)
    assert {(m, p) for m, p, _ in bodies} >= {("post", "/api/recombine"), ("post", "/api/interpolate"),
                                              ("post", "/api/batches")}
    covered = set()
    for method, path, schema in bodies:
        models: list[tuple[tuple, dict[str, Any]]] = []
        body = _example(schema, doc, schema, (), models)
        r = client.request(method, path, json=body)
        assert r.status_code == 404, (path, body, r.text)  # valid: only the made-up image id is wrong
        for where, model in models:
            covered.add(model.get("title"))
            assert model.get("additionalProperties") is False, (path, where, model.get("title"))
            unknown = "zz_" + "_".join(map(str, where)) + "_unknown"
            r = client.request(method, path, json=_with_field(body, where, unknown))
            assert r.status_code == 422, (path, where, r.text)
            detail = r.json()["detail"]
            assert unknown in detail and "unknown field" in detail, (path, where, detail)
            if where and isinstance(where[-1], str):  # the path to it too, e.g. attributes.background.zz_..
                assert f"{where[-1]}.{unknown}" in detail, (path, where, detail)
    assert covered >= {"RecombineRequest", "AttributeEdit", "InterpolateRequest", "BatchRequest"}, covered


def test_every_multipart_form_refuses_an_unknown_field(no_worker_api):
    client, _ = no_worker_api
    forms = [path for path, ops in client.app.openapi()["paths"].items() for op in ops.values()
             if "multipart/form-data" in op.get("requestBody", {}).get("content", {})]
    assert set(forms) == {"/api/images", "/api/batches", "/api/datasets"}
    for path in forms:
        r = client.post(path, files={"file": ("a.zip", _zip())}, data={"spec": "[]", "zz_form_unknown": "1"})
        assert r.status_code == 422 and "zz_form_unknown" in r.json()["detail"], (path, r.text)


@pytest.mark.parametrize(("attributes", "field"), [
    ({"pose": {"valeu": "3"}}, "attributes.pose.valeu"),  # used to answer 200 with the base unchanged
    ({"pose": {"donor": ID, "wieght": 0.5}}, "attributes.pose.wieght"),  # used to run at weight 1.0
])
def test_a_misspelt_edit_is_refused(no_worker_api, attributes, field):
    client, _ = no_worker_api
    r = client.post("/api/recombine", json={"base": ID, "attributes": attributes})
    assert r.status_code == 422 and field in r.json()["detail"], r.text
    assert [e["loc"] for e in r.json()["errors"]] == [["body", *field.split(".")]]


def test_a_method_the_api_does_not_have_is_refused(no_worker_api):
    client, _ = no_worker_api  # "method": "asyrp" used to run the GAE swap (before methods existed: unknown field)
    r = client.post("/api/recombine", json={"base": ID, "method": "asyrp"})
    assert r.status_code == 422 and "body.method: Input should be 'gae' or 'diffae'" in r.json()["detail"], r.text


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.png", _png())
    return buf.getvalue()


@pytest.mark.parametrize(("spec", "words"), [
    ('[{"base": "a.png", "wieght": 1}]', "items[0].wieght: unknown field"),
    ('[{"base": "a.png", "attributes": {"pose": {"donor": "a.png", "wieght": 1}}}]', "items[0].attributes.pose.wieght"),
    ('{"items": [{"base": "a.png"}], "callback_url": "http://x/"}', "['callback_url']"),
    ("base,pose,pose_wieght\na.png,a.png,0.5\n", "pose_wieght"),
])
def test_a_batch_spec_with_unknown_fields_or_columns_is_refused(no_worker_api, spec, words):
    client, services = no_worker_api
    r = client.post("/api/batches", files={"file": ("images.zip", _zip())}, data={"spec": spec})
    assert r.status_code == 422 and words in r.json()["detail"], r.text
    assert services.records.owned_images("public", 10) == [], "nothing is stored before the whole batch is checked"


def test_a_json_batch_with_an_unknown_top_level_field_is_refused(no_worker_api):
    client, _ = no_worker_api
    r = client.post("/api/batches", json={"items": [{"base": ID}], "callbak_url": "http://x/"})
    assert r.status_code == 422 and "callbak_url" in r.json()["detail"], r.text


def test_the_spec_parser_names_unknown_fields():
    with pytest.raises(UploadError) as e:
        parse_spec('{"items": [], "priority": 1}', MODEL["attributes"])
    assert e.value.status == 422 and "priority" in e.value.message
