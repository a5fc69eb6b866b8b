"""Short-lived signed URLs: what a browser loads without headers (<img>, EventSource, a download link)
carries `?exp=<unix seconds>&sig=<hex>` instead of the API key.

    sig = HMAC-SHA256(secret, f"{owner}|{path}|{exp}")

`owner` is the owner id of the key that asked for the URL (core never sees the key itself), `path` the
URL's path without its query. A signature is good for exactly that path, that owner, until `exp`.
Pure functions, no I/O: the API picks the secret (DGAE_URL_SIGNING_SECRET or one kept in Redis).
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Iterable
from hashlib import sha256
from urllib.parse import urlencode

EXP, SIG = "exp", "sig"  # the query parameters


def signature(secret: bytes, owner: str, path: str, exp: int) -> str:
    """The hex HMAC-SHA256 of `owner|path|exp` under `secret`."""
    assert "|" not in owner, f"an owner id with '|' would make signatures ambiguous: {owner!r}"
    return hmac.new(secret, f"{owner}|{path}|{exp}".encode(), sha256).hexdigest()


def expiry(now: float, ttl: float) -> int:
    """When a URL signed at `now` expires: at least `ttl` seconds later, rounded up to a multiple of a
    third of `ttl` (at least a minute), so that the URLs handed out within that step are the same and
    the browser's cache of an image keeps working across responses."""
    step = max(60, int(ttl // 3))
    return int(math.ceil((now + ttl) / step) * step)


def sign_path(secret: bytes, owner: str, path: str, *, now: float, ttl: float) -> str:
    """`path` with `?exp=...&sig=...` appended (a path that has a query already gets `&...`)."""
    bare, _, query = path.partition("?")
    exp = expiry(now, ttl)
    params = urlencode({EXP: exp, SIG: signature(secret, owner, bare, exp)})
    return f"{bare}?{query}&{params}" if query else f"{bare}?{params}"


def verify(secret: bytes, owners: Iterable[str], path: str, exp: str, sig: str, *, now: float) -> str | None:
    """The owner among `owners` that `sig` was made for, for `path` and `exp`; None when it is none of
    them or `exp` has passed. Every owner is tried with a constant-time compare."""
    try:
        exp_at = int(exp)
    except ValueError:
        return None
    if exp_at < now or not sig:
        return None
    found = None
    for owner in owners:
        if hmac.compare_digest(signature(secret, owner, path, exp_at), sig) and found is None:
            found = owner
    return found
