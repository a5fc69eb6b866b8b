"""Every error is JSON `{"detail": "<a message for people>"}`: validation 422, Redis down 503."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError

from backend.api.uploads import UploadError

log = logging.getLogger("diffusegae.api")


def validation_message(errors: Sequence[Any], prefix: str = "") -> str:
    """pydantic errors -> "body.steps: Input should be less than or equal to 1000; ..."."""
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body" or not prefix)
        loc = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
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
                             "errors": [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg"))} for e in errors]},
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
