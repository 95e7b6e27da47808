"""Which store a ledger's log lives in: the one place that tells SQLite from PostgreSQL.

Everything store-specific (a query the library lacks, a lock, a view's SQL
dialect) asks here instead of testing recorder classes itself.
"""

from __future__ import annotations

from typing import Literal

from eventsourcing.persistence import Recorder
from eventsourcing.postgres import PostgresRecorder
from eventsourcing.sqlite import SQLiteRecorder

Backend = Literal["sqlite", "postgres"]


def backend_of(recorder: Recorder | object) -> Backend:
    """``"sqlite"`` or ``"postgres"``; any other store is refused, not guessed at."""
    if isinstance(recorder, SQLiteRecorder):
        return "sqlite"
    if isinstance(recorder, PostgresRecorder):
        return "postgres"
    raise TypeError(f"no support for a {type(recorder).__name__} store")
