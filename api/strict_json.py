"""JSON bodies read strictly: a key twice in one object, or NaN/Infinity, is a 422; over 1 MiB
a 413; a body in a media type the route does not read, a 415.

Why: Python's ``json`` keeps the last of two equal keys and accepts ``NaN`` and
``Infinity``. A body ``{"amount": "999999.00", "amount": "5.00"}`` was created
as a $5.00 milestone: two readers of the same bytes (a proxy, a log, the
caller's own retry code) could disagree on what was asked, and for money that
is refused rather than guessed. The check runs before routing on every JSON
body, so no route can forget it, and the body is handed on unchanged.

The media type is checked here for the same reason. FastAPI reads a body sent
as ``text/plain`` or ``application/xml`` as a string and answered a 422 about
its shape, and a form route (a reconciliation upload) read a JSON body as an
empty form: it must be told instead that the body was not read at all (415).
A body without ``Content-Type`` is not read either (FastAPI takes it for bytes),
so it is a 415 too; an empty body passes whatever its type.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import params
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem_response

JSON_METHODS = frozenset({"POST", "PUT", "PATCH"})
MAX_JSON_BYTES = 1024 * 1024
"""No command body comes near this; a larger one is a 413, read no further."""


class _Refused(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _Refused(f"the key {key!r} appears twice in one JSON object")
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def strict_problem(body: bytes) -> str | None:
    """Why the body is refused, or None (malformed JSON is left to the route's own 422)."""
    try:
        json.loads(body, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except _Refused as e:
        return str(e)
    except (ValueError, RecursionError):
        return None
    return None


FORM_TYPES = (b"multipart/form-data", b"application/x-www-form-urlencoded")


def _media_type(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return bytes(value).split(b";")[0].strip().lower()
    return None


def _is_json(media: bytes | None) -> bool:
    return media is not None and (media == b"application/json" or media.endswith(b"+json"))


_READS: dict[int, str] = {}


def _api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every route, included routers walked too (FastAPI 0.165 keeps one entry per router
    holding its ``original_router``; ours are included without a prefix)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _api_routes(inner.routes)
        elif isinstance(route, APIRoute):
            yield route


def route_reads(scope: Scope) -> str | None:
    """``"form"`` when the request's route reads form fields or files, ``"json"`` when it
    reads a JSON body or none, None when no route matches (the router answers that)."""
    app = scope.get("app")
    for route in _api_routes(getattr(getattr(app, "router", None), "routes", ())):
        if route.matches(scope)[0] == Match.FULL:
            if id(route) not in _READS:
                body, todo = [], [route.dependant]
                while todo:
                    dependant = todo.pop()
                    body += dependant.body_params
                    todo += dependant.dependencies
                _READS[id(route)] = "form" if any(
                    isinstance(f.field_info, params.Form) for f in body) else "json"
            return _READS[id(route)]
    return None


def _unsupported(media: bytes | None, reads: str | None) -> Any:
    wanted = ("multipart/form-data or application/x-www-form-urlencoded" if reads == "form"
              else "application/json")
    got = "no Content-Type" if media is None else f"Content-Type {media.decode('latin-1')!r}"
    return problem_response(415, "unsupported-media-type",
                            f"this route reads {wanted}, and the body came with {got}; "
                            "nothing was written")


class StrictJsonMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in JSON_METHODS:
            await self.app(scope, receive, send)
            return
        media = _media_type(scope)
        reads = route_reads(scope)
        if (reads == "form" and media in FORM_TYPES) or (reads is None and not _is_json(media)):
            await self.app(scope, receive, send)  # an upload: streamed, never buffered here
            return
        if reads == "form" or not _is_json(media):
            await self._refuse_any_body(scope, receive, send, media, reads)
            return
        chunks: list[bytes] = []
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if sum(len(c) for c in chunks) > MAX_JSON_BYTES:
                response = problem_response(
                    413, "payload-too-large",
                    f"a JSON body is at most {MAX_JSON_BYTES:,} bytes; nothing was written")
                await response(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        problem = strict_problem(b"".join(chunks))
        if problem is not None:
            response = problem_response(422, "invalid-json", problem + "; nothing was written")
            await response(scope, receive, send)
            return

        await self.app(scope, _replaying(messages, receive), send)

    async def _refuse_any_body(self, scope: Scope, receive: Receive, send: Send,
                               media: bytes | None, reads: str | None) -> None:
        """415 for a body in a media type the route does not read; an empty one passes."""
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            if message.get("body", b""):
                await _unsupported(media, reads)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        await self.app(scope, _replaying(messages, receive), send)


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that hands back the messages already read, then the live ones."""
    async def replay() -> Message:
        if messages:
            return messages.pop(0)
        return await receive()

    return replay
