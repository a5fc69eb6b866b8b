"""Dependencies of the routes, as `Annotated` aliases."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from core import signing
from core.queue import Dispatcher
from core.records import Records
from core.settings import Settings
from core.store import Store


@dataclass
class Services:
    """What the app holds for its lifetime (built in create_app; nothing here loads a model)."""

    settings: Settings
    records: Records
    store: Store
    dispatcher: Dispatcher
    deployment: str = ""  # the store's id, written on every unit so that no other deployment's worker runs it
    url_secret: tuple[bytes, float] | None = None  # the secret kept in Redis and when it was read (url_secret())
    models_read: tuple[float, Any] | None = None  # the last registry read and when (backend.api.registry.read_models)


# The dependencies are `async def` (and do their rare Redis read in the thread pool) because FastAPI runs a
# plain `def` dependency in the thread pool: three hand-offs per request, more CPU than the route itself.
async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def owner_of(key: str) -> str:
    """The owner id of an API key (what records and signed URLs name; the key itself is never stored)."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:24]


def url_secret(services: Services) -> bytes:
    """The URL-signing secret: DGAE_URL_SIGNING_SECRET, else the deployment's own, kept in Redis (read again
    every minute, so that the API processes agree even after Redis lost it and made a new one)."""
    configured = services.settings.url_signing_secret
    if configured is not None and configured.get_secret_value():
        return configured.get_secret_value().encode()
    now = time.monotonic()
    if services.url_secret is None or now - services.url_secret[1] > 60:
        services.url_secret = (services.records.shared_secret("url-signing").encode(), now)
    return services.url_secret[0]


async def _url_secret(services: Services) -> bytes:
    """url_secret without a thread hop while the one read is fresh."""
    configured = services.settings.url_signing_secret
    if (configured is not None and configured.get_secret_value()) or (
            services.url_secret is not None and time.monotonic() - services.url_secret[1] <= 60):
        return url_secret(services)
    return await run_in_threadpool(url_secret, services)


async def get_owner(request: Request, services: ServicesDep,
              x_api_key: Annotated[str | None, Header(description="API key (when the service has keys)")] = None,
              api_key: Annotated[str | None, Query(description="API key in the URL: deprecated, use the signed URLs "
                                                               "the API hands out (exp, sig)")] = None,
              exp: Annotated[str | None, Query(description="signed URL: expiry (unix seconds)")] = None,
              sig: Annotated[str | None, Query(description="signed URL: signature for this path")] = None) -> str:
    """Who is asking: with keys configured, the owner id of the caller's key, or of the key a GET's signed URL
    was made for (core/signing.py); else everyone is "public"."""
    keys = services.settings.api_keys
    if not keys:
        return "public"
    key = x_api_key or api_key
    if not key and sig is not None and request.method in ("GET", "HEAD"):
        owner = signing.verify(await _url_secret(services), [owner_of(k) for k in keys], request.url.path, exp or "", sig,
                               now=time.time())
        if owner is None:
            raise HTTPException(401, "this signed URL is invalid or expired: get the resource again (with the "
                                     "X-API-Key header) for a fresh one")
        return owner
    if not key:
        raise HTTPException(401, "an API key is required: send it in the X-API-Key header (or use a signed URL)")
    if not any(hmac.compare_digest(key.encode(), k.encode()) for k in keys):
        raise HTTPException(401, "invalid API key")
    return owner_of(key)


OwnerDep = Annotated[str, Depends(get_owner)]

UrlSigner = Callable[[str], str]


def unsigned(path: str) -> str:
    return path


async def get_signer(services: ServicesDep, owner: OwnerDep) -> UrlSigner:
    """Signs the URLs a response hands out for the caller (`path` -> `path?exp=..&sig=..`); without keys, as is."""
    if not services.settings.api_keys:
        return unsigned
    secret, ttl = await _url_secret(services), services.settings.signed_url_ttl
    return lambda path: signing.sign_path(secret, owner, path, now=time.time(), ttl=ttl)


SignerDep = Annotated[UrlSigner, Depends(get_signer)]

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200,
                                              description="the same key and body give the same job (409: same key, other body)")]
