"""GET /metrics: the service's Prometheus metrics (text format), and the middleware that counts requests.

Public like /docs (no API key) and left out of the OpenAPI schema: it shows counts and timings by route
template, kind, state and lane, never an id, a key or a URL's query (core/metrics.py defines the metrics).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response
from starlette.routing import Match, Mount
from starlette.types import Message, Receive, Scope, Send

from backend.api.deps import ServicesDep
from core import metrics

router = APIRouter(include_in_schema=False)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # the text format every Prometheus version reads


@router.get("/metrics")
def get_metrics(s: ServicesDep) -> Response:
    """Every process's metrics (API and workers of this machine) plus queue depth and live workers read from Redis now."""
    body = metrics.exposition(metrics.DeploymentCollector(s.records, s.settings))
    return Response(body, media_type=CONTENT_TYPE)


def route_template(scope: Scope) -> str:
    """The template of the route that answered (`/api/jobs/{job_id}`), never the path itself: no ids in labels.

    Requests refused before routing (a body over the limit) are matched here; a mount (the UI, the docs'
    assets) is `<mount>/{path}`; a path no route takes is "unmatched"."""
    route = scope.get("route")
    if route is None:
        partial = None
        for candidate in getattr(getattr(scope.get("app"), "router", None), "routes", ()):
            match, _ = candidate.matches(scope)
            if match is Match.FULL:
                route = candidate
                break
            if match is Match.PARTIAL and partial is None:
                partial = candidate  # the path matches, the method does not (405)
        route = route or partial
    if isinstance(route, Mount):
        return f"{route.path}/{{path}}"
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestMetrics:
    """ASGI middleware: counts every HTTP request by method, route template and status, and times it."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), 500  # 500: the app raised before answering

        async def send_seen(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_seen)
        finally:
            metrics.observe_request(scope.get("method", ""), route_template(scope), status, time.perf_counter() - started)
