"""The journal and account balances, materialised from the notification log.

Each batch of postings is written in the same transaction as the tracking
record of the last notification it covers, so the view is exactly-once: a crash
mid-batch leaves neither rows nor tracking, and the next catch-up redoes it.
Amounts are stored as integer minor units so sums are exact in SQL on both
stores (SQLite would otherwise sum decimals as floats).

The SQL is shared; the two classes differ only in how they reach their store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from psycopg.sql import SQL, Composed, Identifier

from domain.accounts import kind_of
from domain.errors import InvalidInput, UnbalancedEntry
from domain.money import currency_of, minor_unit_exponent, to_minor_units
from domain.postings import JournalEntry, Side
from projections.deadlines import DeadlineOp


@dataclass(frozen=True)
class PostingRow:
    notification_id: int
    line: int
    originator_id: str
    originator_version: int
    event_type: str
    effective_us: int
    memo: str
    account: str
    side: str
    amount_minor: int
    currency: str

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.notification_id, self.line, self.originator_id, self.originator_version,
            self.event_type, self.effective_us, self.memo, self.account, self.side,
            self.amount_minor, self.currency,
        )


def from_epoch_us(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(us))


def epoch_us(when: datetime) -> int:
    """Microseconds since the epoch: an exact, store-neutral, sortable time."""
    if when.tzinfo is None:
        raise ValueError("effective times must be timezone-aware")
    delta = when.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def rows_for(event: Any, notification_id: int) -> list[PostingRow]:
    """The postings an event carries; events without an entry post nothing."""
    entry = getattr(event, "entry", None)
    if not isinstance(entry, JournalEntry):
        return []
    return [
        PostingRow(
            notification_id=notification_id,
            line=i,
            originator_id=str(event.originator_id),
            originator_version=event.originator_version,
            event_type=type(event).__qualname__,
            effective_us=epoch_us(event.timestamp),
            memo=entry.memo,
            account=p.account,
            side=p.side.value,
            amount_minor=to_minor_units(p.amount),
            currency=p.amount.currency.code,
        )
        for i, p in enumerate(entry.postings)
    ]


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


def _to_decimal(minor: int, currency: str) -> Decimal:
    exponent = minor_unit_exponent(currency_of(currency))
    return Decimal(int(minor)).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


CREATE_POSTINGS = (
    "CREATE TABLE IF NOT EXISTS {postings} ("
    "notification_id BIGINT NOT NULL, line INTEGER NOT NULL, "
    "originator_id TEXT NOT NULL, originator_version BIGINT NOT NULL, "
    "event_type TEXT NOT NULL, effective_us BIGINT NOT NULL, memo TEXT NOT NULL, "
    "account TEXT NOT NULL, side TEXT NOT NULL CHECK (side IN ('debit', 'credit')), "
    "amount_minor BIGINT NOT NULL CHECK (amount_minor > 0), currency TEXT NOT NULL, "
    "PRIMARY KEY (notification_id, line))"
)
CREATE_POSTINGS_INDEX = (
    "CREATE INDEX IF NOT EXISTS {index} ON {postings} (account, effective_us)"
)
CREATE_BALANCES = (
    "CREATE TABLE IF NOT EXISTS {balances} ("
    "account TEXT NOT NULL, currency TEXT NOT NULL, "
    "debits_minor BIGINT NOT NULL DEFAULT 0, credits_minor BIGINT NOT NULL DEFAULT 0, "
    "PRIMARY KEY (account, currency))"
)
INSERT_POSTING = (
    "INSERT INTO {postings} (notification_id, line, originator_id, originator_version, "
    "event_type, effective_us, memo, account, side, amount_minor, currency) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
CREATE_DEADLINES = (
    "CREATE TABLE IF NOT EXISTS {deadlines} ("
    "deadline_id TEXT PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL, "
    "ref TEXT NOT NULL, due_us BIGINT NOT NULL)"
)
UPSERT_DEADLINE = (
    "INSERT INTO {deadlines} (deadline_id, kind, subject, ref, due_us) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (deadline_id) DO UPDATE SET due_us = excluded.due_us"
)
DELETE_DEADLINE = "DELETE FROM {deadlines} WHERE deadline_id = %s"
UNBALANCED_IN_RANGE = (
    "SELECT notification_id, currency FROM {postings} "
    "WHERE notification_id BETWEEN %s AND %s GROUP BY notification_id, currency "
    "HAVING SUM(CASE WHEN side = 'debit' THEN amount_minor ELSE -amount_minor END) <> 0"
)
"""The zero-sum rule checked where the data lives, inside the transaction that writes it."""
RESET_VIEW = ("DELETE FROM {postings}", "DELETE FROM {balances}", "DELETE FROM {deadlines}")
UPSERT_BALANCE = (
    "INSERT INTO {balances} (account, currency, debits_minor, credits_minor) "
    "VALUES (%s, %s, %s, %s) ON CONFLICT (account, currency) DO UPDATE SET "
    "debits_minor = {balances}.debits_minor + excluded.debits_minor, "
    "credits_minor = {balances}.credits_minor + excluded.credits_minor"
)


class JournalView(Protocol):
    """What the projection and its readers need from a store, whichever it is."""

    def reset(self, application_name: str) -> None: ...

    def record(
        self, rows: Sequence[PostingRow], deadlines: Sequence[DeadlineOp], tracking: Tracking
    ) -> None: ...

    def fetch(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def max_tracking_id(self, application_name: str) -> int | None: ...


def _write_batch(
    cursor: Any, sql: Callable[[str], Any], rows: Sequence[PostingRow],
    deadlines: Sequence[DeadlineOp],
) -> None:
    """One batch's postings, balances and deadlines, inside the caller's transaction.

    The zero-sum check reads back what was just written, so a batch whose
    postings do not balance per event and currency raises and rolls back whole.
    """
    if rows:
        cursor.executemany(sql(INSERT_POSTING), [r.as_tuple() for r in rows])
        cursor.executemany(sql(UPSERT_BALANCE), balance_deltas(rows))
        cursor.execute(sql(UNBALANCED_IN_RANGE),
                       [rows[0].notification_id, rows[-1].notification_id])
        unbalanced = [(r["notification_id"], r["currency"]) for r in cursor.fetchall()]
        if unbalanced:
            raise UnbalancedEntry(
                "postings of notification(s) "
                + ", ".join(f"{n} ({c})" for n, c in unbalanced)
                + " do not sum to zero; nothing was written"
            )
    for op in deadlines:
        if op.due_us is None:
            cursor.execute(sql(DELETE_DEADLINE), (op.deadline_id,))
        else:
            cursor.execute(sql(UPSERT_DEADLINE),
                           (op.deadline_id, op.kind.value, op.subject, op.ref, op.due_us))


def balance_deltas(rows: Iterable[PostingRow]) -> list[tuple[str, str, int, int]]:
    totals: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        t = totals.setdefault((r.account, r.currency), [0, 0])
        t[0 if r.side == Side.DEBIT.value else 1] += r.amount_minor
    return [(a, c, d, cr) for (a, c), (d, cr) in sorted(totals.items())]


class SQLiteJournalView(SQLiteTrackingRecorder):
    names = {"postings": "journal_postings", "balances": "account_balances",
             "index": "journal_postings_account_time", "deadlines": "due_deadlines"}

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            CREATE_POSTINGS.format(**self.names),
            CREATE_POSTINGS_INDEX.format(**self.names),
            CREATE_BALANCES.format(**self.names),
            CREATE_DEADLINES.format(**self.names),
        ]

    def _sql(self, template: str) -> str:
        return template.format(**self.names).replace("%s", "?")

    def record(
        self, rows: Sequence[PostingRow], deadlines: Sequence[DeadlineOp], tracking: Tracking
    ) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            _write_batch(c, self._sql, rows, deadlines)

    def reset(self, application_name: str) -> None:
        """Empties the view and forgets its position, in one transaction."""
        with self.datastore.transaction(commit=True) as c:
            for statement in RESET_VIEW:
                c.execute(self._sql(statement))
            c.execute("DELETE FROM tracking WHERE application_name = ?", [application_name])

    def fetch(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._sql(query), list(params))
            return [dict(row) for row in c.fetchall()]


class PostgresJournalView(PostgresTrackingRecorder):
    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema = Identifier(self.datastore.schema)
        self.idents = {
            "postings": Composed([schema, SQL("."), Identifier("journal_postings")]),
            "balances": Composed([schema, SQL("."), Identifier("account_balances")]),
            "index": Identifier("journal_postings_account_time"),
            "deadlines": Composed([schema, SQL("."), Identifier("due_deadlines")]),
        }
        self.sql_create_statements += [
            self._sql(CREATE_POSTINGS),
            self._sql(CREATE_POSTINGS_INDEX),
            self._sql(CREATE_BALANCES),
            self._sql(CREATE_DEADLINES),
        ]

    def _sql(self, template: str) -> Composed:
        return SQL(template).format(**self.idents)

    def record(
        self, rows: Sequence[PostingRow], deadlines: Sequence[DeadlineOp], tracking: Tracking
    ) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, tracking)
            _write_batch(curs, self._sql, rows, deadlines)

    def reset(self, application_name: str) -> None:
        """Empties the view and forgets its position, in one transaction."""
        with self.datastore.transaction(commit=True) as curs:
            for statement in RESET_VIEW:
                curs.execute(self._sql(statement))
            curs.execute(
                SQL("DELETE FROM {0}.{1} WHERE application_name = %s").format(
                    Identifier(self.datastore.schema), Identifier(self.tracking_table_name)),
                [application_name])

    def fetch(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._sql(query), list(params))
            return [dict(row) for row in curs.fetchall()]


def view_class_for(recorder: TrackingRecorder | object) -> type[TrackingRecorder]:
    """The journal view class that matches an application's store."""
    from eventsourcing.postgres import PostgresApplicationRecorder
    from eventsourcing.sqlite import SQLiteApplicationRecorder

    if isinstance(recorder, SQLiteApplicationRecorder):
        return SQLiteJournalView
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresJournalView
    raise TypeError(f"no journal view for {type(recorder).__name__}")


class JournalQueries:
    """Reads over the journal view; every answer says the position it reflects."""

    def __init__(self, view: JournalView, application_name: str) -> None:
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

    def trial_balance(self) -> dict[str, Decimal]:
        """Debits minus credits over every account, per currency: zero when balanced."""
        rows = self.view.fetch(
            "SELECT currency, SUM(debits_minor) - SUM(credits_minor) AS net "
            "FROM {balances} GROUP BY currency ORDER BY currency")
        return {r["currency"]: _to_decimal(r["net"], r["currency"]) for r in rows}

    def due_deadlines(self, now: datetime, limit: int = 1000) -> list[dict[str, Any]]:
        """Deadlines due by ``now``, earliest first."""
        return self.view.fetch(
            "SELECT deadline_id, kind, subject, ref, due_us FROM {deadlines} "
            "WHERE due_us <= %s ORDER BY due_us, deadline_id LIMIT %s", [epoch_us(now), limit])

    def postings(self, account: str, limit: int = 100) -> list[dict[str, Any]]:
        return self.view.fetch(
            "SELECT notification_id, line, originator_id, originator_version, event_type, "
            "effective_us, memo, account, side, amount_minor, currency FROM {postings} "
            "WHERE account = %s ORDER BY notification_id, line LIMIT %s", [account, limit])
