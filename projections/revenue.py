"""Platform revenue per fee kind per day, and the deferred balances, from the events' postings.

Revenue is what the books say, not what a fee quote said: every ``revenue:*``
credit of an event's entry is revenue of that fee kind, every debit a reversal
(a marketplace fee refunded with escrow, Connects revenue given back with
returned Connects). ``deferred:*`` accounts are collapsed per kind
(``deferred:initiation_fee:<contract>`` is ``initiation_fee``) so finance sees
one deferred balance per kind and currency.

One row per (UTC day of the event's effective time, account, currency) holds
that day's credits and debits in integer minor units, so any period sums its
days exactly and a deferred balance as of a day is the sum of every day up to
it. Rows are written in the same transaction as the tracking record: a crash
mid-batch leaves neither, and the next catch-up redoes the batch once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking

from domain.bookkeeping.postings import JournalEntry, Side
from domain.errors import InvalidPeriod
from domain.money import currency_of, minor_unit_exponent, to_minor_units
from projections.store import PostgresView, SQLiteView, View, open_view

REVENUE = "revenue:"
DEFERRED = "deferred:"
MAX_PERIOD_DAYS = 366
"""A report covers at most a leap year: longer periods are several reports."""

REVENUE_TABLES = {"days": "revenue_days", "index": "revenue_days_account_day"}
REVENUE_CREATE = (
    "CREATE TABLE IF NOT EXISTS {days} ("
    "day TEXT NOT NULL, account TEXT NOT NULL, currency TEXT NOT NULL, "
    "credits_minor BIGINT NOT NULL DEFAULT 0 CHECK (credits_minor >= 0), "
    "debits_minor BIGINT NOT NULL DEFAULT 0 CHECK (debits_minor >= 0), "
    "PRIMARY KEY (day, account, currency))",
    "CREATE INDEX IF NOT EXISTS {index} ON {days} (account, day)",
)
UPSERT_DAY = (
    "INSERT INTO {days} (day, account, currency, credits_minor, debits_minor) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (day, account, currency) DO UPDATE SET "
    "credits_minor = {days}.credits_minor + excluded.credits_minor, "
    "debits_minor = {days}.debits_minor + excluded.debits_minor"
)


class SQLiteRevenueView(SQLiteView):
    TABLES = REVENUE_TABLES
    CREATE = REVENUE_CREATE


class PostgresRevenueView(PostgresView):
    TABLES = REVENUE_TABLES
    CREATE = REVENUE_CREATE


def account_family(account: str) -> str | None:
    """``revenue:<kind>`` as is, ``deferred:<kind>[:<owner>]`` as ``deferred:<kind>``;
    None for every other account (escrow, balances, clearing: not the platform's income)."""
    if account.startswith(REVENUE):
        return account
    if account.startswith(DEFERRED):
        return ":".join(account.split(":", 2)[:2])
    return None


def day_deltas(batch: Iterable[tuple[int, Any]]) -> list[tuple[str, str, str, int, int]]:
    """(day, account, currency, credits, debits) summed over the batch's postings."""
    totals: dict[tuple[str, str, str], list[int]] = {}
    for _, event in batch:
        entry = getattr(event, "entry", None)
        if not isinstance(entry, JournalEntry):
            continue
        day = event.timestamp.astimezone(UTC).date().isoformat()
        for p in entry.postings:
            family = account_family(p.account)
            if family is None:
                continue
            t = totals.setdefault((day, family, p.amount.currency.code), [0, 0])
            t[0 if p.side is Side.CREDIT else 1] += to_minor_units(p.amount)
    return [(d, a, c, cr, db) for (d, a, c), (cr, db) in sorted(totals.items())]


class RevenueProjection:
    """Revenue and deferred balances per day, fee kind and currency."""

    name = "revenue"

    def __init__(self, app: Application[Any]) -> None:
        self.view = open_view(app, SQLiteRevenueView, PostgresRevenueView)
        self.queries = RevenueQueries(self.view, self.name)

    def position(self) -> int:
        return self.queries.position()

    def handle(self, batch: Sequence[tuple[int, Any]], tracking: Tracking) -> None:
        deltas = day_deltas(batch)
        with self.view.writing(tracking) as cursor:
            for row in deltas:
                cursor.execute(self.view.sql(UPSERT_DAY), row)

    def reset(self) -> None:
        self.view.reset(self.name)


def amount_text(minor: int, currency: str) -> str:
    """Integer minor units as the currency's decimal text (995 USD -> "9.95")."""
    exponent = minor_unit_exponent(currency_of(currency))
    sign = "-" if minor < 0 else ""
    whole, part = divmod(abs(int(minor)), 10**exponent)
    return f"{sign}{whole}.{part:0{exponent}d}" if exponent else f"{sign}{whole}"


def check_period(from_date: date, to_date: date) -> None:
    if from_date > to_date:
        raise InvalidPeriod(f"'from' {from_date} is after 'to' {to_date}")
    days = (to_date - from_date).days + 1
    if days > MAX_PERIOD_DAYS:
        raise InvalidPeriod(f"the period {from_date}..{to_date} spans {days} days; "
                            f"ask for at most {MAX_PERIOD_DAYS} at a time")


def _lines(gross: int, reversed_: int, currency: str) -> dict[str, str]:
    return {"gross": amount_text(gross, currency), "reversed": amount_text(reversed_, currency),
            "net": amount_text(gross - reversed_, currency)}


class RevenueQueries:
    """Reports over the daily table; each says the position it reflects."""

    def __init__(self, view: View, name: str) -> None:
        self.view = view
        self.name = name

    def position(self) -> int:
        return self.view.max_tracking_id(self.name) or 0

    def rows(self) -> list[dict[str, Any]]:
        """Every stored row, in key order (for rebuild checks and audits)."""
        return self.view.fetch(
            "SELECT day, account, currency, credits_minor, debits_minor FROM {days} "
            "ORDER BY day, account, currency")

    def report(self, from_date: date, to_date: date,
               position: int | None = None) -> dict[str, Any]:
        """Revenue per fee kind over [from_date, to_date] (both included, UTC days).

        Per kind and currency: ``gross`` credited, ``reversed`` (debited back),
        ``net``; the same per day; ``totals`` per currency; and each deferred
        kind's balance at the start of ``from_date`` (``opening``) and the end
        of ``to_date`` (``closing``) with what was ``added`` and ``released``
        (recognised or returned) in between. ``position``: what the caller
        knows the view reflects; default the view's own, read first.
        """
        check_period(from_date, to_date)
        if position is None:
            position = self.position()
        start, end = from_date.isoformat(), to_date.isoformat()
        days = self.view.fetch(
            "SELECT day, account, currency, credits_minor, debits_minor FROM {days} "
            "WHERE account LIKE %s AND day >= %s AND day <= %s "
            "ORDER BY day, account, currency", [REVENUE + "%", start, end])
        fees: dict[tuple[str, str], list[int]] = {}
        totals: dict[str, list[int]] = {}
        for r in days:
            for t in (fees.setdefault((r["account"], r["currency"]), [0, 0]),
                      totals.setdefault(r["currency"], [0, 0])):
                t[0] += int(r["credits_minor"])
                t[1] += int(r["debits_minor"])
        deferred = self.view.fetch(
            "SELECT account, currency, "
            "SUM(CASE WHEN day < %s THEN credits_minor - debits_minor ELSE 0 END) AS opening, "
            "SUM(CASE WHEN day >= %s THEN credits_minor ELSE 0 END) AS added, "
            "SUM(CASE WHEN day >= %s THEN debits_minor ELSE 0 END) AS released "
            "FROM {days} WHERE account LIKE %s AND day <= %s "
            "GROUP BY account, currency ORDER BY account, currency",
            [start, start, start, DEFERRED + "%", end])
        return {
            "from": start,
            "to": end,
            "fees": [{"kind": a.removeprefix(REVENUE), "currency": c, **_lines(g, rv, c)}
                     for (a, c), (g, rv) in sorted(fees.items())],
            "days": [{"day": r["day"], "kind": r["account"].removeprefix(REVENUE),
                      "currency": r["currency"],
                      **_lines(int(r["credits_minor"]), int(r["debits_minor"]), r["currency"])}
                     for r in days],
            "totals": [{"currency": c, **_lines(g, rv, c)}
                       for c, (g, rv) in sorted(totals.items())],
            "deferred": [self._deferred(r) for r in deferred],
            "position": position,
        }

    @staticmethod
    def _deferred(r: dict[str, Any]) -> dict[str, str]:
        c = r["currency"]
        opening, added, released = int(r["opening"]), int(r["added"]), int(r["released"])
        return {"kind": r["account"].removeprefix(DEFERRED), "currency": c,
                "opening": amount_text(opening, c), "added": amount_text(added, c),
                "released": amount_text(released, c),
                "closing": amount_text(opening + added - released, c)}

