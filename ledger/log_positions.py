"""Where a stored event sits in the log: the one store-specific query the application needs.

A replayed idempotent command must answer exactly what it answered first,
position included; the position is the notification id of the key's record,
written last in the command's atomic save. The library has no call for "the
notification id of this event", so each store gets a one-line query here,
beside the persistence settings, and nowhere else.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier

from ledger.stores import backend_of


def notification_id_of(
    recorder: ApplicationRecorder, originator_id: UUID, version: int
) -> int | None:
    backend = backend_of(recorder)
    if backend == "sqlite":
        assert isinstance(recorder, SQLiteApplicationRecorder)
        with recorder.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT rowid FROM {recorder.events_table_name} "  # noqa: S608 - library's name
                "WHERE originator_id = ? AND originator_version = ?",
                (originator_id.hex, version),
            )
            row = c.fetchone()
            return None if row is None else int(row[0])
    assert isinstance(recorder, PostgresApplicationRecorder)
    statement = SQL(
        "SELECT notification_id FROM {}.{} WHERE originator_id = %s "
        "AND originator_version = %s"
    ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
    with recorder.datastore.transaction(commit=False) as curs:
        curs.execute(statement, (originator_id, version))
        found = curs.fetchone()
        return None if found is None else int(found["notification_id"])
