"""Fixtures for the reliability tests: real server processes on a real store.

``pg_pair`` is two ``ledger serve --no-scheduler`` processes on one PostgreSQL
schema with a test clock, shared by a module's tests (starting two servers
costs seconds; each test works on contracts and freelancers of its own, so the
shared log only makes the books checks stricter). The PostgreSQL fixtures go
through ``require_backend``: skipped loudly where no server answers, a failure
under ``LEDGER_REQUIRE_POSTGRES=1`` (CI).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.api.conftest import COMMANDS_KEY
from tests.conftest import fresh_store, require_backend
from tests.reliability.servers import Ledger, Servers, headers, new_key, serving

CLOCK_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""A Monday in the per-contract fee era: a $500.00 milestone by card charges 534.95."""


@pytest.fixture(scope="module")
def pg_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    require_backend("postgres")
    with fresh_store("postgres") as url, \
            serving(url, tmp_path_factory.mktemp("pg-pair"), count=2,
                    test_clock_start=CLOCK_START) as servers:
        yield servers


@pytest.fixture
def pg_ledger(pg_pair: Servers) -> Iterator[Ledger]:
    """An HTTP caller on both PostgreSQL servers; its books are checked after the test."""
    ledger = Ledger(pg_pair)
    try:
        yield ledger
    finally:
        ledger.close()


# ---- racing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One command to send: to which server, where, with what body and key; ``after``
    seconds past the barrier (0: at the instant itself)."""

    server: int
    path: str
    body: Any = None
    key: str = field(default_factory=new_key)
    after: float = 0.0


def race(ledger: Ledger, calls: Sequence[Call], *, timeout: float = 60.0
         ) -> list[httpx.Response]:
    """Sends every call at one instant, each from its own thread and its own connection.

    Each thread opens its connection (a ``/v1/health`` call) before the
    barrier, so what is released together is the command itself, not a TCP
    handshake. A call that raises fails the test with its exception.
    """
    barrier = threading.Barrier(len(calls), timeout=timeout)
    answers: list[httpx.Response | None] = [None] * len(calls)
    errors: list[BaseException | None] = [None] * len(calls)

    def run(i: int, call: Call) -> None:
        try:
            with httpx.Client(base_url=ledger.servers.bases[call.server],
                              timeout=timeout) as client:
                client.get("/v1/health")
                barrier.wait()
                if call.after:
                    time.sleep(call.after)
                answers[i] = client.post(call.path, json=call.body,
                                         headers=headers(COMMANDS_KEY, call.key))
        except BaseException as e:
            errors[i] = e

    threads = [threading.Thread(target=run, args=(i, c), daemon=True)
               for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a racing call hung"
    for e in errors:
        if e is not None:
            raise e
    done = [a for a in answers if a is not None]
    for answer in done:
        ledger.saw(answer)
    return done


def slug(response: httpx.Response) -> str:
    """A problem's slug ("milestone-state"), or "ok" for a success."""
    if response.status_code < 300:
        return "ok"
    return str(response.json()["type"]).rsplit("/", 1)[-1]


def replayed(response: httpx.Response) -> bool:
    return response.headers.get("Idempotent-Replayed") == "true"
