"""The image JSON: `domain` and `crop` once ready, null before, and null for records without them."""

import json

from backend.api.services import image_out

VERDICT = {"in_domain": False, "score": 0.42, "threshold": 0.14,
           "chunks": {"identity": {"in_domain": False, "score": 0.3, "threshold": 0.05}}}
CROP = {"box": [80, 0, 560, 480], "cropped": True, "resized": True, "source_size": [640, 480], "resolution": 32}


def test_domain_and_crop_once_ready():
    rec = {"state": "succeeded", "chunks": json.dumps({"identity": [0.0]}), "domain": json.dumps(VERDICT),
           "crop": json.dumps(CROP)}
    out = image_out("ab" * 32, rec).model_dump(mode="json")
    assert out["domain"] == VERDICT and out["crop"] == CROP
    assert image_out("ab" * 32, {**rec, "state": "running"}).domain is None, "no verdict while encoding"


def test_records_without_a_verdict_give_null():
    for domain in ("", None, "not json"):  # a model without domain statistics; a record from before the field
        rec = {"state": "succeeded", "chunks": "{}", **({"domain": domain} if domain is not None else {})}
        out = image_out("ab" * 32, rec)
        assert out.domain is None and out.crop is None
