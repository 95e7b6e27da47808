"""Which store a ledger's log lives in: the one place that tells SQLite from PostgreSQL.

Everything store-specific (a query the library lacks, a lock, a view's SQL
dialect) asks here instead of testing recorder classes itself.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from eventsourcing.persistence import IntegrityError, OperationalError, PersistenceError, Recorder
from eventsourcing.postgres import ConnectionPool, PostgresFactory, PostgresRecorder
from eventsourcing.sqlite import SQLiteFactory, SQLiteRecorder

Backend = Literal["sqlite", "postgres"]

POSTGRES_FACTORY_TOPIC = "ledger.stores:SchemaLockingPostgresFactory"
SQLITE_FACTORY_TOPIC = "ledger.stores:RetryingSQLiteFactory"
"""``PERSISTENCE_MODULE`` for each store (``ledger.settings.store_from_url``)."""


def backend_of(recorder: Recorder | object) -> Backend:
    """``"sqlite"`` or ``"postgres"``; any other store is refused, not guessed at."""
    if isinstance(recorder, SQLiteRecorder):
        return "sqlite"
    if isinstance(recorder, PostgresRecorder):
        return "postgres"
    raise TypeError(f"no support for a {type(recorder).__name__} store")


def ddl_lock_key(schema: str) -> int:
    """The advisory lock that serialises creating one schema's tables (a signed 64-bit key)."""
    digest = hashlib.sha256(f"escrow-ledger:ddl:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class StoreUnreachable(PersistenceError):
    """PostgreSQL cannot be reached: no connection could be opened moments ago.

    Deliberately not an ``OperationalError``: the library retries every store call
    10 times on those (each retry waiting for a connection), which made the first
    request of an outage answer after about 22 s. This error passes through those
    retries, so a call fails within one connection wait.
    """


class FailFastPool(ConnectionPool[Any]):
    """The library's connection pool, refusing at once while the server is known down.

    Why: see ``StoreUnreachable``. The pool notes when opening a connection fails
    (the server refused or did not answer) and when one succeeds. In between,
    asking for a connection raises ``StoreUnreachable`` without waiting, except
    that every ``PROBE_SECONDS`` one caller tries to open a connection itself, so
    the service finds the server back by itself (about as fast as that, whatever
    the pool's own reconnection backoff has grown to). The background reconnection
    gives up after ``RECONNECT_SECONDS`` instead of 5 minutes of backoff, so a
    pool that lost its connections grows again on demand once the server is back.
    """

    PROBE_SECONDS = 0.5
    RECONNECT_SECONDS = 5.0
    PING_IDLE_SECONDS = 1.0
    """A pooled connection is pinged (``POSTGRES_PRE_PING``) only after this long unused:
    one returned moments ago is as good as a ping's answer, and pinging every checkout
    was a quarter of a Monday burst's time (a ``SELECT 1`` round trip per store call)."""
    _down_since: float | None = None
    _last_probe = 0.0
    _probe_lock: threading.Lock
    _returned_at: dict[int, float]

    @classmethod
    def adopt(cls, pool: ConnectionPool[Any]) -> None:
        """Turns the pool the library built into one of these (it builds its own)."""
        pool.__class__ = cls
        assert isinstance(pool, cls)
        pool._probe_lock = threading.Lock()
        pool._returned_at = {}
        pool.reconnect_timeout = cls.RECONNECT_SECONDS
        # No JIT: the ledger's statements are short, and on a table whose statistics lag
        # its growth the planner's estimates made a 2 ms read compile 4.5 ms of JIT code
        # (170 ms on its first run). Set at connect, so it costs no round trip.
        if isinstance(pool.kwargs, dict):  # the library passes a dict
            pool.kwargs.setdefault("options", "-c jit=off")

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def _connect(self, timeout: float | None = None) -> Any:
        try:
            conn = super()._connect(timeout)
        except Exception:
            if self._down_since is None:
                self._down_since = time.monotonic()
            raise
        self._down_since = None
        return conn

    def putconn(self, conn: Any) -> None:
        self._returned_at[id(conn)] = time.monotonic()
        super().putconn(conn)

    def _check_connection(self, conn: Any) -> None:
        returned = self._returned_at.pop(id(conn), None)
        if returned is not None and time.monotonic() - returned < self.PING_IDLE_SECONDS:
            return
        super()._check_connection(conn)

    def getconn(self, timeout: float | None = None) -> Any:
        if self._down_since is not None:
            self._probe_or_refuse()
        return super().getconn(timeout)

    def _probe_or_refuse(self) -> None:
        if not self._probe_lock.acquire(blocking=False):
            raise StoreUnreachable("the database is unreachable (being probed)")
        try:
            now = time.monotonic()
            if now - self._last_probe < self.PROBE_SECONDS:
                raise StoreUnreachable("the database was unreachable moments ago")
            self._last_probe = now
            try:
                self._connect(timeout=self.timeout).close()
            except Exception as e:
                raise StoreUnreachable(f"the database is unreachable: {e}") from e
        finally:
            self._probe_lock.release()


class SchemaLockingPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory, creating tables one process at a time.

    Why: ``CREATE TABLE IF NOT EXISTS`` (and the library's ``CREATE TYPE``) is not
    safe against itself. Two processes starting at once on an empty schema (two
    API replicas, an API and ``ledger scheduler``) both pass the "not exists"
    check and the second dies at start-up with ``duplicate key value violates
    unique constraint "pg_type_typname_nsp_index"``. Holding a session advisory
    lock on the schema while a recorder creates its tables makes the second
    process wait, then find everything there. The lock is held on a connection
    of its own, so the creating transactions run as the library writes them.

    Its pool fails fast while the server is down: see ``FailFastPool``.
    """

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        FailFastPool.adopt(self.datastore.pool)

    def aggregate_recorder(self, purpose: str = "events") -> Any:
        with self._creating_tables():
            return super().aggregate_recorder(purpose)

    def application_recorder(self) -> Any:
        with self._creating_tables():
            return super().application_recorder()

    def tracking_recorder(self, tracking_recorder_class: Any = None) -> Any:
        with self._creating_tables():
            return super().tracking_recorder(tracking_recorder_class)

    def process_recorder(self) -> Any:
        with self._creating_tables():
            return super().process_recorder()

    @contextmanager
    def _creating_tables(self) -> Iterator[None]:
        if not self.env_create_table():
            yield
            return
        key = ddl_lock_key(self.datastore.schema)
        with self.datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", [key])
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", [key])
                conn.rollback()


class RetryingSQLiteFactory(SQLiteFactory):
    """The library's SQLite factory, creating tables again when another process raced it.

    Why: the library creates a recorder's tables in a deferred transaction that
    reads (``CREATE TABLE IF NOT EXISTS`` of a table that exists) before it
    writes. When another process starting on the same new file commits in
    between, SQLite refuses the upgrade at once with "database is locked" (the
    busy timeout does not apply to a stale snapshot), or both processes insert
    the tracking table's migration row and the second gets an ``IntegrityError``;
    either way a server died at start-up. Every statement is idempotent (``IF NOT
    EXISTS``, and the row is only inserted where it is missing), so the whole
    creation is retried after a short random pause; the failed attempt wrote
    nothing.

    Before any of that, the file is switched to WAL here, with the same retries:
    the library's first connection does it otherwise, and when another process
    holds the lock that ``PRAGMA journal_mode=WAL`` raises the standard library's
    own "database is locked" from inside the connection pool, leaving the pool's
    writer slot taken so that no retry could succeed.
    """

    CREATE_ATTEMPTS = 20

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        if not pool.is_sqlite_memory_mode:
            self._retried(lambda: self._switch_to_wal(pool.db_name, pool.lock_timeout))
            pool.is_journal_mode_wal = True

    @staticmethod
    def _switch_to_wal(db_name: str, lock_timeout: int | None) -> None:
        conn = sqlite3.connect(db_name, uri=True, isolation_level=None,
                               timeout=lock_timeout or 5)
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
        finally:
            conn.close()

    def env_create_table(self) -> bool:
        # The recorder methods below create the tables themselves (with retries); the
        # library's own calls, which would not retry, are switched off.
        return False

    def aggregate_recorder(self, purpose: str = "events") -> Any:
        return self._created(super().aggregate_recorder(purpose))

    def application_recorder(self) -> Any:
        return self._created(super().application_recorder())

    def tracking_recorder(self, tracking_recorder_class: Any = None) -> Any:
        return self._created(super().tracking_recorder(tracking_recorder_class))

    def process_recorder(self) -> Any:
        return self._created(super().process_recorder())

    def _created(self, recorder: Any) -> Any:
        if SQLiteFactory.env_create_table(self):
            self._retried(recorder.create_table)
        return recorder

    def _retried(self, step: Any) -> None:
        for attempt in range(1, self.CREATE_ATTEMPTS + 1):
            try:
                step()
                return
            except (OperationalError, IntegrityError, sqlite3.OperationalError) as e:
                raced = isinstance(e, IntegrityError) or "locked" in str(e) or "busy" in str(e)
                if not raced or attempt == self.CREATE_ATTEMPTS:
                    raise
                time.sleep(random.uniform(0.01, 0.05) * attempt)  # noqa: S311 - a pause
