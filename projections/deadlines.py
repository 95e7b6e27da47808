"""The due-deadlines read model: every running clock, from the events that start and stop it.

Events say which clocks they start or stop (``deadline_changes``); a deadline
whose command was refused for good is kept, marked retired with the refusal,
so finance and auditors see it (``GET /v1/deadlines``) and nothing retries it.
The scheduler and the test clock read this table instead of scanning aggregates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking

from domain.deadlines import Deadline, DeadlineChange, DeadlineKind, epoch_us, from_epoch_us
from ledger.idempotency import CommandRecord
from projections.store import PostgresView, SQLiteView, execute_runs, open_view

DEADLINE_TABLES = {"deadlines": "due_deadlines", "index": "due_deadlines_status_due"}
DEADLINE_CREATE = (
    "CREATE TABLE IF NOT EXISTS {deadlines} ("
    "deadline_id TEXT PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL, "
    "ref TEXT NOT NULL, due_us BIGINT NOT NULL, "
    "status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'retired')), "
    "refusal TEXT)",
    "CREATE INDEX IF NOT EXISTS {index} ON {deadlines} (status, due_us, deadline_id)",
)
UPSERT = (
    "INSERT INTO {deadlines} (deadline_id, kind, subject, ref, due_us, status, refusal) "
    "VALUES (%s, %s, %s, %s, %s, 'pending', NULL) ON CONFLICT (deadline_id) DO UPDATE SET "
    "due_us = excluded.due_us, status = 'pending', refusal = NULL"
)
DELETE = "DELETE FROM {deadlines} WHERE deadline_id = %s"
DELETE_FIRED = "DELETE FROM {deadlines} WHERE deadline_id = %s AND due_us = %s"
RETIRE = "UPDATE {deadlines} SET status = 'retired', refusal = %s WHERE deadline_id = %s"
STATUSES = ("pending", "retired")


class SQLiteDeadlineView(SQLiteView):
    TABLES = DEADLINE_TABLES
    CREATE = DEADLINE_CREATE


class PostgresDeadlineView(PostgresView):
    TABLES = DEADLINE_TABLES
    CREATE = DEADLINE_CREATE


def fired_deadline(key: str) -> tuple[str, int] | None:
    """The deadline id and due time a firing's key names (``Deadline.idempotency_key``)."""
    if not key.startswith("deadline:"):
        return None
    deadline_id, _, due_us = key[len("deadline:"):].rpartition(":")
    return (deadline_id, int(due_us)) if deadline_id and due_us.isdigit() else None


def changes_of(event: Any) -> list[tuple[str, tuple[Any, ...]]]:
    """The statements one event makes on the table, in order."""
    if isinstance(event, CommandRecord.Accepted):
        response = event.response
        if response.get("retired") is True and "deadline_id" in response:
            return [(RETIRE, (response.get("refusal"), response["deadline_id"]))]
        fired = fired_deadline(event.key)
        # A firing that found nothing left to do leaves its clock at the same due
        # time: done, not pending. A clock the firing restarted has a new due time.
        return [(DELETE_FIRED, fired)] if fired else []
    found = getattr(event, "deadline_changes", None)
    changes: list[DeadlineChange] = found() if callable(found) else []
    return [
        (DELETE, (c.deadline_id,)) if c.due is None
        else (UPSERT, (c.deadline_id, c.kind.value, c.subject, c.ref, epoch_us(c.due)))
        for c in changes
    ]


class DeadlineProjection:
    name = "deadlines"

    def __init__(self, app: Application[Any]) -> None:
        self.view = open_view(app, SQLiteDeadlineView, PostgresDeadlineView)
        self.queries = DeadlineQueries(self)

    def position(self) -> int:
        return self.view.max_tracking_id(self.name) or 0

    def handle(self, batch: Sequence[tuple[int, Any]], tracking: Tracking) -> None:
        with self.view.writing(tracking) as cursor:
            execute_runs(self.view, cursor, (change for _, event in batch
                                             for change in changes_of(event)))

    def reset(self) -> None:
        self.view.reset(self.name)


def deadline_of(row: dict[str, Any]) -> Deadline:
    return Deadline(from_epoch_us(row["due_us"]), DeadlineKind(row["kind"]), row["subject"],
                    row["ref"])


class DeadlineQueries:
    def __init__(self, projection: DeadlineProjection) -> None:
        self.projection = projection

    def due(self, upto: datetime, limit: int = 1000) -> list[Deadline]:
        """Pending deadlines due by ``upto``, earliest first."""
        rows = self.projection.view.fetch(
            "SELECT kind, subject, ref, due_us FROM {deadlines} "
            "WHERE status = 'pending' AND due_us <= %s ORDER BY due_us, deadline_id LIMIT %s",
            [epoch_us(upto), limit])
        return [deadline_of(r) for r in rows]

    def count_due(self, upto: datetime) -> int:
        """How many pending deadlines are due by ``upto``."""
        rows = self.projection.view.fetch(
            "SELECT COUNT(*) AS n FROM {deadlines} WHERE status = 'pending' AND due_us <= %s",
            [epoch_us(upto)])
        return int(rows[0]["n"])

    def page(self, *, status: str | None, after: tuple[int, str] | None,
             limit: int, kind: str | None = None) -> list[dict[str, Any]]:
        """Deadlines in firing order, after the cursor ``(due_us, deadline_id)``."""
        where: list[str] = []
        params: list[Any] = []
        if status is not None:
            where.append("status = %s")
            params.append(status)
        if kind is not None:
            where.append("kind = %s")
            params.append(kind)
        if after is not None:
            where.append("(due_us > %s OR (due_us = %s AND deadline_id > %s))")
            params += [after[0], after[0], after[1]]
        clause = "WHERE " + " AND ".join(where) + " " if where else ""
        query = ("SELECT deadline_id, kind, subject, ref, due_us, status, refusal FROM "  # noqa: S608 - fixed text
                 "{deadlines} " + clause + "ORDER BY due_us, deadline_id LIMIT %s")
        return self.projection.view.fetch(query, [*params, limit])
