"""The lists people look things up with: contracts, their milestones, and their payments.

Built from the contract events alone, with their own tracking, rows written in
the same transaction as the tracking record (a crash mid-batch leaves neither).
Each row's ``state`` is the aggregate's status after the event, derived from
the event class and its fields exactly as the aggregate's ``apply`` derives it:

- contract: ``active`` (opened), ``ending`` (the client ended it with escrow
  left: a refund request awaits the freelancer), ``ended``;
- milestone: the ``MilestoneStatus`` values; an escrow refund marks a milestone
  ``refunded`` once its escrow is empty and it was never released, so the view
  keeps each milestone's escrow; a dispute's outcome releases its milestones in
  the dispute's order, so the view keeps each dispute's lines;
- payment (every charge to the client, by its ``payment_id``): ``charged``,
  ``partially_refunded`` or ``refunded`` as escrow or invoiced money goes back to
  the client, ``charged_back`` while a chargeback is open or once it is lost (a
  won chargeback puts the payment back as it was).

Which payment a refund of escrow gives back is not in the events (escrow is
held per milestone, not per charge): the view keeps each charge's money in
escrow as parcels and takes releases and refunds from a milestone's parcels
oldest first (carried escrow moves with its parcels). An hourly week's
refund belongs to that week's invoice exactly. Amounts are integer minor units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking
from moneyed import Money

from domain.contracts import chargebacks, dispute_events, hourly_events, payments, terms
from domain.contracts import fixed_price_events as fp
from domain.contracts.fixed_price import FixedPriceContract
from domain.contracts.hourly import HourlyContract
from domain.contracts.milestone import MilestoneStatus
from domain.contracts.terms import ContractKind, ContractStatus
from domain.deadlines import epoch_us
from domain.fees.quotes import FeeQuote
from domain.money import to_minor_units
from projections.contract_lists import ContractListQueries
from projections.store import PostgresView, SQLiteView, View, execute_runs, open_view

LIST_TABLES = {"contracts": "list_contracts", "milestones": "list_milestones",
               "payments": "list_payments", "parcels": "list_escrow_parcels",
               "lines": "list_dispute_lines"}
LIST_CREATE = (
    "CREATE TABLE IF NOT EXISTS {contracts} ("
    "contract_id TEXT PRIMARY KEY, kind TEXT NOT NULL, client_id TEXT NOT NULL, "
    "freelancer_id TEXT NOT NULL, job_id TEXT, title TEXT, currency TEXT NOT NULL, "
    "state TEXT NOT NULL, opened_us BIGINT NOT NULL, updated_us BIGINT NOT NULL, "
    "ended_us BIGINT)",
    "CREATE INDEX IF NOT EXISTS list_contracts_client ON {contracts} "
    "(client_id, opened_us, contract_id)",
    "CREATE INDEX IF NOT EXISTS list_contracts_freelancer ON {contracts} "
    "(freelancer_id, opened_us, contract_id)",
    "CREATE TABLE IF NOT EXISTS {milestones} ("
    "milestone_id TEXT PRIMARY KEY, contract_id TEXT NOT NULL, title TEXT NOT NULL, "
    "currency TEXT NOT NULL, amount_minor BIGINT NOT NULL, "
    "escrow_minor BIGINT NOT NULL DEFAULT 0, state TEXT NOT NULL, "
    "added_us BIGINT NOT NULL, updated_us BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS list_milestones_contract ON {milestones} "
    "(contract_id, added_us, milestone_id)",
    "CREATE TABLE IF NOT EXISTS {payments} ("
    "payment_id TEXT PRIMARY KEY, contract_id TEXT NOT NULL, kind TEXT NOT NULL, "
    "subject TEXT NOT NULL, currency TEXT NOT NULL, amount_minor BIGINT NOT NULL, "
    "marketplace_fee_minor BIGINT NOT NULL, initiation_fee_minor BIGINT NOT NULL, "
    "refunded_minor BIGINT NOT NULL DEFAULT 0, payment_method TEXT NOT NULL, "
    "chargeback_id TEXT, chargeback_status TEXT, state TEXT NOT NULL, "
    "effective_us BIGINT NOT NULL, updated_us BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS list_payments_contract ON {payments} "
    "(contract_id, effective_us, payment_id)",
    "CREATE TABLE IF NOT EXISTS {parcels} ("
    "pool TEXT NOT NULL, payment_id TEXT NOT NULL, rank INTEGER NOT NULL, "
    "seq BIGINT NOT NULL, held_minor BIGINT NOT NULL CHECK (held_minor > 0), "
    "PRIMARY KEY (pool, payment_id, rank))",
    "CREATE TABLE IF NOT EXISTS {lines} ("
    "dispute_id TEXT NOT NULL, line INTEGER NOT NULL, milestone_id TEXT NOT NULL, "
    "amount_minor BIGINT NOT NULL, PRIMARY KEY (dispute_id, line))",
)
"""``parcels``: a charge's money in one pool (a milestone's escrow, or a dispute's, ranked
by the dispute's line); ``lines``: each dispute's milestones in order. Both only serve
the states above; they are rebuilt with the rest."""

INSERT_CONTRACT = (
    "INSERT INTO {contracts} (contract_id, kind, client_id, freelancer_id, job_id, title, "
    "currency, state, opened_us, updated_us, ended_us) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, 'active', %s, %s, NULL) "
    "ON CONFLICT (contract_id) DO NOTHING"
)
TOUCH_CONTRACT = "UPDATE {contracts} SET updated_us = %s WHERE contract_id = %s"
CONTRACT_STATE = "UPDATE {contracts} SET state = %s WHERE contract_id = %s"
CONTRACT_ENDED = "UPDATE {contracts} SET state = 'ended', ended_us = %s WHERE contract_id = %s"
INSERT_MILESTONE = (
    "INSERT INTO {milestones} (milestone_id, contract_id, title, currency, amount_minor, "
    "escrow_minor, state, added_us, updated_us) VALUES (%s, %s, %s, %s, %s, 0, 'created', "
    "%s, %s) ON CONFLICT (milestone_id) DO NOTHING"
)
MILESTONE_STATE = "UPDATE {milestones} SET state = %s, updated_us = %s WHERE milestone_id = %s"
MILESTONE_ESCROW = (
    "UPDATE {milestones} SET escrow_minor = escrow_minor + %s, updated_us = %s "
    "WHERE milestone_id = %s"
)
MILESTONE_REFUNDED = (
    "UPDATE {milestones} SET escrow_minor = escrow_minor - %s, updated_us = %s, "
    "state = CASE WHEN escrow_minor - %s = 0 AND state <> 'released' THEN 'refunded' "
    "ELSE state END WHERE milestone_id = %s"
)
MILESTONE_DISPUTED = (
    "UPDATE {milestones} SET escrow_minor = escrow_minor - %s, state = 'disputed', "
    "updated_us = %s WHERE milestone_id = %s"
)
INSERT_PAYMENT = (
    "INSERT INTO {payments} (payment_id, contract_id, kind, subject, currency, amount_minor, "
    "marketplace_fee_minor, initiation_fee_minor, refunded_minor, payment_method, "
    "chargeback_id, chargeback_status, state, effective_us, updated_us) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0, %s, NULL, NULL, 'charged', %s, %s) "
    "ON CONFLICT (payment_id) DO NOTHING"
)
PAYMENT_REFUNDED = (
    "UPDATE {payments} SET refunded_minor = refunded_minor + %s, updated_us = %s "
    "WHERE payment_id = %s"
)
WEEK_REFUNDED = (
    "UPDATE {payments} SET refunded_minor = refunded_minor + %s, updated_us = %s "
    "WHERE contract_id = %s AND kind = 'hourly_invoice' AND subject = %s"
)
CHARGEBACK_RECEIVED = (
    "UPDATE {payments} SET chargeback_id = %s, chargeback_status = 'open', updated_us = %s "
    "WHERE payment_id = %s"
)
CHARGEBACK_DECIDED = (
    "UPDATE {payments} SET chargeback_status = %s, updated_us = %s WHERE chargeback_id = %s"
)
PAYMENT_STATE = (
    "UPDATE {payments} SET state = CASE "
    "WHEN chargeback_status IN ('open', 'lost') THEN 'charged_back' "
    "WHEN refunded_minor >= amount_minor THEN 'refunded' "
    "WHEN refunded_minor > 0 THEN 'partially_refunded' ELSE 'charged' END "
    "WHERE contract_id = %s"
)
"""Re-derived for the contract's payments after every change to one of them."""
PARCELS_OF = (
    "SELECT payment_id, rank, seq, held_minor FROM {parcels} WHERE pool = %s "
    "ORDER BY rank, seq, payment_id"
)
PUT_PARCEL = (
    "INSERT INTO {parcels} (pool, payment_id, rank, seq, held_minor) VALUES (%s, %s, %s, %s, %s) "
    "ON CONFLICT (pool, payment_id, rank) DO UPDATE SET "
    "held_minor = {parcels}.held_minor + excluded.held_minor"
)
SHRINK_PARCEL = (
    "UPDATE {parcels} SET held_minor = held_minor - %s "
    "WHERE pool = %s AND payment_id = %s AND rank = %s"
)
DROP_PARCEL = "DELETE FROM {parcels} WHERE pool = %s AND payment_id = %s AND rank = %s"
DROP_POOL = "DELETE FROM {parcels} WHERE pool = %s"
INSERT_LINE = (
    "INSERT INTO {lines} (dispute_id, line, milestone_id, amount_minor) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (dispute_id, line) DO NOTHING"
)
LINES_OF = "SELECT milestone_id, amount_minor FROM {lines} WHERE dispute_id = %s ORDER BY line"


class SQLiteListView(SQLiteView):
    TABLES = LIST_TABLES
    CREATE = LIST_CREATE


class PostgresListView(PostgresView):
    TABLES = LIST_TABLES
    CREATE = LIST_CREATE


def _minor(value: Money | FeeQuote | None) -> int:
    if value is None:
        return 0
    return to_minor_units(value.fee if isinstance(value, FeeQuote) else value)


Parcel = tuple[str, int, int]
"""(payment_id, seq, minor units) of a charge's money taken from a pool."""


class _Batch:
    """One batch's statements on one transaction's cursor."""

    def __init__(self, view: View, cursor: Any) -> None:
        self.view = view
        self.cursor = cursor
        self.queued: list[tuple[str, Sequence[Any]]] = []

    def run(self, statement: str, params: Sequence[Any]) -> None:
        self.queued.append((statement, list(params)))

    def flush(self) -> None:
        """Sends what is queued, runs of one statement together (``execute_runs``)."""
        execute_runs(self.view, self.cursor, self.queued)
        self.queued = []

    def rows(self, query: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        self.flush()  # a read sees every statement before it
        self.cursor.execute(self.view.sql(query), list(params))
        return [dict(r) for r in self.cursor.fetchall()]

    # ---- parcels: each charge's money while escrow holds it ----------------------

    def take(self, pool: str, minor: int) -> list[Parcel]:
        """Up to ``minor`` from the pool, oldest money first (rank, then charge order)."""
        taken: list[Parcel] = []
        for r in self.rows(PARCELS_OF, [pool]):
            if minor <= 0:
                break
            part = min(minor, int(r["held_minor"]))
            minor -= part
            key = [pool, r["payment_id"], r["rank"]]
            if part == int(r["held_minor"]):
                self.run(DROP_PARCEL, key)
            else:
                self.run(SHRINK_PARCEL, [part, *key])
            taken.append((r["payment_id"], int(r["seq"]), part))
        return taken

    def put(self, pool: str, rank: int, parcels: Sequence[Parcel]) -> None:
        for payment_id, seq, part in parcels:
            self.run(PUT_PARCEL, [pool, payment_id, rank, seq, part])

    def refund(self, contract_id: str, parcels: Sequence[Parcel], at: int) -> None:
        for payment_id, _, part in parcels:
            self.run(PAYMENT_REFUNDED, [part, at, payment_id])
        if parcels:
            self.run(PAYMENT_STATE, [contract_id])

    # ---- events --------------------------------------------------------------------

    def apply(self, n: int, e: Any) -> None:
        """The statements one event makes; events of other aggregates make none."""
        if not isinstance(e, FixedPriceContract.Event | HourlyContract.Event):
            return
        cid, at = str(e.originator_id), epoch_us(e.timestamp)
        if isinstance(e, fp.Opened | hourly_events.Opened):
            kind = (ContractKind.HOURLY if isinstance(e, hourly_events.Opened)
                    else ContractKind.FIXED_PRICE)
            self.run(INSERT_CONTRACT, [cid, kind.value, e.client_id, e.freelancer_id, e.job_id,
                                       getattr(e, "title", None), e.currency, at, at])
            return
        self.run(TOUCH_CONTRACT, [at, cid])
        if isinstance(e, fp.EscrowRefundRequested):
            self.run(CONTRACT_STATE, [ContractStatus.ENDING.value, cid])
        elif isinstance(e, terms.Ended):
            self.run(CONTRACT_ENDED, [at, cid])
        elif isinstance(e, fp.MilestoneAdded):
            self.run(INSERT_MILESTONE, [e.milestone_id, cid, e.title, e.amount.currency.code,
                                        _minor(e.amount), at, at])
        elif isinstance(e, fp.MilestoneFunded):
            self.funded(n, cid, at, e)
        elif isinstance(e, fp.WorkSubmitted):
            self.run(MILESTONE_STATE, [MilestoneStatus.SUBMITTED.value, at, e.milestone_id])
        elif isinstance(e, fp.ChangesRequested):
            self.run(MILESTONE_STATE, [MilestoneStatus.CHANGES_REQUESTED.value, at,
                                       e.milestone_id])
        elif isinstance(e, fp.MilestoneReleased):
            self.run(MILESTONE_ESCROW, [-_minor(e.gross), at, e.milestone_id])
            self.run(MILESTONE_STATE, [MilestoneStatus.RELEASED.value, at, e.milestone_id])
            self.take(e.milestone_id, _minor(e.gross))
        elif isinstance(e, fp.EscrowRefunded):
            for moved in e.amounts:
                part = _minor(moved.amount)
                self.run(MILESTONE_REFUNDED, [part, at, part, moved.milestone_id])
                self.refund(cid, self.take(moved.milestone_id, part), at)
        elif isinstance(e, dispute_events.DisputeOpened):
            for line, moved in enumerate(e.amounts):
                part = _minor(moved.amount)
                self.run(MILESTONE_DISPUTED, [part, at, moved.milestone_id])
                self.run(INSERT_LINE, [e.dispute_id, line, moved.milestone_id, part])
                self.put(e.dispute_id, line, self.take(moved.milestone_id, part))
        elif isinstance(e, dispute_events.DisputeResolved):
            self.resolved(cid, at, e)
        else:
            self.payment_event(n, cid, at, e)

    def funded(self, n: int, cid: str, at: int, e: fp.MilestoneFunded) -> None:
        for moved in e.carried_in:
            part = _minor(moved.amount)
            self.run(MILESTONE_ESCROW, [-part, at, moved.milestone_id])
            self.put(e.milestone_id, 0, self.take(moved.milestone_id, part))
        self.run(MILESTONE_ESCROW, [_minor(e.escrow_added), at, e.milestone_id])
        if not e.top_up:
            self.run(MILESTONE_STATE, [MilestoneStatus.FUNDED.value, at, e.milestone_id])
        if e.payment_id is not None:
            self.charge(e.payment_id, cid, chargebacks.ChargeKind.ESCROW_FUNDING, e.milestone_id,
                        e.charged, e.marketplace_fee, e.initiation_fee, e.payment_method, at)
            self.put(e.milestone_id, 0, [(e.payment_id, n, _minor(e.charged))])

    def resolved(self, cid: str, at: int, e: dispute_events.DisputeResolved) -> None:
        """Released money goes to the dispute's milestones in its order; the rest is refunded."""
        left = _minor(e.released)
        for line in self.rows(LINES_OF, [e.dispute_id]):
            part = min(int(line["amount_minor"]), left)
            left -= part
            state = MilestoneStatus.RELEASED if part > 0 else MilestoneStatus.REFUNDED
            self.run(MILESTONE_STATE, [state.value, at, line["milestone_id"]])
        self.take(e.dispute_id, _minor(e.released))
        self.refund(cid, self.take(e.dispute_id, _minor(e.refunded)), at)
        self.run(DROP_POOL, [e.dispute_id])

    def payment_event(self, n: int, cid: str, at: int, e: Any) -> None:
        if isinstance(e, payments.BonusPaid):
            self.charge(e.payment_id, cid, chargebacks.ChargeKind.BONUS, e.bonus_id, e.gross,
                        e.marketplace_fee, e.initiation_fee, e.payment_method, at)
        elif isinstance(e, hourly_events.WeekInvoiced):
            self.charge(e.payment_id, cid, chargebacks.ChargeKind.HOURLY_INVOICE,
                        e.week_start.isoformat(), e.amount, e.marketplace_fee, e.initiation_fee,
                        e.payment_method, at)
        elif isinstance(e, hourly_events.HourlyDisputeSettled):
            if e.refunded.amount > 0:
                self.run(WEEK_REFUNDED, [_minor(e.refunded), at, cid, e.week_start.isoformat()])
                self.run(PAYMENT_STATE, [cid])
        elif isinstance(e, chargebacks.ChargebackReceived):
            self.run(CHARGEBACK_RECEIVED, [e.chargeback_id, at, e.payment_id])
            self.run(PAYMENT_STATE, [cid])
        elif isinstance(e, chargebacks.ChargebackDecided):
            self.run(CHARGEBACK_DECIDED, ["won" if e.won else "lost", at, e.chargeback_id])
            self.run(PAYMENT_STATE, [cid])

    def charge(self, payment_id: str, cid: str, kind: chargebacks.ChargeKind, subject: str,
               amount: Money, marketplace: FeeQuote | None, initiation: FeeQuote | None,
               method: str, at: int) -> None:
        self.run(INSERT_PAYMENT, [payment_id, cid, kind.value, subject, amount.currency.code,
                                  _minor(amount), _minor(marketplace), _minor(initiation),
                                  method, at, at])


class ContractsProjection:
    """Contracts, milestones and payments, for the lists (``projections.contract_lists``)."""

    name = "contracts"

    def __init__(self, app: Application[Any]) -> None:
        self.view = open_view(app, SQLiteListView, PostgresListView)
        self.queries = ContractListQueries(self.view, self.name)

    def position(self) -> int:
        return self.queries.position()

    def handle(self, batch: Sequence[tuple[int, Any]], tracking: Tracking) -> None:
        with self.view.writing(tracking) as cursor:
            writer = _Batch(self.view, cursor)
            for n, event in batch:
                writer.apply(n, event)
            writer.flush()

    def reset(self) -> None:
        self.view.reset(self.name)
