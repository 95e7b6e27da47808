"""A read model's tables on either store: one SQL text, two ways to reach the store.

A view declares its tables (placeholder -> table name) and their ``CREATE``
statements once; the SQLite and PostgreSQL classes differ only in how a
template becomes a statement and how a transaction is opened. Each write runs
in one transaction with the projection's tracking record, so a view is
exactly-once: a crash mid-batch leaves neither rows nor tracking.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Protocol

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from psycopg.sql import SQL, Composed, Identifier

from ledger.stores import backend_of


class View(Protocol):
    """What a projection needs from its tables, whichever store holds them."""

    def writing(self, tracking: Tracking) -> Any: ...

    def sql(self, template: str) -> Any: ...

    def fetch(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def reset(self, tracking_name: str) -> None: ...

    def max_tracking_id(self, application_name: str) -> int | None: ...


class SQLiteView(SQLiteTrackingRecorder):
    TABLES: ClassVar[dict[str, str]] = {}
    CREATE: ClassVar[tuple[str, ...]] = ()

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(),
                *(self.sql(t) for t in self.CREATE)]

    def sql(self, template: str) -> str:
        return template.format(**self.TABLES).replace("%s", "?")

    @contextmanager
    def writing(self, tracking: Tracking) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            yield c

    def fetch(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.sql(query), list(params))
            return [dict(row) for row in c.fetchall()]

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

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema = Identifier(self.datastore.schema)
        self.idents = {
            key: Identifier(name) if key == "index"
            else Composed([schema, SQL("."), Identifier(name)])
            for key, name in self.TABLES.items()
        }
        self.sql_create_statements += [self.sql(t) for t in self.CREATE]

    def sql(self, template: str) -> Composed:
        return SQL(template).format(**self.idents)

    @contextmanager
    def writing(self, tracking: Tracking) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, tracking)
            yield curs

    def fetch(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self.sql(query), list(params))
            return [dict(row) for row in curs.fetchall()]

    def reset(self, tracking_name: str) -> None:
        """Empties the view's tables and forgets its position, in one transaction."""
        with self.datastore.transaction(commit=True) as curs:
            for placeholder in self.TABLES:
                if placeholder != "index":
                    curs.execute(self.sql(f"DELETE FROM {{{placeholder}}}"))  # noqa: S608
            curs.execute(
                SQL("DELETE FROM {0}.{1} WHERE application_name = %s").format(
                    Identifier(self.datastore.schema), Identifier(self.tracking_table_name)),
                [tracking_name])


def open_view(app: Application[Any], sqlite: type[SQLiteView],
              postgres: type[PostgresView]) -> View:
    """The view class that matches the application's store, on its datastore."""
    cls: type[Any] = sqlite if backend_of(app.recorder) == "sqlite" else postgres
    view: Any = app.factory.tracking_recorder(cls)
    return view  # type: ignore[no-any-return]


SqlOf = Callable[[str], Any]
