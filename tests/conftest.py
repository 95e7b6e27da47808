"""Fixtures that run the same tests on SQLite and on PostgreSQL.

PostgreSQL tests get a database of their own for the session and a fresh schema
per test, dropped afterwards. Where no server answers, those tests are skipped
and the run ends with a loud banner naming what was skipped -- unless
``LEDGER_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), which makes an unreachable
server a failure instead.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis.internal.conjecture import providers as _hypothesis_providers

from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from ledger.settings import store_from_url
from projections.runner import ProjectionRunner

ADMIN_URL = os.environ.get(
    "LEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("LEDGER_REQUIRE_POSTGRES", "") in ("1", "true", "yes")

# Hypothesis (6.131 and later) mixes constants found in every loaded module of this
# repository into its draws, so a derandomized test draws other examples when run alone
# than in the whole suite, and any new module changes every invariant test's examples.
# The invariant tests' floors (commands accepted per rule) are measured on fixed draws:
# keep the draws a function of the test alone. (A private hook; if a Hypothesis upgrade
# removes it, this line fails loudly rather than silently.)
_hypothesis_providers._get_local_constants = lambda: _hypothesis_providers._local_constants

_pg_state: dict[str, Any] = {"checked": False, "error": None, "db": None, "skipped": 0}


def _postgres_database() -> str | None:
    """Creates the session's test database once; None when the server is absent."""
    if not _pg_state["checked"]:
        _pg_state["checked"] = True
        name = f"escrow_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        try:
            with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            _pg_state["db"] = name
        except psycopg.Error as e:
            _pg_state["error"] = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
    return _pg_state["db"]  # type: ignore[no-any-return]


def _db_url(dbname: str) -> str:
    base = ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{dbname}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _pg_state["exitstatus"] = int(exitstatus)
    db = _pg_state["db"]
    if db:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leaves without the interpreter's final garbage collection.

    Why: after the whole suite the process holds gigabytes of objects, and the
    final collection over them took about 90 s of CI's 15 minutes, doing nothing
    useful. Everything is reported and the databases are dropped by now; the
    exit status is pytest's own (5 when no test ran, which ``make test`` fails on).
    """
    status = _pg_state.get("exitstatus")
    if status is None or os.environ.get("LEDGER_SLOW_EXIT") == "1":
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(status))


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _pg_state["error"] is not None:
        terminalreporter.write_sep("!", "POSTGRESQL BACKEND SKIPPED", red=True, bold=True)
        terminalreporter.write_line(
            f"PostgreSQL at {ADMIN_URL} was unreachable ({_pg_state['error']}); "
            f"{_pg_state['skipped']} PostgreSQL test(s) were SKIPPED and only SQLite was tested."
        )
        terminalreporter.write_line(
            "Start it (see README) or set LEDGER_REQUIRE_POSTGRES=1 to make this a failure."
        )
    elif _pg_state["db"]:
        terminalreporter.write_line("backends tested: sqlite, postgresql")


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def require_backend(backend: str) -> None:
    """Skips (loudly, counted) or fails when the backend's server is absent."""
    if backend == "postgres" and _postgres_database() is None:
        if REQUIRE_POSTGRES:
            pytest.fail(
                f"LEDGER_REQUIRE_POSTGRES=1 but PostgreSQL is unreachable: {_pg_state['error']}"
            )
        _pg_state["skipped"] += 1
        pytest.skip(f"PostgreSQL unreachable: {_pg_state['error']}")


@contextmanager
def fresh_store(backend: str) -> Iterator[str]:
    """A URL to a new, empty store, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'ledger.db'}"
        return
    db = _postgres_database()
    assert db is not None, "call require_backend first"
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_db_url(db), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{_db_url(db)}?schema={schema}"
    finally:
        with psycopg.connect(_db_url(db), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    require_backend(request.param)
    return str(request.param)


@pytest.fixture
def database_url(backend: str) -> Iterator[str]:
    """A fresh, empty store per test, on each backend."""
    with fresh_store(backend) as url:
        yield url


@pytest.fixture
def clock() -> FakeClock:
    """Monday 2 March 2026, 09:00 UTC: the per-contract fee era, default 10%."""
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def app(database_url: str, clock: FakeClock) -> Iterator[EscrowLedger]:
    ledger = EscrowLedger(store_from_url(database_url).env, clock=clock)
    yield ledger
    ledger.close()


@pytest.fixture
def projector(app: EscrowLedger) -> ProjectionRunner:
    return ProjectionRunner(app)


@pytest.fixture
def postgres_available() -> None:
    require_backend("postgres")


@pytest.fixture(autouse=True)
def _release_fastapi_apps() -> Iterator[None]:
    """Lets each test's app be freed after it. FastAPI memoises what kind of callable each
    endpoint and dependency is (``lru_cache`` of 4,096 entries, keyed by the callable),
    which keeps every app a test built alive: dozens of apps of some 28,000 objects each,
    and the interpreter's full collections took a fifth of the suite's time (up to 5 s
    each at 6.7 million objects). A server builds one app, so it never grows there."""
    yield
    from fastapi.dependencies import models

    for name in ("_is_gen_callable_cached", "_is_async_gen_callable_cached",
                 "_is_coroutine_callable_cached"):
        cached = getattr(models, name, None)
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()


def _share_route_contexts_between_apps() -> None:
    """Builds each route's request handling once for the whole run, not once per test app.

    Why: FastAPI (0.165) builds an included route's handler -- a pydantic ``TypeAdapter``
    for every parameter, body and answer -- lazily at an app's first request, about
    0.3 s for our 65 routes. Every test builds its own app, so that was a third of the
    suite (some 1,100 tests). Every app includes the same module-level routers with the
    same arguments (``create_app``), so a route's handler is the same in all of them;
    it is shared only when the inclusion is equal, the app aside. What it does not
    follow is a later app's ``dependency_overrides``: no test uses them (one that did
    would find its override ignored and fail, not pass). A server builds one app, so it
    pays the 0.3 s once, at its first request.
    """
    from fastapi import routing

    included = getattr(routing, "_IncludedRouter", None)
    if included is None or not hasattr(included, "_build_effective_context"):
        return  # another FastAPI: each app builds its own, as before
    build = included._build_effective_context
    built: dict[int, list[tuple[Any, Any, Any]]] = {}

    def shared(self: Any, route: Any) -> Any:
        if not isinstance(route, routing.APIRoute):
            return build(self, route)
        inclusion = dataclasses.replace(self.include_context,
                                        dependency_overrides_provider=None)
        for seen, seen_inclusion, context in built.get(id(route), []):
            if seen is route and seen_inclusion == inclusion:
                return context
        context = build(self, route)
        built.setdefault(id(route), []).append((route, inclusion, context))
        return context

    included._build_effective_context = shared


_share_route_contexts_between_apps()


def pytest_collection_finish(session: pytest.Session) -> None:
    """What the imports built lives for the whole run: freeze it out of the collector's
    walks, and collect less often. The suite builds an app per test (tens of thousands
    of short-lived objects each), and full collections over everything imported took
    about a tenth of its time."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
