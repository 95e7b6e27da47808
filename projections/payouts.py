"""Every withdrawal of every freelancer, with its state and times: the payouts view.

One row per withdrawal, inserted by its request and updated by each later
step, in the same transaction as the projection's tracking record (exactly
once). Totals per state are sums over the rows in SQL, in integer minor units.
Lists are newest first by (requested time, withdrawal id) with an opaque cursor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking

from domain.balances.freelancer_balance import FreelancerBalance
from domain.balances.payouts import WithdrawalState
from domain.deadlines import epoch_us, from_epoch_us
from domain.money import to_minor_units
from projections.journal import minor_json
from projections.paging import Page, after_key, check_state, newest_first
from projections.store import PostgresView, SQLiteView, open_view

TABLES = {"withdrawals": "payouts_withdrawals", "index": "payouts_withdrawals_freelancer"}
CREATE = (
    "CREATE TABLE IF NOT EXISTS {withdrawals} ("
    "withdrawal_id TEXT PRIMARY KEY, freelancer_id TEXT NOT NULL, method TEXT NOT NULL, "
    "state TEXT NOT NULL, amount_minor BIGINT NOT NULL, fee_minor BIGINT NOT NULL, "
    "currency TEXT NOT NULL, fee_schedule TEXT NOT NULL, requested_us BIGINT NOT NULL, "
    "sent_us BIGINT, settled_us BIGINT, returned_us BIGINT, updated_us BIGINT NOT NULL, "
    "processor_reference TEXT, failure_reason TEXT, notification_id BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {index} ON {withdrawals} "
    "(freelancer_id, requested_us, withdrawal_id)",
)
INSERT = (
    "INSERT INTO {withdrawals} (withdrawal_id, freelancer_id, method, state, amount_minor, "
    "fee_minor, currency, fee_schedule, requested_us, updated_us, notification_id) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
SENT = ("UPDATE {withdrawals} SET state = %s, sent_us = %s, updated_us = %s, "
        "processor_reference = %s, notification_id = %s WHERE withdrawal_id = %s")
SETTLED = ("UPDATE {withdrawals} SET state = %s, settled_us = %s, updated_us = %s, "
           "notification_id = %s WHERE withdrawal_id = %s")
RETURNED = ("UPDATE {withdrawals} SET state = %s, returned_us = %s, updated_us = %s, "
            "failure_reason = %s, notification_id = %s WHERE withdrawal_id = %s")
COLUMNS = ("withdrawal_id, freelancer_id, method, state, amount_minor, fee_minor, currency, "
           "fee_schedule, requested_us, sent_us, settled_us, returned_us, updated_us, "
           "processor_reference, failure_reason, notification_id")
STATES = tuple(s.value for s in WithdrawalState)


class SQLitePayoutsView(SQLiteView):
    TABLES = TABLES
    CREATE = CREATE


class PostgresPayoutsView(PostgresView):
    TABLES = TABLES
    CREATE = CREATE


def statements(event: Any, n: int) -> list[tuple[str, list[Any]]]:
    """The SQL one event writes: nothing for events that are not withdrawal steps."""
    at = epoch_us(event.timestamp)
    if isinstance(event, FreelancerBalance.WithdrawalRequested):
        return [(INSERT, [event.withdrawal_id, event.freelancer_id, event.method,
                          WithdrawalState.REQUESTED.value, to_minor_units(event.amount),
                          to_minor_units(event.fee.fee), event.amount.currency.code,
                          event.fee.schedule_id, at, at, n])]
    if isinstance(event, FreelancerBalance.WithdrawalSent):
        return [(SENT, [WithdrawalState.SENT.value, at, at, event.processor_reference, n,
                        event.withdrawal_id])]
    if isinstance(event, FreelancerBalance.WithdrawalSettled):
        return [(SETTLED, [WithdrawalState.SETTLED.value, at, at, n, event.withdrawal_id])]
    if isinstance(event, FreelancerBalance.WithdrawalReturned):
        return [(RETURNED, [event.state, at, at, event.reason, n, event.withdrawal_id])]
    return []


class PayoutsProjection:
    name = "payouts"

    def __init__(self, app: Application[Any]) -> None:
        self.view = open_view(app, SQLitePayoutsView, PostgresPayoutsView)
        self.queries = PayoutQueries(self)

    def position(self) -> int:
        return self.view.max_tracking_id(self.name) or 0

    def handle(self, batch: Sequence[tuple[int, Any]], tracking: Tracking) -> None:
        with self.view.writing(tracking) as cursor:
            for n, event in batch:
                for sql, params in statements(event, n):
                    cursor.execute(self.view.sql(sql), params)

    def reset(self) -> None:
        self.view.reset(self.name)


def _row(r: dict[str, Any]) -> dict[str, Any]:
    def when(us: int | None) -> str | None:
        return None if us is None else from_epoch_us(int(us)).isoformat()

    code = r["currency"]
    return {
        "withdrawal_id": r["withdrawal_id"], "method": r["method"], "state": r["state"],
        "amount": minor_json(r["amount_minor"], code), "fee": minor_json(r["fee_minor"], code),
        "requested_at": when(r["requested_us"]), "sent_at": when(r["sent_us"]),
        "settled_at": when(r["settled_us"]), "returned_at": when(r["returned_us"]),
        "updated_at": when(r["updated_us"]), "failure_reason": r["failure_reason"],
    }


class PayoutQueries:
    def __init__(self, projection: PayoutsProjection) -> None:
        self.projection = projection
        self.view = projection.view

    def withdrawals(self, freelancer_id: str, *, state: str | None = None, limit: int = 50,
                    cursor: str | None = None) -> Page:
        """A freelancer's withdrawals, newest first, optionally of one state."""
        check_state(state, STATES, "withdrawal")
        where, params = ["freelancer_id = %s"], [freelancer_id]
        if state is not None:
            where.append("state = %s")
            params.append(state)
        page = newest_first(self.view, "withdrawals", time="requested_us", key="withdrawal_id",
                            where=where, params=params, limit=limit, after=after_key(cursor),
                            columns=COLUMNS)
        return Page([_row(r) for r in page.rows], page.next_cursor)

    def totals(self, freelancer_id: str) -> list[dict[str, Any]]:
        rows = self.view.fetch(
            "SELECT state, currency, COUNT(*) AS n, SUM(amount_minor) AS amount, "
            "SUM(fee_minor) AS fees FROM {withdrawals} WHERE freelancer_id = %s "
            "GROUP BY state, currency ORDER BY state, currency", [freelancer_id])
        return [{"state": r["state"], "count": int(r["n"]),
                 "amount": minor_json(r["amount"], r["currency"]),
                 "fees": minor_json(r["fees"], r["currency"])}
                for r in rows]

    def all_rows(self) -> list[dict[str, Any]]:
        """Every row as stored, for rebuild comparisons."""
        return self.view.fetch(f"SELECT {COLUMNS} FROM {{withdrawals}} "  # noqa: S608
                               "ORDER BY withdrawal_id")
