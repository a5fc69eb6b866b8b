"""The FastAPI app: routers per resource under /api, OpenAPI docs at /docs, the static UI at /.

It loads no model and does no tensor work: it writes records to Redis and sends Celery tasks.
Run it with `diffusegae api` (or `uvicorn --factory backend.api.main:create_app`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from backend.api.bodies import BodyLimit, body_limits
from backend.api.deps import Services, get_owner
from backend.api.docs import install_docs
from backend.api.errors import install_error_handlers
from backend.api.routes import batches, datasets, edits, health, images, jobs, model, models, queue, trainings
from backend.api.routes.metrics import RequestMetrics
from backend.api.routes.metrics import router as metrics_router
from backend.api.webhooks import WebhookSender
from core.queue import Dispatcher, make_celery
from core.records import Records
from core.settings import Settings, get_settings
from core.store import Store


class ScrubKeys(logging.Filter):
    """Access-log lines show `?api_key=***` and `&sig=***`: neither a key in a URL (deprecated) nor a signed
    URL's signature (good for minutes) reaches a log."""

    _KEY = re.compile(r"\b(api_key=|sig=)[^&\s]*", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._KEY.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        return True


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        access = logging.getLogger("uvicorn.access")  # configured by now: the server set up logging before starting
        if not any(isinstance(f, ScrubKeys) for f in access.filters):
            access.addFilter(ScrubKeys())
        services: Services = app.state.services
        sender = WebhookSender(services) if settings.webhooks_on() else None  # every API process sends webhooks
        sending = asyncio.create_task(sender.run(), name="webhooks") if sender else None
        yield
        if sender and sending:
            sender.stop()
            await sending
        await services.records.close_changes()
        services.records.close()
        services.dispatcher.app.close()

    app = FastAPI(title="DiffuseGAE Editor", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Attribute editing with a diffusion autoencoder and a group-supervised autoencoder. "
                              "Upload images, recombine their attribute chunks, run batches.")
    celery = make_celery(settings)
    store = Store.of(settings)
    app.state.services = Services(settings=settings,
                                  records=Records.connect(settings.redis_url, settings.key_prefix, settings.redis_timeout),
                                  store=store, dispatcher=Dispatcher(celery, settings.queue), deployment=store.identity())
    install_error_handlers(app)

    # every request body is limited while it streams in (Content-Length or chunked): 413 at the limit, JSON depth 422
    app.add_middleware(BodyLimit, limit_for=body_limits(settings))
    app.add_middleware(RequestMetrics)  # outermost: counts every request (413s of BodyLimit too) by route template

    auth = [Depends(get_owner)]  # with API keys set, every /api route needs one
    for router in (images.router, model.router, models.router, edits.router, jobs.router, queue.router, batches.router,
                   datasets.router, trainings.router, health.router):
        app.include_router(router, dependencies=auth)
    install_docs(app)  # /docs and /redoc with their assets served here (no CDN), public
    app.include_router(metrics_router)  # GET /metrics (Prometheus), public like /docs, not in the schema
    if settings.frontend_dir.is_dir():  # after the API routes, so /api/* never falls through to files
        app.mount("/", StaticFiles(directory=settings.frontend_dir, html=True), name="ui")
    return app
