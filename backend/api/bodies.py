"""Request bodies: JSON nesting, batch specs (JSON or CSV), and the size limit of every body while it streams in.

Like `backend.api.uploads`, the parsers raise `UploadError` (a 4xx with a message for people) for any input they
cannot take, never anything else. `BodyLimit` is the ASGI middleware that limits every request body.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from backend.api.uploads import UploadError

MAX_JSON_DEPTH = 32  # nesting of [ and {: a batch needs 5, json.loads recurses in C for every level
CSV_COLUMNS = ("base", "x_T", "seed", "steps", "sampler")  # besides <attr> and <attr>_weight
MULTIPART_FRAMING = 64 * 1024  # room for boundaries and part headers around the limited files


# --- JSON ---

_DEPTH_CHUNK = 1 << 18  # bytes per numpy pass: bounded memory for any body


def json_depth(doc: str | bytes | bytearray) -> int:
    """The deepest nesting of [ and { in a JSON document, brackets inside strings not counted.

    Vectorised (numpy, in chunks of 256 KiB carrying the state across): a quote opens or closes a string
    unless an odd run of backslashes precedes it. Linear, tens of ms per MiB whatever the content,
    so it can run before json.loads, which recurses in C once per level."""
    data = np.frombuffer(doc.encode("utf-8", "surrogatepass") if isinstance(doc, str) else doc, dtype=np.uint8)
    depth = deepest = 0
    inside = 0  # 1 while in a string at the chunk boundary
    run = 0  # backslashes just before the chunk
    for start in range(0, data.size, _DEPTH_CHUNK):
        a = data[start:start + _DEPTH_CHUNK]
        backslash = a == 0x5C
        if run or backslash.any():  # which quotes are escaped: those after an odd run of backslashes
            at = np.arange(a.size, dtype=np.int32)
            runs = at - np.maximum.accumulate(np.where(backslash, np.int32(-1 - run), at))  # backslashes ending at each byte
            quote = a == 0x22
            quote[1:] &= runs[:-1] % 2 == 0
            quote[0] &= run % 2 == 0
            run = int(runs[-1])
        else:
            quote = a == 0x22
        if inside or quote.any():
            quotes = np.cumsum(quote, dtype=np.int32)
            outside = (quotes - quote + inside) % 2 == 0  # an even number of string quotes before
            inside = int(quotes[-1] + inside) % 2
            opens = ((a == 0x5B) | (a == 0x7B)) & outside
            closes = ((a == 0x5D) | (a == 0x7D)) & outside
        else:
            opens, closes = (a == 0x5B) | (a == 0x7B), (a == 0x5D) | (a == 0x7D)
        levels = np.cumsum(opens, dtype=np.int32)
        levels -= np.cumsum(closes, dtype=np.int32)
        deepest = max(deepest, depth + int(levels.max()))
        depth += int(levels[-1])
    return deepest


def json_depth_exceeds(doc: str | bytes | bytearray, max_depth: int = MAX_JSON_DEPTH) -> bool:
    return json_depth(doc) > max_depth


def parse_json(doc: str | bytes, what: str) -> Any:
    """json.loads with every failure a 422: syntax, nesting deeper than MAX_JSON_DEPTH, huge integers."""
    if json_depth_exceeds(doc):
        raise UploadError(422, f"{what} is nested too deep: more than {MAX_JSON_DEPTH} levels of [ and {{")
    try:
        return json.loads(doc)
    except RecursionError:
        raise UploadError(422, f"{what} is nested too deep: more than {MAX_JSON_DEPTH} levels of [ and {{") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, an integer of more than 4300 digits
        raise UploadError(422, f"{what} is not valid JSON: {e}") from None


# --- batch specs ---

def parse_spec(text: str, attributes: list[str]) -> list[Any]:
    """A batch spec: a JSON list of recombine bodies (or {"items": [...]}), or CSV. -> the raw items (the
    route validates each); JSON items are returned as they are, CSV rows become recombine bodies.

    CSV header: `base`, then per attribute `<attr>` (donor file name, empty: keep the base's chunk) or
    `<attr>_value` (a value name of the attribute instead of a donor), and optionally `<attr>_weight` (default 1);
    optional columns `x_T`, `seed`, `steps`, `sampler`.
    """
    stripped = text.strip()
    if not stripped:
        raise UploadError(422, "the batch spec is empty")
    if stripped[0] in "[{":
        data = parse_json(stripped, "the batch spec")
        if isinstance(data, dict) and "items" in data:
            if unknown := sorted(str(k) for k in data if k != "items"):
                raise UploadError(422, f"unknown field(s) {unknown} in the JSON batch spec: it is a list of recombine "
                                       "bodies or {\"items\": [...]} (a callback_url is a form field of its own)")
            data = data["items"]
        if not isinstance(data, list):
            raise UploadError(422, "the JSON batch spec must be a list of recombine bodies (or {\"items\": [...]})")
        return data
    return _parse_csv(stripped, attributes)


def _parse_csv(text: str, attributes: list[str]) -> list[dict[str, Any]]:
    try:
        rows = list(csv.reader(io.StringIO(text), strict=True))  # lines end at \n (or \r\n): a bare \r is an error
    except csv.Error as e:  # a field over csv.field_size_limit(), a bare CR in an unquoted field, a quote left open, ...
        raise UploadError(422, f"the CSV batch spec cannot be read: {e}") from None
    if not rows:
        raise UploadError(422, "the batch spec is empty")
    header = [c.strip() for c in rows[0]]
    if "base" not in header:
        raise UploadError(422, "the CSV batch spec needs a header row with a 'base' column (or send a JSON list)")
    if "" in header:
        raise UploadError(422, "the CSV header has a column without a name")
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise UploadError(422, f"the CSV header names the column(s) {twice} more than once")
    unknown = [c for c in header if c not in CSV_COLUMNS
               and c.removesuffix("_weight").removesuffix("_value") not in attributes]
    if unknown:
        raise UploadError(422, f"unknown CSV columns {unknown}; the model's attributes are {attributes}")
    items = []
    for number, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue  # blank lines
        if len(cells) > len(header):
            raise UploadError(422, f"CSV row {number} has {len(cells)} cells, more than the {len(header)} columns of the header")
        row = dict(zip(header, (c.strip() for c in cells)))  # a short row: the missing cells are empty
        item: dict[str, Any] = {"base": row.get("base", ""), "attributes": {}}
        for a in attributes:
            edit = {**({"donor": row[a]} if row.get(a) else {}),
                    **({"value": row[f"{a}_value"]} if row.get(f"{a}_value") else {})}  # both: the item's 422 says so
            if edit:
                item["attributes"][a] = {**edit, "weight": row.get(f"{a}_weight") or 1.0}
        for col in ("x_T", "seed", "steps", "sampler"):
            if row.get(col):
                item[col] = row[col]
        items.append(item)
    return items


# --- request bodies ---

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def body_limits(settings: Any) -> Callable[[str, bool], tuple[int, str]]:
    """The `limit_for` of BodyLimit from the settings: an image upload, a batch (zip + spec), or JSON."""
    def limit_for(path: str, multipart: bool) -> tuple[int, str]:
        if multipart and path.endswith("/api/images"):
            return settings.max_upload_bytes + MULTIPART_FRAMING, "DGAE_MAX_UPLOAD_BYTES, plus the multipart framing"
        if multipart and path.endswith("/api/datasets"):
            return settings.max_dataset_bytes + MULTIPART_FRAMING, "DGAE_MAX_DATASET_BYTES, plus the multipart framing"
        if multipart and path.endswith("/api/batches"):
            return (settings.max_zip_bytes + settings.max_json_bytes + MULTIPART_FRAMING,
                    "DGAE_MAX_ZIP_BYTES for the zip and DGAE_MAX_JSON_BYTES for the spec, plus the multipart framing")
        return settings.max_json_bytes, "DGAE_MAX_JSON_BYTES"
    return limit_for


class BodyTooLarge(HTTPException):
    """Raised by the middleware's receive; an HTTPException, so FastAPI's body parsing passes it on (a 413
    with this detail) instead of turning it into a 400."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, detail)


class BodyLimit:
    """ASGI middleware: every request body is limited while it streams in, with or without Content-Length.

    `limit_for(path, multipart)` -> (bytes allowed, the setting that says so). A declared Content-Length over
    the limit is answered 413 before a byte is read; otherwise the bytes of `http.request` messages are
    counted and the request is answered 413 (and the connection closed) as soon as they pass the limit, so
    the rest is never read. Bodies that are not multipart are JSON to this API: they are read whole (they
    are small: the JSON limit) and refused with 422 when they nest deeper than MAX_JSON_DEPTH, before the
    app parses them.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], *,
                 limit_for: Callable[[str, bool], tuple[int, str]]) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.lower(): v for k, v in scope.get("headers") or []}
        length_header, chunked = headers.get(b"content-length"), b"transfer-encoding" in headers
        if length_header is None and not chunked:
            return await self.app(scope, receive, send)  # no body
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/")
        limit, setting = self.limit_for(scope.get("path", ""), multipart)
        too_large = f"the request body is larger than the limit of {limit} bytes ({setting})"
        try:
            declared = int(length_header) if length_header is not None else None
        except ValueError:
            declared = None
        if declared is not None and declared > limit:
            return await _answer(send, 413, f"the request body is {declared} bytes, more than the limit of {limit} bytes "
                                            f"({setting})")
        if not multipart:
            return await self._json(scope, receive, send, limit, too_large)

        received, response_started, over = 0, False, False

        async def counted() -> Message:
            nonlocal received, over
            if over:
                raise BodyTooLarge(too_large)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise BodyTooLarge(too_large)
            return message

        async def tracked(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                if over:  # the rest of the body is not read: the connection cannot carry another request
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if response_started:
                raise
            await _answer(send, 413, too_large)

    async def _json(self, scope: Scope, receive: Receive, send: Send, limit: int, too_large: str) -> None:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > limit:
                return await _answer(send, 413, too_large)
            if not message.get("more_body", False):
                break
        # tens of ms for the largest body allowed: not on the event loop
        deep = await run_in_threadpool(json_depth_exceeds, body) if len(body) > 64 * 1024 else json_depth_exceeds(body)
        if deep:
            return await _answer(send, 422, f"the request body (JSON) is nested too deep: more than {MAX_JSON_DEPTH} levels "
                                            "of [ and {", close=False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as the server would

        await self.app(scope, replay, send)


async def _answer(send: Send, status: int, detail: str, *, close: bool = True) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
