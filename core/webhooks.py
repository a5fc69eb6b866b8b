"""Webhooks without I/O: which callback URLs are allowed, how a delivery is signed and how a receiver checks it.

A recombine, interpolate or batch request may name a `callback_url`. When the job (or the whole batch) ends,
the API POSTs its JSON there (`backend.api.webhooks` delivers; `core.records` queues exactly one event per
ending). Each attempt is signed afresh:

    X-DiffuseGAE-Timestamp: <unix seconds when this attempt was sent>
    X-DiffuseGAE-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>
    X-DiffuseGAE-Event:     job | batch
    X-DiffuseGAE-Event-Id:  job-<id> | batch-<id>   (the same on every attempt: receivers dedupe on it)

A receiver recomputes the HMAC over the raw body, compares in constant time, refuses a timestamp more than
REPLAY_WINDOW_S away from its clock, and drops an event id it has already seen (`verify` below).

Only hosts the operator lists (DGAE_WEBHOOK_HOSTS) are ever called: a URL is compared literally, host and
port, to that list (no DNS: an allowed name stands for whatever it resolves to), so a caller cannot make the
service reach its own network (SSRF). Redirects are never followed by the sender.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

TIMESTAMP_HEADER = "X-DiffuseGAE-Timestamp"
SIGNATURE_HEADER = "X-DiffuseGAE-Signature"
EVENT_HEADER = "X-DiffuseGAE-Event"
EVENT_ID_HEADER = "X-DiffuseGAE-Event-Id"
REPLAY_WINDOW_S = 300  # a receiver refuses a delivery whose timestamp is further than this from its clock
MAX_URL_LENGTH = 2000
_DEFAULT_PORTS = {"http": 80, "https": 443}


class CallbackError(ValueError):
    """A callback URL the service will not call; the message says why."""


def _host_port(netloc_host: str) -> tuple[str, int | None]:
    """'host', 'host:port', '[v6]' or '[v6]:port' -> (host lowercased without brackets, port or None)."""
    parts = urlsplit(f"//{netloc_host.strip()}")
    try:
        port = parts.port
    except ValueError:
        raise CallbackError(f"{netloc_host!r}: the port is not a number from 0 to 65535") from None
    if not parts.hostname or parts.username is not None or parts.path:
        raise CallbackError(f"{netloc_host!r} is not a host or host:port")
    return parts.hostname.lower(), port


def parse_allowed(entries: Iterable[str]) -> list[tuple[str, int | None]]:
    """DGAE_WEBHOOK_HOSTS entries -> (host, port or None = any port)."""
    return [_host_port(e) for e in entries if e.strip()]


def check_callback_url(url: str, allowed: Iterable[str]) -> str:
    """`url` if the service may POST to it, else CallbackError: webhooks are off (no allowed hosts), the scheme is
    not http(s), the URL carries a user name or password, or its host[:port] is not in `allowed`.

    An allowed entry `host` admits that host on any port, `host:port` on that port only. Hosts are compared as
    written (lowercased): `127.0.0.1` does not admit `localhost`, `example.com` does not admit `a.example.com`."""
    hosts = parse_allowed(allowed)
    if not hosts:
        raise CallbackError("webhooks are off on this service (DGAE_WEBHOOK_HOSTS is empty); leave out callback_url")
    if len(url) > MAX_URL_LENGTH or any(ord(c) <= 32 or ord(c) == 127 for c in url):
        raise CallbackError(f"callback_url must be at most {MAX_URL_LENGTH} characters, without spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS:
        raise CallbackError(f"callback_url must be an http:// or https:// URL, got scheme {parts.scheme!r}")
    if parts.username is not None or parts.password is not None:
        raise CallbackError("callback_url must not carry a user name or password (user@host)")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise CallbackError("callback_url has a port that is not a number from 0 to 65535") from None
    host = (parts.hostname or "").lower()
    if not host:
        raise CallbackError("callback_url has no host")
    if not any(h == host and (p is None or p == port) for h, p in hosts):
        shown = f"[{host}]" if ":" in host else host
        raise CallbackError(f"callback_url host {shown}:{port} is not one this service may call (DGAE_WEBHOOK_HOSTS)")
    return url


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-DiffuseGAE-Signature value: "sha256=" + hex HMAC-SHA256 of "<timestamp>." + body under `secret`."""
    mac = hmac.new(secret.encode(), str(int(timestamp)).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, body: bytes, event: str, event_id: str, now: float | None = None) -> dict[str, str]:
    """The headers of one delivery attempt of `body` (JSON)."""
    ts = int(time.time() if now is None else now)
    return {"Content-Type": "application/json", TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: signature(secret, ts, body),
            EVENT_HEADER: event, EVENT_ID_HEADER: event_id}


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None,
           window: float = REPLAY_WINDOW_S) -> bool:
    """What a receiver checks: the signature matches the raw body and the timestamp is within `window` of now.
    (It should also drop an X-DiffuseGAE-Event-Id it has seen within the window: a replay of a valid delivery.)"""
    ts, sig = headers.get(TIMESTAMP_HEADER, ""), headers.get(SIGNATURE_HEADER, "")
    if not ts.isdigit() or abs((time.time() if now is None else now) - int(ts)) > window:
        return False
    return hmac.compare_digest(signature(secret, int(ts), body), sig)
