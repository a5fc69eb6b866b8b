"""Domain warnings of jobs: which of a job's images the model does not know, from the verdicts their image
records hold once encoded (the worker's `domain` field, diffusegae/domain.py). The same meaning as the UI's
out-of-domain banner (frontend/domain-banner.js): an image whose verdict says `in_domain: false`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import ValidationError

from backend.api.schemas import DomainWarning
from core.records import SUCCEEDED, Records
from core.specs import InterpolateSpec, RecombineSpec, parse_job_spec

Role = tuple[str, Literal["base", "donor"], str | None]  # image id, role, attribute


def roles(spec: RecombineSpec | InterpolateSpec) -> list[Role]:
    """The images a job reads, in the order a person reads the edit: the base, then each donor."""
    if isinstance(spec, InterpolateSpec):
        return [(spec.base, "base", None), (spec.donor, "donor", None)]
    return [(spec.base, "base", None)] + [(b.donor, "donor", a) for a, b in spec.attributes.items() if b.donor]


def verdict_of(rec: dict[str, str] | None) -> dict[str, Any] | None:
    """An image record's domain verdict; None while it is not encoded, or when the model has no domain statistics."""
    if not rec or rec.get("state") != SUCCEEDED:
        return None
    try:
        verdict = json.loads(rec.get("domain") or "null")
    except ValueError:
        return None
    return verdict if isinstance(verdict, dict) else None


def reason(verdict: dict[str, Any]) -> str:
    """Why it is out of domain: its score above the threshold, and/or the chunks out of range."""
    why = []
    score, threshold = verdict.get("score"), verdict.get("threshold")
    if isinstance(score, (int, float)) and isinstance(threshold, (int, float)) and score > threshold:
        why.append(f"score {score:.2f} > {threshold:.2f}")
    chunks = [a for a, v in (verdict.get("chunks") or {}).items() if isinstance(v, dict) and v.get("in_domain") is False]
    if chunks:
        why.append(f"unfamiliar: {', '.join(chunks)}")
    return "; ".join(why)


def warning(image_id: str, role: Literal["base", "donor"], attribute: str | None,
            verdict: dict[str, Any] | None) -> DomainWarning | None:
    if not verdict or verdict.get("in_domain") is not False:
        return None
    if role == "base":
        who, effect = "The base image", "edits of it"
    else:
        who, effect = (f"The donor of {attribute}" if attribute else "The donor image"), "this edit"
    why = reason(verdict)
    detail = f" ({why})" if why else ""
    message = f"{who} (image {image_id[:12]}) does not look like what the model was trained on{detail}; {effect} may be unreliable"
    return DomainWarning(image=image_id, role=role, attribute=attribute, message=message)


def job_warnings(records: Records, jobs: Sequence[dict[str, str] | None]) -> list[list[DomainWarning]]:
    """Per job record, the warnings of its images (one Redis round trip for all of them)."""
    specs = []
    for rec in jobs:
        try:
            specs.append(parse_job_spec(rec["spec"]) if rec and rec.get("spec") else None)
        except ValidationError:  # a record from an older release: no warnings rather than no answer
            specs.append(None)
    ids = sorted({image for spec in specs if spec for image, _, _ in roles(spec)})
    verdicts = dict(zip(ids, map(verdict_of, records.get_many(records.image_key(i) for i in ids))))
    return [[w for image, role, attr in (roles(spec) if spec else []) if (w := warning(image, role, attr, verdicts[image]))]
            for spec in specs]
