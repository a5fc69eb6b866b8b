"""A job says when one of its images is unlike the model's training images (its `warnings`), from the verdicts
the image records hold; no worker: the verdicts are written into the records as a worker would."""

from __future__ import annotations

import io
import json

from PIL import Image

from core.records import SUCCEEDED

OUT = {"in_domain": False, "score": 0.42, "threshold": 0.14,
       "chunks": {"identity": {"in_domain": False, "score": 0.3, "threshold": 0.05},
                  "pose": {"in_domain": True, "score": 0.01, "threshold": 0.05}}}
IN = {"in_domain": True, "score": 0.03, "threshold": 0.14, "chunks": {}}


def _upload(client, colour: tuple[int, int, int]) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buf, format="PNG")
    r = client.post("/api/images", files={"file": (f"{colour}.png", buf.getvalue(), "image/png")})
    assert r.status_code == 202, r.text
    return r.json()["id"]


def _images(client, services) -> tuple[str, str, str, str]:
    """In domain, out of domain, encoded by a model without domain statistics, not encoded yet."""
    known, unknown, no_verdict, encoding = (_upload(client, c) for c in ((1, 2, 3), (4, 5, 6), (7, 8, 9), (9, 9, 9)))
    for image, domain in ((known, json.dumps(IN)), (unknown, json.dumps(OUT)), (no_verdict, "")):
        services.records.set_fields(services.records.image_key(image), state=SUCCEEDED, domain=domain)
    return known, unknown, no_verdict, encoding


def test_an_unfamiliar_donor_or_base_is_a_warning_of_the_job(no_worker_api):
    client, services = no_worker_api
    known, unknown, no_verdict, encoding = _images(client, services)

    r = client.post("/api/recombine", json={"base": known, "attributes": {
        "background": {"donor": unknown}, "pose": {"donor": no_verdict}, "identity": {"donor": encoding}}})
    assert r.status_code == 202, r.text
    [warning] = r.json()["warnings"]
    assert {k: warning[k] for k in ("image", "role", "attribute")} == {"image": unknown, "role": "donor",
                                                                       "attribute": "background"}
    message = warning["message"]
    assert "does not look like what the model was trained on" in message and "may be unreliable" in message
    assert "score 0.42 > 0.14" in message and "unfamiliar: identity" in message and "pose" not in message
    assert client.get(f"/api/jobs/{r.json()['id']}").json()["warnings"] == [warning]

    base = client.post("/api/recombine", json={"base": unknown}).json()["warnings"]
    assert [(w["image"], w["role"], w["attribute"]) for w in base] == [(unknown, "base", None)]
    assert base[0]["message"].startswith("The base image")

    frames = client.post("/api/interpolate", json={"base": known, "donor": unknown}).json()["warnings"]
    assert [(w["image"], w["role"], w["attribute"]) for w in frames] == [(unknown, "donor", None)]


def test_images_in_domain_or_without_a_verdict_give_no_warning(no_worker_api):
    client, services = no_worker_api
    known, _, no_verdict, encoding = _images(client, services)
    r = client.post("/api/recombine", json={"base": known, "attributes": {
        "background": {"donor": no_verdict}, "pose": {"donor": encoding}}})
    assert r.status_code == 202 and r.json()["warnings"] == [], r.text
    r = client.post("/api/interpolate", json={"base": no_verdict, "donor": known})
    assert r.status_code == 202 and r.json()["warnings"] == [], r.text


def test_batch_items_carry_their_warnings(no_worker_api):
    client, services = no_worker_api
    known, unknown, _, _ = _images(client, services)
    r = client.post("/api/batches", json={"items": [{"base": known, "attributes": {"pose": {"donor": unknown}}},
                                                    {"base": known}]})
    assert r.status_code == 202, r.text
    items = client.get(f"/api/batches/{r.json()['id']}").json()["items"]
    assert [[(w["image"], w["attribute"]) for w in item["warnings"]] for item in items] == [[(unknown, "pose")], []]


def test_the_schema_documents_the_warnings(no_worker_api):
    client, _ = no_worker_api
    schemas = client.app.openapi()["components"]["schemas"]
    for model in ("JobOut", "BatchItemOut"):
        field = schemas[model]["properties"]["warnings"]
        assert field["items"] == {"$ref": "#/components/schemas/DomainWarning"} and field["description"], model
    assert set(schemas["DomainWarning"]["properties"]) == {"image", "role", "attribute", "message"}
