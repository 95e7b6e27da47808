"""Fail fast while the database is down: a circuit breaker in front of every store-backed route.

Why: while PostgreSQL is unreachable, the first store call waits for a
connection (``POSTGRES_CONNECT_TIMEOUT``, 2 s; the store's pool then refuses at
once, see ``ledger.stores.FailFastPool``). Under load every worker thread would
still be stuck in such waits. After one request found the store unreachable,
the breaker answers the next ones at once (503 ``store-unavailable`` with
``Retry-After``) for ``OPEN_SECONDS``; then one request is let through to try
the store again, and a success closes the breaker. ``/v1/health`` reports
``store_down`` at once while the breaker is freshly open and tries the store
otherwise; the routes that never touch the store (docs, the problem catalogue)
are never refused.
"""

from __future__ import annotations

import threading
import time

from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem_response, store_unavailable_handler
from ledger.stores import StoreUnreachable

OPEN_SECONDS = 2.0
ALWAYS_TRIED = ("/v1/health", "/v1/problems", "/docs", "/openapi.json", "/redoc")


class StoreBreaker:
    def __init__(self, open_seconds: float = OPEN_SECONDS) -> None:
        self.open_seconds = open_seconds
        self._lock = threading.Lock()
        self._tripped_at: float | None = None
        self._trial_running = False

    def tripped(self) -> None:
        with self._lock:
            self._tripped_at = time.monotonic()
            self._trial_running = False

    def closed(self) -> None:
        with self._lock:
            self._tripped_at = None
            self._trial_running = False

    def recently_tripped(self) -> bool:
        """Whether a store error was seen within the last ``open_seconds``."""
        with self._lock:
            return (self._tripped_at is not None
                    and time.monotonic() - self._tripped_at < self.open_seconds)

    def refuse_now(self) -> bool:
        """True while open; once open long enough, lets one trial request through."""
        with self._lock:
            if self._tripped_at is None:
                return False
            if time.monotonic() - self._tripped_at < self.open_seconds or self._trial_running:
                return True
            self._trial_running = True
            return False


class StoreBreakerMiddleware:
    def __init__(self, app: ASGIApp, breaker: StoreBreaker) -> None:
        self.app = app
        self.breaker = breaker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ALWAYS_TRIED):
            await self.app(scope, receive, send)
            return
        if self.breaker.refuse_now():
            response = problem_response(
                503, "store-unavailable", "the ledger's database was unreachable moments ago; "
                "nothing was written, retry", headers={"Retry-After": str(int(OPEN_SECONDS))})
            await response(scope, receive, send)
            return
        status = {"code": 0}

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        await self.app(scope, receive, noting)
        if status["code"] and status["code"] != 503:
            self.breaker.closed()  # the store answered (a 503 of ours trips, never closes)


def unreachable(exc: BaseException) -> bool:
    """A PostgreSQL store that could not be reached: no connection, or none from the pool
    in time. An error the server itself answered (a lock timeout, with its SQLSTATE) is
    contention, not an outage; SQLite's "database is locked" likewise never trips it."""
    if isinstance(exc, StoreUnreachable):
        return True
    cause = exc.__cause__ or exc.__context__
    module = type(cause).__module__ if cause is not None else ""
    return module.startswith(("psycopg", "psycopg_pool")) and \
        getattr(cause, "sqlstate", None) is None


def install_store_breaker(app: FastAPI, breaker: StoreBreaker | None = None) -> StoreBreaker:
    """The breaker trips on every store error that says the database cannot be reached."""
    breaker = breaker or StoreBreaker()

    def tripping_handler(request: Request, exc: Exception) -> JSONResponse:
        if unreachable(exc):
            breaker.tripped()
        return store_unavailable_handler(request, exc)

    app.add_exception_handler(OperationalError, tripping_handler)
    app.add_exception_handler(InterfaceError, tripping_handler)
    app.add_exception_handler(StoreUnreachable, tripping_handler)
    app.add_middleware(StoreBreakerMiddleware, breaker=breaker)
    app.state.store_breaker = breaker
    return breaker
