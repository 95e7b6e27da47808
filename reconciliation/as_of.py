"""Every balance as of a moment, rebuilt from the raw log alone and compared with the live view.

Why a scratch store: an auditor must not have to trust the live projection to
learn what the balances were. The replay reads the stored events (decoded with
today's mapper, so old versions are upcast), keeps the postings of every event
effective by the moment asked for, and writes them into a fresh SQLite file
with the same zero-sum check the live view uses. The scratch file's
``account_balances`` table then *is* the books as of that moment; the live
view is asked the same question over the same log positions, and every
account where the two differ is listed with both figures.

Both sides stop at one log position (the live journal's when the replay
starts), so events written meanwhile cannot show up as differences; an event
recorded later but effective earlier (a deadline fired late takes effect at its
due time) is in both when it is within that position. Memory stays flat in the
log's length: events are read and written 5,000 at a time, and only the events
that can carry postings are looked at, read from the stored JSON where that is
certain to give what decoding would (``projections.postings.PostingReader``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteDatastore

from domain.deadlines import epoch_us
from projections.journal import (
    AccountBalance,
    JournalQueries,
    SQLiteJournalView,
    record_rows,
)
from projections.postings import PostingReader
from projections.store import read_notifications

BATCH = 5000
SCRATCH_TRACKING = "audit-replay"


@dataclass(frozen=True)
class Difference:
    """One account whose normal-side balance differs between the replay and the live view."""

    account: str
    currency: str
    replayed: Decimal
    live: Decimal


@dataclass(frozen=True)
class AsOfReplay:
    as_of: datetime | None
    position: int
    """The log position both sides stop at."""
    events: int
    """Events read from the raw log."""
    postings: int
    """Postings effective by ``as_of`` written to the scratch store."""
    accounts: int
    differences: list[Difference]
    trial_balance: dict[str, Decimal]
    """The replay's debits minus credits per currency (zero when the books balance)."""
    scratch: Path

    @property
    def ok(self) -> bool:
        return not self.differences and all(v == 0 for v in self.trial_balance.values())


def open_scratch(path: Path) -> SQLiteJournalView:
    """A fresh journal view in its own SQLite file (refused if the file already exists:
    a replay never writes over anything)."""
    if path.exists():
        raise FileExistsError(f"{path} already exists: the scratch store must be a new file")
    view = SQLiteJournalView(SQLiteDatastore(str(path)))
    view.create_table()
    return view


def _balances(rows: list[AccountBalance]) -> dict[tuple[str, str], Decimal]:
    return {(b.account, b.currency): b.balance for b in rows}


def replay_as_of(app: Application[Any], live: JournalQueries, as_of: datetime | None,
                 scratch: Path, *,
                 progress: Callable[[int, int], None] | None = None) -> AsOfReplay:
    """Rebuilds the books as of ``as_of`` (all of history when None) into ``scratch`` from the
    raw log and lists every account where the live view says otherwise.

    ``progress(position reached, position to reach)`` after each batch.
    """
    limit_us = None if as_of is None else epoch_us(as_of)
    position = live.position()
    view = open_scratch(scratch)
    events = postings = 0
    start = 1
    reader = PostingReader(app.mapper)
    while start <= position:
        # no ``stop=`` in SQL: with both bounds PostgreSQL's planner (on a log not yet
        # analysed) sorted the whole remaining range for every page; cut it here instead
        notifications = [n for n in read_notifications(app, start, BATCH) if n.id <= position]
        if not notifications:
            break
        rows = [row for row in reader.rows(notifications, app.mapper.to_domain_event)
                if limit_us is None or row.effective_us <= limit_us]
        record_rows(view, rows, Tracking(SCRATCH_TRACKING, notifications[-1].id))
        events += len(notifications)
        postings += len(rows)
        start = notifications[-1].id + 1
        if progress is not None:
            progress(notifications[-1].id, position)
    replayed_view = JournalQueries(view, SCRATCH_TRACKING)
    replayed = _balances(replayed_view.balances_at(None, position))
    current = _balances(live.balances_at(as_of, position))
    live.require_still_past(position)
    differences = [
        Difference(account, currency, replayed.get((account, currency), Decimal(0)),
                   current.get((account, currency), Decimal(0)))
        for account, currency in sorted(set(replayed) | set(current))
        if replayed.get((account, currency), Decimal(0))
        != current.get((account, currency), Decimal(0))
    ]
    trial = replayed_view.trial_balance()
    view.datastore.close()
    return AsOfReplay(as_of, position, events, postings, len(replayed), differences,
                      trial, scratch)
