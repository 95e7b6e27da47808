"""The journal and account balances, materialised from the notification log.

Each batch of postings is written in the same transaction as the tracking
record of the last notification it covers, so the view is exactly-once: a crash
mid-batch leaves neither rows nor tracking, and the next catch-up redoes it.
Amounts are stored as integer minor units so sums are exact in SQL on both
stores (SQLite would otherwise sum decimals as floats).

The SQL is shared by both stores (``projections.store``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking

from domain.bookkeeping.accounts import kind_of
from domain.bookkeeping.postings import Side
from domain.deadlines import epoch_us
from domain.errors import ConcurrencyConflict, InvalidInput, UnbalancedEntry
from domain.money import currency_of, minor_unit_exponent
from projections.postings import PostingReader
from projections.postings import PostingRow as PostingRow  # its home now; kept importable
from projections.postings import rows_for as rows_for
from projections.store import PostgresView, SQLiteView, View, open_view


@dataclass(frozen=True)
class AccountBalance:
    """Debit and credit totals of one account in one currency, and its normal balance."""

    account: str
    currency: str
    debits: Decimal
    credits: Decimal

    @property
    def balance(self) -> Decimal:
        if kind_of(self.account).debit_normal:
            return self.debits - self.credits
        return self.credits - self.debits


def _as_of_us(as_of: datetime) -> int:
    try:
        return epoch_us(as_of)
    except (OverflowError, ValueError):
        raise InvalidInput(f"as_of {as_of.isoformat()} is not a representable UTC time") from None


_MAX_US = 2**63 - 1


def _to_decimal(minor: int, currency: str) -> Decimal:
    exponent = minor_unit_exponent(currency_of(currency))
    return Decimal(int(minor)).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


def minor_json(minor: int, currency: str) -> dict[str, str]:
    """Integer minor units as the API's money: ``{"amount": "9.95", "currency": "USD"}``."""
    return {"amount": str(_to_decimal(int(minor), currency)), "currency": currency}


JOURNAL_TABLES = {"postings": "journal_postings", "balances": "account_balances",
                  "index": "journal_postings_account_cover"}
JOURNAL_CREATE = (
    "CREATE TABLE IF NOT EXISTS {postings} ("
    "notification_id BIGINT NOT NULL, line INTEGER NOT NULL, "
    "originator_id TEXT NOT NULL, originator_version BIGINT NOT NULL, "
    "event_type TEXT NOT NULL, effective_us BIGINT NOT NULL, memo TEXT NOT NULL, "
    "account TEXT NOT NULL, side TEXT NOT NULL CHECK (side IN ('debit', 'credit')), "
    "amount_minor BIGINT NOT NULL CHECK (amount_minor > 0), currency TEXT NOT NULL, "
    "PRIMARY KEY (notification_id, line))",
    # covering: an as-of balance sums an account's postings from the index alone (on
    # PostgreSQL an index-only scan, 4x faster on a busy account than visiting the rows);
    # stores made before keep their old (account, effective_us) index beside it
    "CREATE INDEX IF NOT EXISTS {index} ON {postings} "
    "(account, effective_us, currency, side, amount_minor)",
    "CREATE TABLE IF NOT EXISTS {balances} ("
    "account TEXT NOT NULL, currency TEXT NOT NULL, "
    "debits_minor BIGINT NOT NULL DEFAULT 0, credits_minor BIGINT NOT NULL DEFAULT 0, "
    "PRIMARY KEY (account, currency))",
)
POSTING_COLUMNS = ("notification_id", "line", "originator_id", "originator_version",
                   "event_type", "effective_us", "memo", "account", "side", "amount_minor",
                   "currency")
UNBALANCED_IN_RANGE = (
    "SELECT notification_id, currency FROM {postings} "
    "WHERE notification_id BETWEEN %s AND %s GROUP BY notification_id, currency "
    "HAVING SUM(CASE WHEN side = 'debit' THEN amount_minor ELSE -amount_minor END) <> 0"
)
"""The zero-sum rule checked where the data lives, inside the transaction that writes it."""
UPSERT_BALANCE = (
    "INSERT INTO {balances} (account, currency, debits_minor, credits_minor) "
    "VALUES (%s, %s, %s, %s) ON CONFLICT (account, currency) DO UPDATE SET "
    "debits_minor = {balances}.debits_minor + excluded.debits_minor, "
    "credits_minor = {balances}.credits_minor + excluded.credits_minor"
)


class SQLiteJournalView(SQLiteView):
    TABLES = JOURNAL_TABLES
    CREATE = JOURNAL_CREATE


class PostgresJournalView(PostgresView):
    TABLES = JOURNAL_TABLES
    CREATE = JOURNAL_CREATE
    PIPELINE = False  # its postings go by COPY, one round trip per batch already


def balance_deltas(rows: Iterable[PostingRow]) -> list[tuple[str, str, int, int]]:
    totals: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        t = totals.setdefault((r.account, r.currency), [0, 0])
        t[0 if r.side == Side.DEBIT.value else 1] += r.amount_minor
    return [(a, c, d, cr) for (a, c), (d, cr) in sorted(totals.items())]


class JournalProjection:
    """Every posting every event recorded, and each account's running totals.

    It tracks under the application's own name, as it did before other
    projections existed, so stores written by earlier versions continue.
    """

    def __init__(self, app: Application[Any]) -> None:
        self.name = app.name
        self.view = open_view(app, SQLiteJournalView, PostgresJournalView)
        self.queries = JournalQueries(self.view, self.name)
        self.reader = PostingReader(app.mapper)

    def position(self) -> int:
        return self.queries.position()

    def handle(self, batch: Sequence[tuple[int, Any]], tracking: Tracking) -> None:
        self.record([row for n, event in batch for row in rows_for(event, n)], tracking)

    def handle_raw(self, notifications: Sequence[Any], decode: Callable[[Any], Any],
                   tracking: Tracking) -> None:
        """The runner's fast path: raw notifications, decoded only where the postings
        cannot be read from the stored JSON (``projections.postings``)."""
        self.record(self.reader.rows(notifications, decode), tracking)

    def record(self, rows: Sequence[PostingRow], tracking: Tracking) -> None:
        record_rows(self.view, rows, tracking)

    def reset(self) -> None:
        self.view.reset(self.name)


def record_rows(view: View, rows: Sequence[PostingRow], tracking: Tracking) -> None:
    """One batch's postings and balances; a batch that does not balance rolls back whole.

    The zero-sum check reads back what was just written, so postings that do
    not balance per event and currency raise and nothing is written. Shared by
    the live projection and the auditors' scratch replay (``reconciliation.as_of``).
    """
    with view.writing(tracking) as cursor:
        if not rows:
            return
        view.insert_many(cursor, "postings", POSTING_COLUMNS, [r.as_tuple() for r in rows])
        cursor.executemany(view.sql(UPSERT_BALANCE), balance_deltas(rows))
        cursor.execute(view.sql(UNBALANCED_IN_RANGE),
                       [rows[0].notification_id, rows[-1].notification_id])
        unbalanced = [(r["notification_id"], r["currency"]) for r in cursor.fetchall()]
        if unbalanced:
            raise UnbalancedEntry(
                "postings of notification(s) "
                + ", ".join(f"{n} ({c})" for n, c in unbalanced)
                + " do not sum to zero; nothing was written"
            )


class JournalQueries:
    """Reads over the journal view; every answer says the position it reflects."""

    def __init__(self, view: View, application_name: str) -> None:
        self.view = view
        self.application_name = application_name

    def position(self) -> int:
        return self.view.max_tracking_id(self.application_name) or 0

    def balance(self, account: str, as_of: datetime | None = None) -> list[AccountBalance]:
        kind_of(account)
        if as_of is None:
            rows = self.view.fetch(
                "SELECT currency, debits_minor AS d, credits_minor AS c FROM {balances} "
                "WHERE account = %s ORDER BY currency", [account])
        else:
            rows = self.view.fetch(
                "SELECT currency, "
                "SUM(CASE WHEN side = 'debit' THEN amount_minor ELSE 0 END) AS d, "
                "SUM(CASE WHEN side = 'credit' THEN amount_minor ELSE 0 END) AS c "
                "FROM {postings} WHERE account = %s AND effective_us <= %s "
                "GROUP BY currency ORDER BY currency", [account, _as_of_us(as_of)])
        return [
            AccountBalance(account, r["currency"], _to_decimal(r["d"], r["currency"]),
                           _to_decimal(r["c"], r["currency"]))
            for r in rows
        ]

    def all_balances(self) -> list[AccountBalance]:
        rows = self.view.fetch(
            "SELECT account, currency, debits_minor AS d, credits_minor AS c "
            "FROM {balances} ORDER BY account, currency")
        return [
            AccountBalance(r["account"], r["currency"], _to_decimal(r["d"], r["currency"]),
                           _to_decimal(r["c"], r["currency"]))
            for r in rows
        ]

    def require_still_past(self, position: int) -> None:
        """Refuses what was just read if the view has fallen back behind ``position``: it
        was emptied (``ledger projections rebuild``) while being read, so those rows may
        be a partial view. A reconciliation recorded from them would keep false breaks
        (or hide a shortfall) in the log for good."""
        now = self.position()
        if now < position:
            raise ConcurrencyConflict(
                f"the journal view was rebuilt while it was read (it had reached position "
                f"{position}, now {now}); nothing was recorded: run it again")

    def balances_and_position(self) -> tuple[int, list[AccountBalance], dict[str, Decimal]]:
        """(position, every account's balance, the trial balance), read at one snapshot.

        Why not ``position()`` then ``all_balances()``: a projector moving on in between
        (a replay check replays for seconds first) made every posting after the
        position look like a break between the view and the log.
        """
        tracking, rows, totals = self.view.fetch_together([
            ("SELECT notification_id FROM {tracking} WHERE application_name = %s",
             [self.application_name]),
            ("SELECT account, currency, debits_minor AS d, credits_minor AS c "
             "FROM {balances} ORDER BY account, currency", []),
            ("SELECT currency, SUM(debits_minor) AS d, SUM(credits_minor) AS c "
             "FROM {balances} GROUP BY currency ORDER BY currency", []),
        ])
        balances = [AccountBalance(r["account"], r["currency"], _to_decimal(r["d"], r["currency"]),
                                   _to_decimal(r["c"], r["currency"])) for r in rows]
        trial = {r["currency"]: _to_decimal(r["d"], r["currency"]) - _to_decimal(
            r["c"], r["currency"]) for r in totals}
        return (int(tracking[0]["notification_id"]) if tracking else 0), balances, trial

    def trial_balance(self, as_of: datetime | None = None) -> dict[str, Decimal]:
        """Debits minus credits over every account, per currency: zero when balanced.

        ``as_of``: from the postings effective up to and including that moment.
        """
        return {c: debits - credits for c, (debits, credits) in self.totals(as_of).items()}

    def totals(self, as_of: datetime | None = None) -> dict[str, tuple[Decimal, Decimal]]:
        """Debits and credits posted over every account, per currency (up to ``as_of``)."""
        if as_of is None:
            rows = self.view.fetch(
                "SELECT currency, SUM(debits_minor) AS d, SUM(credits_minor) AS c "
                "FROM {balances} GROUP BY currency ORDER BY currency")
        else:
            rows = self.view.fetch(
                "SELECT currency, "
                "SUM(CASE WHEN side = 'debit' THEN amount_minor ELSE 0 END) AS d, "
                "SUM(CASE WHEN side = 'credit' THEN amount_minor ELSE 0 END) AS c "
                "FROM {postings} WHERE effective_us <= %s "
                "GROUP BY currency ORDER BY currency", [_as_of_us(as_of)])
        return {r["currency"]: (_to_decimal(r["d"], r["currency"]),
                                _to_decimal(r["c"], r["currency"])) for r in rows}

    def balances_at(self, as_of: datetime | None, upto: int) -> list[AccountBalance]:
        """Every account's totals from the postings effective by ``as_of`` (all when None)
        and recorded at or before log position ``upto``: a fixed point to compare against,
        however far the view has moved on since."""
        rows = self.view.fetch(
            "SELECT account, currency, "
            "SUM(CASE WHEN side = 'debit' THEN amount_minor ELSE 0 END) AS d, "
            "SUM(CASE WHEN side = 'credit' THEN amount_minor ELSE 0 END) AS c "
            "FROM {postings} WHERE effective_us <= %s AND notification_id <= %s "
            "GROUP BY account, currency ORDER BY account, currency",
            [_MAX_US if as_of is None else _as_of_us(as_of), upto])
        return [
            AccountBalance(r["account"], r["currency"], _to_decimal(r["d"], r["currency"]),
                           _to_decimal(r["c"], r["currency"]))
            for r in rows
        ]

    def daily_changes(self, prefixes: Sequence[str], upto: int, day_us: int
                      ) -> list[dict[str, Any]]:
        """Debits and credits per account, currency and day (``effective_us // day_us``) of
        the accounts starting with any of ``prefixes`` (LIKE patterns: ``_`` matches any
        character, so pass prefixes without one), up to log position ``upto``, in day
        order: one query from which running balances on every day follow."""
        likes = " OR ".join(["account LIKE %s"] * len(prefixes))
        return self.view.fetch(
            "SELECT account, currency, effective_us / %s AS day_no, "  # noqa: S608 - fixed text
            "SUM(CASE WHEN side = 'debit' THEN amount_minor ELSE 0 END) AS d, "
            "SUM(CASE WHEN side = 'credit' THEN amount_minor ELSE 0 END) AS c "
            f"FROM {{postings}} WHERE notification_id <= %s AND ({likes}) "
            "GROUP BY account, currency, day_no ORDER BY day_no",
            [day_us, upto, *(p + "%" for p in prefixes)])

    def postings(self, account: str, limit: int = 100) -> list[dict[str, Any]]:
        return self.view.fetch(
            "SELECT notification_id, line, originator_id, originator_version, event_type, "
            "effective_us, memo, account, side, amount_minor, currency FROM {postings} "
            "WHERE account = %s ORDER BY notification_id, line LIMIT %s", [account, limit])

    def account_view(self, account: str, *, as_of: datetime | None,
                     position: int) -> dict[str, Any]:
        """An account's balance per currency, shaped for callers.

        ``position`` is what the caller knows the view reflects at least (from a
        catch-up or wait just before). Raises ``AccountNotFound`` for ids outside
        the chart of accounts.
        """
        kind = kind_of(account)
        return {
            "account": account,
            "kind": kind.value,
            "as_of": None if as_of is None else as_of.isoformat(),
            "balances": [
                {"amount": str(b.balance), "currency": b.currency, "debits": str(b.debits),
                 "credits": str(b.credits)}
                for b in self.balance(account, as_of)
            ],
            "position": position,
        }
