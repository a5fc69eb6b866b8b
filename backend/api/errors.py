"""Every error is JSON `{"detail": "<a message for people>"}`: validation 422, Redis down 503.

The OpenAPI document says so too (`document_errors`): every /api operation lists the error statuses it can
answer, each with the one error model `ErrorOut`, and id path parameters carry the id pattern.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError
from pydantic.json_schema import models_json_schema

from backend.api.schemas import ErrorOut
from backend.api.uploads import UploadError
from core.blobs import StoreUnavailable
from core.store import ID_PATTERN

log = logging.getLogger("diffusegae.api")

ERRORS = {  # status -> what it means here (the OpenAPI descriptions)
    400: "the body cannot be parsed (malformed multipart, or JSON the parser refuses)",
    401: "an API key is missing or wrong (only when the service has keys, DGAE_API_KEYS)",
    404: "not found: an unknown id, or one that belongs to another API key",
    409: "not ready yet: the image is not encoded, the job or batch is not finished",
    413: "too large: the request body, an upload's bytes or pixels, the zip, or the number of items",
    415: "not a PNG, JPEG or WebP image",
    422: "invalid: the message names the field and what is wrong (also a field the request does not have)",
    503: "Redis is unavailable, or no worker has loaded the model yet; retry later",
}
# Error statuses of routes whose decorators do not declare them (better: `responses=error_responses(...)` there).
# The ones every /api route has are added by document_errors: 401, 422, 503; 404 with path parameters; 400, 413 with a body.
ROUTE_ERRORS: dict[tuple[str, str], tuple[int, ...]] = {
    ("post", "/api/recombine"): (404, 409),  # 409: an Idempotency-Key reused with another body
    ("post", "/api/interpolate"): (404, 409),
    ("post", "/api/batches"): (409,),
    ("get", "/api/jobs/{job_id}/result.png"): (409,),
    ("get", "/api/jobs/{job_id}/frames/{index}.png"): (409,),
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route decorator: these error statuses, each with the error model."""
    return {code: {"model": ErrorOut, "description": ERRORS[code]} for code in codes}


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Make an OpenAPI document true about errors (in place): every /api operation lists the statuses it can
    answer with the one error model, FastAPI's validation-error model is gone, id path parameters have a pattern."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    _, defs = models_json_schema([(ErrorOut, "validation")], ref_template="#/components/schemas/{model}")
    components.update(defs.get("$defs", {}))
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith("/api"):
            continue
        for method, op in operations.items():
            params = op.get("parameters", [])
            codes = {401, 422, 503} | set(ROUTE_ERRORS.get((method, path), ()))
            if any(p.get("in") == "path" for p in params):
                codes.add(404)
            if "requestBody" in op:
                codes |= {400, 413}
            responses = op.setdefault("responses", {})
            for code in sorted(codes):
                responses.setdefault(str(code), {"description": ERRORS[code]})
            for code, response in responses.items():
                if code[:1] in ("4", "5"):
                    response["content"] = error
                    if int(code) in ERRORS and response.get("description") in (None, "", "Validation Error"):
                        response["description"] = ERRORS[int(code)]
            for p in params:
                if p.get("in") == "path" and p.get("name", "").endswith("_id"):
                    p.setdefault("schema", {})["pattern"] = ID_PATTERN
                    p.setdefault("description", "an id: lowercase hex, 32 (jobs, batches) or 64 (images) digits")
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 model, unused now (in this order)
        if f'"#/components/schemas/{name}"' not in json.dumps(schema):
            components.pop(name, None)
    return schema


UNKNOWN_FIELD = "unknown field: this request has no such field (misspelt?); see /docs for its fields"


def issue_message(err: Any) -> str:
    """One pydantic error's message for people."""
    if err.get("type") == "extra_forbidden":
        return UNKNOWN_FIELD
    return str(err.get("msg", "invalid")).removeprefix("Value error, ")


def validation_message(errors: Sequence[Any], prefix: str = "") -> str:
    """pydantic errors -> "body.steps: Input should be less than or equal to 1000; ..."."""
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body" or not prefix)
        loc = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
        msg = issue_message(err)
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "invalid request"


def safe_url(url: str) -> str:
    """The Redis URL without a password."""
    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        return JSONResponse({"detail": validation_message(errors),
                             "errors": [{"loc": list(e.get("loc", ())), "msg": issue_message(e)} for e in errors]},
                            status_code=422)

    @app.exception_handler(UploadError)
    async def _upload(request: Request, exc: UploadError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    async def _redis_down(request: Request, exc: Exception) -> JSONResponse:
        url = safe_url(request.app.state.services.settings.redis_url)
        log.warning("Redis unavailable: %s", exc)
        return JSONResponse({"detail": f"Redis is unavailable at {url} ({type(exc).__name__}); the service resumes when "
                                       "it is back, retry later"}, status_code=503, headers={"Retry-After": "5"})

    for exc_type in (redis.ConnectionError, redis.TimeoutError, OperationalError, ConnectionError):
        app.add_exception_handler(exc_type, _redis_down)

    @app.exception_handler(StoreUnavailable)
    async def _store_down(request: Request, exc: StoreUnavailable) -> JSONResponse:
        log.warning("%s", exc)
        return JSONResponse({"detail": f"{exc}; nothing was stored, retry later"}, status_code=503,
                            headers={"Retry-After": "5"})

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
