"""JSON bodies read strictly: a key twice in one object, or NaN/Infinity, is a 422; over 1 MiB
a 413.

Why: Python's ``json`` keeps the last of two equal keys and accepts ``NaN`` and
``Infinity``. A body ``{"amount": "999999.00", "amount": "5.00"}`` was created
as a $5.00 milestone: two readers of the same bytes (a proxy, a log, the
caller's own retry code) could disagree on what was asked, and for money that
is refused rather than guessed. The check runs before routing on every JSON
body, so no route can forget it, and the body is handed on unchanged.
"""

from __future__ import annotations

import json
from typing import Any

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


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            media = bytes(value).split(b";")[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


class StrictJsonMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in JSON_METHODS or not _is_json(scope):
            await self.app(scope, receive, send)
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

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)
