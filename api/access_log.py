"""One log line per request: who asked what, what the ledger did, and where it is in the log.

Why our own line rather than uvicorn's access log: the facts an operator needs
to trace a request to the ledger (its request id, the command it ran, the
outcome, the log position written) are known only inside; the key and the body
never appear (the path does; ids in paths are not secrets). With
``LEDGER_LOG_FORMAT=json`` (the default) every log line is one JSON object
(``JsonFormatter``), so these fields are machine-readable.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.observability import note_for_request
from ledger.request_context import current_request_id

log = logging.getLogger("escrow_ledger.access")

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "color_message", "request_id"}


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        with note_for_request() as note:
            try:
                await self.app(scope, receive, send_noting)
            finally:
                ms = round((time.perf_counter() - started) * 1000, 2)
                log.info(
                    "%s %s %s %.2fms%s", scope["method"], scope["path"], status["code"], ms,
                    "" if note.command is None else
                    f" {note.command} {note.outcome} position={note.position}",
                    extra={"method": scope["method"], "path": scope["path"],
                           "status": status["code"], "duration_ms": ms,
                           "command": note.command, "outcome": note.outcome,
                           "position": note.position})


def _request_id(record: logging.LogRecord) -> str | None:
    found = getattr(record, "request_id", None)
    if found in (None, "-"):
        return current_request_id()
    return str(found)


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object: time, level, logger, message, request id, and every
    field passed as ``extra``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _request_id(record),
            "pid": record.process,  # which worker of `ledger serve --workers N`
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)
