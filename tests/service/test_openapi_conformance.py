"""The OpenAPI document tells the truth: schemathesis generates requests from /openapi.json (valid ones and
invalid ones) against the running stack and checks every answer: no 5xx, a status code the route
documents, the documented content type, and a body that matches the documented schema.

Bounded: 15 examples per operation and mode, about 600 requests (30 s to a minute on 2 cores).
"""

from __future__ import annotations

from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 15  # per operation and generation mode


@pytest.fixture(scope="module")
def api_schema(stack):
    return schemathesis.openapi.from_url(f"{stack.url}/openapi.json")


def test_every_error_response_is_documented(api_schema):
    """A look at the document itself: one error model, on every route, and ids described as hex."""
    raw = api_schema.raw_schema
    error = raw["components"]["schemas"]["ErrorOut"]
    assert error["properties"]["detail"]["type"] == "string" and error["required"] == ["detail"]
    assert "HTTPValidationError" not in raw["components"]["schemas"]
    for path, ops in raw["paths"].items():
        if not path.startswith("/api"):
            continue
        for method, op in ops.items():
            codes = set(op["responses"])
            assert {"401", "422", "503"} <= codes, (method, path, sorted(codes))
            for code, resp in op["responses"].items():
                if code.startswith(("4", "5")):
                    assert resp["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}, (
                        method, path, code)
            for param in op.get("parameters", []):
                if param["in"] == "path" and param["name"].endswith("_id"):
                    assert param["schema"]["pattern"] == "^[0-9a-f]{32,64}$", (method, path, param)
                    assert "404" in codes


@pytest.mark.slow
def test_responses_conform_to_the_schema(api_schema, stack, images):
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    session = requests.Session()
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: schemathesis.Case) -> None:
                response = case.call_and_validate(base_url=stack.url, session=session, checks=CHECKS, timeout=30)
                statuses[response.status_code] += 1

            try:
                run()
            except (Exception, BaseExceptionGroup) as e:  # schemathesis' FailureGroup: collect all, one run shows every problem
                failures.append(f"{operation.label} ({mode.value}): {type(e).__name__}: {str(e)[:1500]}")
    assert not failures, f"{len(failures)} operations and modes failed:\n\n" + "\n\n".join(failures)
    assert sum(statuses.values()) >= 4 * len(operations), statuses  # it did send requests
    print("statuses seen:", dict(sorted(statuses.items())))
