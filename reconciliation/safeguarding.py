"""Safeguarding, per day: what the ledger owes users against the money held for them.

Why: client and freelancer money must be covered every day by money the
platform holds for them. Owed is the sum, at the end of the day (UTC), of every
user liability the journal holds: escrow, escrow under dispute, hourly weeks in
review, freelancer pending, available and in flight, client credit (a
freelancer's negative available after a chargeback is a debt to us; it never
reduces what is owed to others). Held is the trust account's closing balance
from the bank statement plus what the processor has settled on its side and
not yet paid out to the trust account (rows created by that day and available
after it, their ``net``). Held below owed is a shortfall: a break.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from domain.money import currency_of, minor_unit_exponent
from projections.journal import JournalQueries
from reconciliation.model import AccountBalance, Source, StatementLine

CATEGORIES: tuple[tuple[str, str], ...] = (
    ("escrow", "escrow:"),
    ("escrow_under_dispute", "escrow_dispute:"),
    ("hourly_in_review", "hourly_review:"),
    ("client_credit", "client:"),
    ("freelancer_pending", ":pending"),
    ("freelancer_available", ":available"),
    ("freelancer_in_flight", ":in_flight"),
)


def category_of(account: str) -> str | None:
    for name, mark in CATEGORIES:
        if name.startswith("freelancer_"):
            if account.startswith("freelancer:") and account.endswith(mark):
                return name
        elif account.startswith(mark) and (name != "client_credit"
                                          or account.endswith(":credit")):
            return name
    return None


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


DAY_US = 86_400_000_000
_PREFIXES = ("escrow", "hourly", "freelancer:", "client:")
"""Every account a category names (LIKE prefixes without ``_``; ``category_of`` decides)."""


def owed_by_day(queries: JournalQueries, days: Sequence[date], upto: int,
                currency: str) -> dict[date, dict[str, Decimal]]:
    """Each category's total owed at the end of each of ``days``, in ``currency``.

    One query gives every user account's movements per day; running balances are
    kept per account and each category's total moves by the change in that
    account's positive part, so a long history costs one pass, not one scan a day.
    """
    exponent = Decimal(1).scaleb(-minor_unit_exponent(currency_of(currency)))
    balances: dict[str, int] = {}
    totals = {name: 0 for name, _ in CATEGORIES}
    wanted = sorted(days)
    out: dict[date, dict[str, Decimal]] = {}
    rows = [r for r in queries.daily_changes(_PREFIXES, upto, DAY_US)
            if r["currency"] == currency and category_of(r["account"]) is not None]
    i = 0
    for day in wanted:
        limit = (datetime.combine(day, time.min, tzinfo=UTC) - EPOCH) // timedelta(days=1)
        while i < len(rows) and int(rows[i]["day_no"]) <= limit:
            r = rows[i]
            name = category_of(r["account"])
            assert name is not None
            before = balances.get(r["account"], 0)
            after = before + int(r["c"]) - int(r["d"])  # liabilities: credit-normal
            balances[r["account"]] = after
            totals[name] += max(after, 0) - max(before, 0)
            i += 1
        out[day] = {name: Decimal(v) * exponent for name, v in totals.items()}
    return out


def in_transit(lines: Sequence[StatementLine], day: date, currency: str) -> Decimal:
    """Settled by the processor by ``day`` and paid to the bank after it."""
    return sum((line.net if line.net is not None else line.amount
                for line in lines
                if line.source is Source.PROCESSOR and line.currency == currency
                and line.booked <= day and (line.value_date or line.booked) > day),
               Decimal("0.00"))


def daily(queries: JournalQueries, upto: int, balances: Sequence[AccountBalance],
          lines: Sequence[StatementLine], trust_accounts: Sequence[str]) -> list[dict[str, Any]]:
    """One row per day and currency the trust account(s) state a closing balance for."""
    closing: dict[tuple[date, str], Decimal] = {}
    for b in balances:
        if not trust_accounts or b.account in trust_accounts:
            closing[(b.day, b.currency)] = closing.get((b.day, b.currency), Decimal(0)) + b.closing
    rows = []
    owed_days: dict[str, dict[date, dict[str, Decimal]]] = {
        currency: owed_by_day(queries, [d for d, c in closing if c == currency], upto, currency)
        for currency in {c for _, c in closing}}
    for (day, currency), trust in sorted(closing.items()):
        owed = owed_days[currency][day]
        transit = in_transit(lines, day, currency)
        total_owed = sum(owed.values(), Decimal("0.00"))
        held = trust + transit
        rows.append({
            "day": day.isoformat(), "currency": currency,
            "owed": {k: str(v) for k, v in owed.items()}, "owed_total": str(total_owed),
            "trust_closing": str(trust), "in_transit": str(transit), "held": str(held),
            "surplus": str(held - total_owed), "shortfall": held < total_owed,
        })
    return rows
