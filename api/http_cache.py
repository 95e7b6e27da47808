"""``ETag`` on every JSON read, and ``304 Not Modified`` for a matching ``If-None-Match``.

Pure ASGI, so nothing is buffered but what must be hashed: only a GET
answered 200 with a JSON body of known length (``Content-Length``, as every
JSON route sends). Streams, HTML, static files and problems pass straight
through, untouched.

The ETag is strong: ``"`` + the first 32 hex digits of the body's SHA-256 +
``"``, so any change of the answer, even only its ``position``, changes it.
A route that already sets its own validator keeps it: the contract and
dispute reads send the contract's version (``"5"``), which callers also send
back as ``If-Match``; their 304 then means "the contract has not changed",
and the ``position`` in the cached copy stays true (a read reflects *at
least* that position).

``If-None-Match`` follows RFC 9110 (13.1.2): ``*`` or a comma-separated list of
entity tags, compared weakly (a ``W/`` prefix on either side is ignored). A
match answers 304 with no body, keeping ``ETag`` and the other headers but the
body's own (``Content-Type``, ``Content-Length``).
"""

from __future__ import annotations

import hashlib
import re

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ENTITY_TAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*')
_BODY_HEADERS = frozenset({b"content-type", b"content-length", b"content-encoding",
                           b"transfer-encoding"})


def strong_etag(body: bytes) -> str:
    """The strong entity tag of a body: its SHA-256, 128 bits of it, quoted."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def opaque_tags(if_none_match: str) -> set[str] | None:
    """The opaque tags an ``If-None-Match`` value lists; None for ``*`` (any tag matches)."""
    if if_none_match.strip() == "*":
        return None
    return {m.group(1) for m in _ENTITY_TAG.finditer(if_none_match)}


def matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison of an ``If-None-Match`` value with the current ``etag``."""
    tags = opaque_tags(if_none_match)
    if tags is None:
        return True
    found = _ENTITY_TAG.fullmatch(etag)
    return found is not None and found.group(1) in tags


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _cacheable(start: Message) -> bool:
    headers = Headers(raw=start.get("headers", []))
    return (start["status"] == 200 and _is_json(headers.get("content-type", ""))
            and "content-length" in headers)


class ConditionalGetMiddleware:
    """Adds ``ETag`` to JSON reads and answers ``304`` when ``If-None-Match`` matches it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        if_none_match = ", ".join(Headers(scope=scope).getlist("if-none-match")) or None
        start: Message | None = None
        chunks: list[bytes] = []

        async def send_validated(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and _cacheable(message):
                start = message  # held until the whole body is known
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self._answer(start, b"".join(chunks), if_none_match, send)

        await self.app(scope, receive, send_validated)

    @staticmethod
    async def _answer(start: Message, body: bytes, if_none_match: str | None,
                      send: Send) -> None:
        headers = MutableHeaders(scope=start)
        etag = headers.get("etag") or strong_etag(body)
        headers["ETag"] = etag
        if if_none_match is not None and matches(if_none_match, etag):
            kept = [(k, v) for k, v in headers.raw if k.lower() not in _BODY_HEADERS]
            await send({"type": "http.response.start", "status": 304, "headers": kept})
            await send({"type": "http.response.body", "body": b""})
            return
        await send(start)
        await send({"type": "http.response.body", "body": body})
