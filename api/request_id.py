"""``X-Request-Id``: one id per request, on every answer, in the logs and on the command's record.

The caller's id is kept when it is sane (1 to 128 characters of
``[A-Za-z0-9._:-]``, so it is safe in a header, a log line and the store);
anything else (absent, too long, spaces, two of them) is replaced by a new
UUID4 hex. The id is current (``ledger.request_context``) while the request is
served, so the engine records it on the command's idempotency record and
``RequestIdLogFilter`` puts it on log lines.

The middleware wraps the whole application, outside even the layer that turns
a crash into a 500, so every answer carries the header: successes, problems,
304s and 500s alike.
"""

from __future__ import annotations

import copy
import logging
import re
import uuid
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import LOGGING_CONFIG

from ledger.request_context import current_request_id, request_id_set

REQUEST_ID_HEADER = "X-Request-Id"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_for(presented: list[str]) -> str:
    """The caller's id when it sent exactly one sane id, else a new UUID4 hex."""
    if len(presented) == 1 and _SANE.fullmatch(presented[0]):
        return presented[0]
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Pure ASGI: makes the request's id current and adds it to the answer's headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(Headers(scope=scope).getlist(REQUEST_ID_HEADER))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with request_id_set(request_id):
            await self.app(scope, receive, send_with_id)


def install_request_ids(app: FastAPI) -> None:
    """Wraps ``app``'s whole middleware stack (error handling included) in the middleware."""
    build = app.build_middleware_stack

    def build_with_request_ids() -> ASGIApp:
        return RequestIdMiddleware(build())

    app.build_middleware_stack = build_with_request_ids  # type: ignore[method-assign]


class RequestIdLogFilter(logging.Filter):
    """Gives every record a ``request_id`` attribute (``-`` outside a request) for formats.

    Attach it to a handler (not a logger), so records propagated from any
    logger pass through it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True


LOG_FORMAT = "%(levelprefix)s [%(request_id)s] %(name)s: %(message)s"
ACCESS_LOG_FORMAT = (
    '%(levelprefix)s [%(request_id)s] %(client_addr)s - "%(request_line)s" %(status_code)s'
)


def uvicorn_log_config(log_format: str = "text") -> dict[str, Any]:
    """Uvicorn's logging configuration with the request id on every line.

    ``text``: uvicorn's own lines show ``[<request id>]``, and the root logger
    (every ``api``, ``ledger``, ``projections`` logger) writes through a handler
    that does too. ``json``: every line, uvicorn's included, is one JSON object
    (``api.access_log.JsonFormatter``). Either way the request lines are
    ``api.access_log``'s (serve runs uvicorn with its access log off).
    """
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"request_id": {"()": RequestIdLogFilter}}
    config["formatters"]["default"]["fmt"] = "%(levelprefix)s [%(request_id)s] %(message)s"
    config["formatters"]["access"]["fmt"] = ACCESS_LOG_FORMAT
    config["formatters"]["ledger"] = {"()": "uvicorn.logging.DefaultFormatter", "fmt": LOG_FORMAT}
    config["handlers"]["ledger"] = {"formatter": "ledger", "class": "logging.StreamHandler",
                                    "stream": "ext://sys.stderr"}
    for handler in config["handlers"].values():
        handler["filters"] = ["request_id"]
    config["root"] = {"handlers": ["ledger"], "level": "INFO"}
    if log_format == "json":
        for name in ("default", "access", "ledger"):
            config["formatters"][name] = {"()": "api.access_log.JsonFormatter"}
    return config
