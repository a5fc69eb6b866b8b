"""An edit that uses an image unlike the model's training images says so in its job JSON (`warnings`), with
the verdict the worker stored when it encoded the image; an edit of known images has none."""

from __future__ import annotations

import io

from tests.service.helpers import upload, wait_image, wait_job


def _photo() -> bytes:
    from diffusegae.evaluation.ood import photos

    buf = io.BytesIO()
    photos(1, seed=0)[0].save(buf, "JPEG", quality=85)
    return buf.getvalue()


def test_an_out_of_domain_donor_is_a_warning_and_known_images_are_not(client, images):
    base, donor, _ = images
    photo = wait_image(client, upload(client, _photo(), "photo.jpg").json()["id"])
    assert photo["status"] == "ready" and photo["domain"]["in_domain"] is False, photo

    r = client.post("/api/recombine", json={"base": base, "attributes": {"background": {"donor": photo["id"]}}, "steps": 2})
    assert r.status_code == 202, r.text
    job = r.json()
    assert [(w["image"], w["role"], w["attribute"]) for w in job["warnings"]] == [(photo["id"], "donor", "background")]
    assert "does not look like what the model was trained on" in job["warnings"][0]["message"]
    done = wait_job(client, job["id"])
    assert done["state"] == "succeeded" and done["warnings"] == job["warnings"]

    as_base = client.post("/api/interpolate", json={"base": photo["id"], "donor": donor, "frames": 2, "steps": 2}).json()
    assert [(w["image"], w["role"]) for w in as_base["warnings"]] == [(photo["id"], "base")]

    known = client.post("/api/recombine", json={"base": base, "attributes": {"background": {"donor": donor}}, "steps": 2})
    assert known.status_code == 202 and known.json()["warnings"] == [], known.text
    for job_id in (as_base["id"], known.json()["id"]):
        assert wait_job(client, job_id)["state"] == "succeeded"
