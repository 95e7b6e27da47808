"""Internal checks: the trial balance, and the projection against a fresh replay.

The replay reads every stored event from position zero with today's mapper
(upcasting old versions), sums the postings each event recorded, and compares
with the live projection account by account. A difference is a *break*: it is
reported with both figures, never corrected silently.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eventsourcing.application import Application

from domain.bookkeeping.accounts import kind_of
from domain.bookkeeping.postings import JournalEntry, books_balance
from projections.journal import JournalQueries


@dataclass(frozen=True)
class Break:
    account: str
    currency: str
    replayed: Decimal
    projected: Decimal


@dataclass(frozen=True)
class ReplayReport:
    position: int
    accounts: int
    breaks: list[Break]
    trial_balance: dict[str, Decimal]

    @property
    def ok(self) -> bool:
        return not self.breaks and books_balance(self.trial_balance)


def replay_balances(app: Application[Any], upto: int | None = None) -> tuple[
        dict[tuple[str, str], Decimal], int]:
    """Normal-side balance of every account from the raw log, and the last position read."""
    signed: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    start, last = 1, 0
    while True:
        batch = app.recorder.select_notifications(start=start, limit=1000, stop=upto)
        if not batch:
            break
        for n in batch:
            entry = getattr(app.mapper.to_domain_event(n), "entry", None)
            if isinstance(entry, JournalEntry):
                for p in entry.postings:
                    signed[(p.account, p.amount.currency.code)] += p.signed
            last = n.id
        start = last + 1
    balances = {
        key: (value if kind_of(key[0]).debit_normal else -value)
        for key, value in signed.items()
    }
    return balances, last


def compare_with_projection(app: Application[Any], queries: JournalQueries) -> ReplayReport:
    """Replays up to the projection's position and lists every account that differs."""
    position, balances, trial = queries.balances_and_position()  # one snapshot
    replayed, _ = replay_balances(app, upto=position)
    projected = {(b.account, b.currency): b.balance for b in balances}
    breaks = [
        Break(account, currency, replayed.get((account, currency), Decimal(0)),
              projected.get((account, currency), Decimal(0)))
        for account, currency in sorted(set(replayed) | set(projected))
        if replayed.get((account, currency), Decimal(0))
        != projected.get((account, currency), Decimal(0))
    ]
    return ReplayReport(position, len(projected), breaks, trial)
