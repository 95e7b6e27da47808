"""A read model's tables on either store: one SQL text, two ways to reach the store.

A view declares its tables (placeholder -> table name) and their ``CREATE``
statements once; the SQLite and PostgreSQL classes differ only in how a
template becomes a statement and how a transaction is opened. Each write runs
in one transaction with the projection's tracking record, so a view is
exactly-once: a crash mid-batch leaves neither rows nor tracking.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any, ClassVar, Protocol

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Notification, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from ledger.stores import backend_of


@dataclass(frozen=True)
class Advance(Tracking):
    """A view's move from position ``previous`` to ``notification_id``, recorded only if its
    tracking still says ``previous`` (compare and set).

    Why not the library's tracking insert: it takes any position greater than the
    one stored. A runner that read its positions, then (after another runner
    recorded part of the span, and the log grew) read the notifications, had its
    overlapping batch accepted and applied twice: the revenue view counted a
    purchase twice. Refused here with ``TrackingMoved``; the runner reads its
    positions again.
    """

    previous: int = 0


class TrackingMoved(IntegrityError):
    """Another runner recorded this view's batch (or part of it) first: nothing was
    written; read the position again. Its own class because any other integrity error
    in a view's write (a CHECK refusing a row) is a real fault, to be raised, not retried."""


def _refused(tracking: Tracking) -> TrackingMoved:
    return TrackingMoved(f"{tracking.application_name} is no longer at the position its "
                         f"batch was read after; not recorded at {tracking.notification_id}")


class View(Protocol):
    """What a projection needs from its tables, whichever store holds them."""

    def writing(self, tracking: Tracking) -> Any: ...

    def sql(self, template: str) -> Any: ...

    def fetch(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def insert_many(self, cursor: Any, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]]) -> None: ...

    def reset(self, tracking_name: str) -> None: ...

    def max_tracking_id(self, application_name: str) -> int | None: ...

    def positions(self, names: Sequence[str]) -> dict[str, int]: ...

    def fetch_together(self, queries: Sequence[tuple[str, Sequence[Any]]]
                       ) -> list[list[dict[str, Any]]]: ...


class SQLiteView(SQLiteTrackingRecorder):
    TABLES: ClassVar[dict[str, str]] = {}
    CREATE: ClassVar[tuple[str, ...]] = ()

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        self._sql_cache: dict[str, str] = {}  # a rebuild formats each template 10^5 times
        super().__init__(datastore, **kwargs)

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(),
                *(self.sql(t) for t in self.CREATE)]

    def sql(self, template: str) -> str:
        found = self._sql_cache.get(template)
        if found is None:
            found = self._sql_cache[template] = template.format(
                **self.TABLES, tracking="tracking").replace("%s", "?")
        return found

    @contextmanager
    def writing(self, tracking: Tracking) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as c:
            self._advance_tracking(c, tracking)
            yield c

    def _advance_tracking(self, c: Any, tracking: Tracking) -> None:
        if not isinstance(tracking, Advance):
            self._insert_tracking(c, tracking)
            return
        if tracking.previous:
            c.execute("UPDATE tracking SET notification_id = ? WHERE application_name = ? "
                      "AND notification_id = ? RETURNING notification_id",
                      [tracking.notification_id, tracking.application_name, tracking.previous])
        else:
            c.execute("INSERT INTO tracking (application_name, notification_id) VALUES (?, ?) "
                      "ON CONFLICT (application_name) DO NOTHING RETURNING notification_id",
                      [tracking.application_name, tracking.notification_id])
        if c.fetchone() is None:
            raise _refused(tracking)

    def fetch(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.sql(query), list(params))
            return [dict(row) for row in c.fetchall()]

    def fetch_together(self, queries: Sequence[tuple[str, Sequence[Any]]]
                       ) -> list[list[dict[str, Any]]]:
        """Several reads at one snapshot (one read transaction; WAL keeps its snapshot
        from the first read to the end): figures that must agree with each other, such
        as a view's rows and the position they reflect, while a projector moves on."""
        with self.datastore.transaction(commit=False) as c:
            out = []
            for query, params in queries:
                c.execute(self.sql(query), list(params))
                out.append([dict(row) for row in c.fetchall()])
            return out

    def positions(self, names: Sequence[str]) -> dict[str, int]:
        """Every named view's position in one query (0 for one not yet started): the
        views share one tracking table, and a catch-up asked each in turn (six queries
        before every batch, and before every read that waits for a position)."""
        marks = ", ".join("?" * len(names))
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT application_name, notification_id FROM tracking "  # noqa: S608
                      f"WHERE application_name IN ({marks})", list(names))
            found = {row[0]: int(row[1]) for row in c.fetchall()}
        return {name: found.get(name, 0) for name in names}

    def insert_many(self, cursor: Any, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]]) -> None:
        """Plain rows into ``{table}`` inside a ``writing`` transaction."""
        statement = (f"INSERT INTO {{{table}}} ({', '.join(columns)}) "  # noqa: S608
                     f"VALUES ({', '.join(['?'] * len(columns))})")  # our own names
        cursor.executemany(self.sql(statement), rows)

    def reset(self, tracking_name: str) -> None:
        """Empties the view's tables and forgets its position, in one transaction."""
        with self.datastore.transaction(commit=True) as c:
            for placeholder in self.TABLES:
                if placeholder != "index":
                    c.execute(self.sql(f"DELETE FROM {{{placeholder}}}"))  # noqa: S608
            c.execute("DELETE FROM tracking WHERE application_name = ?", [tracking_name])


NO_FLUSH_WAIT = b"SET LOCAL synchronous_commit = off"
"""A view's commit does not wait for its WAL to reach the disk. A view is derived, and its
rows and tracking commit together: a server crash can lose only the last views' commits,
whole and in order (the WAL is sequential), which the projector then writes again from
the log, whose own commits still wait. The wait was one disk flush per view per
catch-up, six per command under the background projector."""
ADVANCE_TRACKING = ("UPDATE {tracking} SET notification_id = %s "
                    "WHERE application_name = %s AND notification_id = %s "
                    "RETURNING notification_id")
POSITIONS = ("SELECT application_name, notification_id FROM {tracking} "
             "WHERE application_name = ANY(%s)")
START_TRACKING = ("INSERT INTO {tracking} (application_name, notification_id) VALUES (%s, %s) "
                  "ON CONFLICT (application_name) DO NOTHING RETURNING notification_id")


class PostgresView(PostgresTrackingRecorder):
    TABLES: ClassVar[dict[str, str]] = {}
    CREATE: ClassVar[tuple[str, ...]] = ()
    PIPELINE: ClassVar[bool] = True
    """Write in psycopg's pipeline mode: statements go out without waiting for each answer
    (a rebuild of every projection made 300,000 round trips per 100,000 events); a
    read inside the batch still waits for its answer. Off for a view that writes by COPY,
    which pipeline mode does not allow."""

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        self._sql_cache: dict[str, bytes] = {}
        super().__init__(datastore, **kwargs)
        schema = Identifier(self.datastore.schema)
        self.idents = {
            key: Identifier(name) if key == "index"
            else Composed([schema, SQL("."), Identifier(name)])
            for key, name in self.TABLES.items()
        }
        self.idents["tracking"] = Composed([schema, SQL("."),
                                            Identifier(self.tracking_table_name)])
        self.sql_create_statements += [SQL(t).format(**self.idents) for t in self.CREATE]

    def sql(self, template: str) -> bytes:
        """The statement as the bytes psycopg sends, rendered once: a ``Composed`` is
        rendered again on every execute (10 of the 29 us a pipelined row costs)."""
        found = self._sql_cache.get(template)
        if found is None:
            found = self._sql_cache[template] = SQL(template).format(
                **self.idents).as_bytes(None)
        return found

    @contextmanager
    def writing(self, tracking: Tracking) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(NO_FLUSH_WAIT, prepare=False)
            if not self.PIPELINE:
                self._advance_tracking(curs, tracking)
                yield curs
                return
            conn = curs.connection
            # Nothing is prepared inside the pipeline: psycopg counts a statement prepared
            # once it queues its parse, which the server skips after an earlier failure
            # (a tracking row another process recorded first), and every later use on the
            # connection would fail with "prepared statement does not exist".
            threshold, conn.prepare_threshold = conn.prepare_threshold, None
            try:
                with conn.pipeline():
                    self._advance_tracking(curs, tracking)
                    yield curs
            finally:
                conn.prepare_threshold = threshold

    def _advance_tracking(self, curs: Any, tracking: Tracking) -> None:
        if not isinstance(tracking, Advance):
            self._insert_tracking(curs, tracking)
            return
        # the row lock the statement takes holds a racing runner until this commits; it
        # then finds the position moved and is refused
        if tracking.previous:
            curs.execute(self.sql(ADVANCE_TRACKING), [
                tracking.notification_id, tracking.application_name, tracking.previous],
                prepare=False)
        else:
            curs.execute(self.sql(START_TRACKING), [
                tracking.application_name, tracking.notification_id], prepare=False)
        if curs.fetchone() is None:
            raise _refused(tracking)

    def fetch(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self.sql(query), list(params))
            return [dict(row) for row in curs.fetchall()]

    def fetch_together(self, queries: Sequence[tuple[str, Sequence[Any]]]
                       ) -> list[list[dict[str, Any]]]:
        """As ``SQLiteView.fetch_together``: one REPEATABLE READ transaction, so every
        read sees the same snapshot (READ COMMITTED takes a new one per statement)."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(b"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", prepare=False)
            out = []
            for query, params in queries:
                curs.execute(self.sql(query), list(params))
                out.append([dict(row) for row in curs.fetchall()])
            return out

    def positions(self, names: Sequence[str]) -> dict[str, int]:
        """As ``SQLiteView.positions``: every named view's position in one query."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self.sql(POSITIONS), [list(names)])
            found = {row["application_name"]: int(row["notification_id"])
                     for row in curs.fetchall()}
        return {name: found.get(name, 0) for name in names}

    def insert_many(self, cursor: Any, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]]) -> None:
        """Plain rows into ``{table}`` inside a ``writing`` transaction, by COPY: one
        round trip for the batch instead of a pipelined INSERT per row (a rebuild writes
        hundreds of thousands)."""
        statement = SQL("COPY {} ({}) FROM STDIN").format(
            self.idents[table], SQL(", ").join(Identifier(c) for c in columns))
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def reset(self, tracking_name: str) -> None:
        """Empties the view's tables and forgets its position, in one transaction."""
        tables = [self.idents[p] for p in self.TABLES if p != "index"]
        with self.datastore.transaction(commit=True) as curs:
            # TRUNCATE, not DELETE: a rebuild that deleted left every old row dead in the
            # table and its indexes until a vacuum (an as-of read then walked 5x the pages)
            curs.execute(SQL("TRUNCATE {}").format(SQL(", ").join(tables)))
            curs.execute(
                SQL("DELETE FROM {0}.{1} WHERE application_name = %s").format(
                    Identifier(self.datastore.schema), Identifier(self.tracking_table_name)),
                [tracking_name])


_READ_RETRIES = (psycopg.InterfaceError, psycopg.OperationalError)


@retry(_READ_RETRIES, max_attempts=10, wait=0.2)  # as the library's own read
def read_notifications(app: Application[Any], start: int, limit: int) -> Sequence[Any]:
    """``app.recorder.select_notifications(start=start, limit=limit)``, faster on PostgreSQL.

    There the rows come as plain tuples in binary format: the library's dict rows with
    the state as hex text took most of a rebuild's reading. The same query and order,
    the same ``Notification`` objects; SQLite uses the library's own.
    """
    recorder: Any = app.recorder
    if backend_of(recorder) == "sqlite" or not hasattr(recorder, "events_table_name"):
        return recorder.select_notifications(start=start, limit=limit)  # type: ignore[no-any-return]
    statement = SQL("SELECT notification_id, originator_id, originator_version, topic, state "
                    "FROM {}.{} WHERE notification_id >= %s ORDER BY notification_id "
                    "LIMIT %s").format(Identifier(recorder.datastore.schema),
                                       Identifier(recorder.events_table_name))
    with recorder.datastore.transaction(commit=False) as curs:
        cur = curs.connection.cursor(binary=True, row_factory=tuple_row)
        cur.execute(statement, [start, limit], prepare=True)
        return [Notification(id=i, originator_id=o, originator_version=v, topic=t, state=s)
                for i, o, v, t, s in cur.fetchall()]


def open_view(app: Application[Any], sqlite: type[SQLiteView],
              postgres: type[PostgresView]) -> View:
    """The view class that matches the application's store, on its datastore."""
    cls: type[Any] = sqlite if backend_of(app.recorder) == "sqlite" else postgres
    view: Any = app.factory.tracking_recorder(cls)
    return view  # type: ignore[no-any-return]


def execute_runs(view: View, cursor: Any,
                 statements: Iterable[tuple[str, Sequence[Any]]]) -> None:
    """Statements in their order, each run of the same statement as one ``executemany``:
    in a pipeline that costs half of an ``execute`` a row (a burst of 100,000 invoices
    writes four deadline rows and four contract rows for each)."""
    for statement, run in groupby(statements, key=itemgetter(0)):
        rows = [params for _, params in run]
        if len(rows) == 1:
            cursor.execute(view.sql(statement), rows[0])
        else:
            cursor.executemany(view.sql(statement), rows)


SqlOf = Callable[[str], Any]
