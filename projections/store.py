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
from itertools import groupby
from operator import itemgetter
from typing import Any, ClassVar, Protocol

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import Notification, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from ledger.stores import backend_of


class View(Protocol):
    """What a projection needs from its tables, whichever store holds them."""

    def writing(self, tracking: Tracking) -> Any: ...

    def sql(self, template: str) -> Any: ...

    def fetch(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def insert_many(self, cursor: Any, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]]) -> None: ...

    def reset(self, tracking_name: str) -> None: ...

    def max_tracking_id(self, application_name: str) -> int | None: ...


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
            found = self._sql_cache[template] = template.format(**self.TABLES).replace("%s", "?")
        return found

    @contextmanager
    def writing(self, tracking: Tracking) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            yield c

    def fetch(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.sql(query), list(params))
            return [dict(row) for row in c.fetchall()]

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
            if not self.PIPELINE:
                self._insert_tracking(curs, tracking)
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
                    self._insert_tracking(curs, tracking)
                    yield curs
            finally:
                conn.prepare_threshold = threshold

    def fetch(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self.sql(query), list(params))
            return [dict(row) for row in curs.fetchall()]

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
