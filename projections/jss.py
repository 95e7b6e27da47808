"""Job Success Score inputs, materialised from the notification log.

One row per contract (parties, kind, opening, end, the ending party's
feedback, whether it ended with work paid, what went back to the client), one
per earning, one per refund, one per dispute with its outcome, and one per
flag finance put on a client. Each batch is written in the same transaction
as the projection's tracking record (``jss``), so the view is exactly-once and
rebuilds from zero to the same rows. Amounts are integer minor units, so sums
are exact on both stores (see ``projections.journal``).

**Earnings** are read from the postings, not from a list of event classes: an
event on a contract whose entry credits ``freelancer:<id>:pending`` paid the
freelancer (a milestone released by approval, silence, ending or dormancy, a
bonus, an hourly week after its review, a dispute's release). Its gross is
that credit plus the service fee credited with it. **Refunds** are named by
their events: escrow refunded (``escrow``), the refunded part of a dispute
(``dispute``, ``hourly_dispute``), the freelancer's refund to the client
(``by_freelancer``) and a chargeback debited from the freelancer
(``chargeback``, reversed when the chargeback is won). The last two come out
of the freelancer's earnings; the others never reached the freelancer.

``JssQueries`` answers per freelancer as of any moment; the derived views
(weights, long-term clients, eligibility, badges) are ``projections.jss_derived``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking

from domain.balances.client_standing import ClientStanding
from domain.bookkeeping import accounts
from domain.bookkeeping.accounts import Revenue
from domain.bookkeeping.postings import JournalEntry, Side
from domain.connects.rules import add_months
from domain.contracts import chargebacks, payments, terms
from domain.contracts.fixed_price import FixedPriceContract
from domain.contracts.hourly import HourlyContract
from domain.deadlines import epoch_us, from_epoch_us
from domain.errors import InvalidInput
from domain.money import to_minor_units
from projections import jss_derived as derived
from projections.journal import minor_json
from projections.store import PostgresView, SQLiteView, open_view

NAME = "jss"
TABLES = {"contracts": "jss_contracts", "earnings": "jss_earnings", "refunds": "jss_refunds",
          "disputes": "jss_disputes", "flags": "jss_client_flags",
          "index": "jss_contracts_freelancer"}
CREATE = (
    "CREATE TABLE IF NOT EXISTS {contracts} ("
    "contract_id TEXT PRIMARY KEY, freelancer_id TEXT NOT NULL, client_id TEXT NOT NULL, "
    "kind TEXT NOT NULL, job_id TEXT, currency TEXT NOT NULL, opened_us BIGINT NOT NULL, "
    "ended_us BIGINT, ended_by TEXT, ended_with_work_paid INTEGER NOT NULL DEFAULT 0, "
    "feedback_rating INTEGER, feedback_comment TEXT, "
    "refunded_minor BIGINT NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS {index} ON {contracts} (freelancer_id, opened_us)",
    "CREATE TABLE IF NOT EXISTS {earnings} ("
    "contract_id TEXT NOT NULL, notification_id BIGINT NOT NULL, event_type TEXT NOT NULL, "
    "effective_us BIGINT NOT NULL, gross_minor BIGINT NOT NULL CHECK (gross_minor > 0), "
    "net_minor BIGINT NOT NULL, currency TEXT NOT NULL, "
    "PRIMARY KEY (contract_id, notification_id))",
    "CREATE TABLE IF NOT EXISTS {refunds} ("
    "contract_id TEXT NOT NULL, notification_id BIGINT NOT NULL, kind TEXT NOT NULL, "
    "ref TEXT, effective_us BIGINT NOT NULL, amount_minor BIGINT NOT NULL "
    "CHECK (amount_minor > 0), currency TEXT NOT NULL, reversed_us BIGINT, "
    "PRIMARY KEY (contract_id, notification_id))",
    "CREATE TABLE IF NOT EXISTS {disputes} ("
    "contract_id TEXT NOT NULL, dispute_id TEXT NOT NULL, kind TEXT NOT NULL, "
    "origin TEXT NOT NULL, opened_us BIGINT NOT NULL, amount_minor BIGINT NOT NULL, "
    "currency TEXT NOT NULL, outcome TEXT, resolved_us BIGINT, released_minor BIGINT, "
    "refunded_minor BIGINT, PRIMARY KEY (contract_id, dispute_id))",
    "CREATE TABLE IF NOT EXISTS {flags} ("
    "client_id TEXT NOT NULL, version BIGINT NOT NULL, flagged_us BIGINT NOT NULL, "
    "reason TEXT NOT NULL, unflagged_us BIGINT, PRIMARY KEY (client_id, version))",
)
ORDER_BY = {"contracts": "contract_id", "earnings": "contract_id, notification_id",
            "refunds": "contract_id, notification_id", "disputes": "contract_id, dispute_id",
            "flags": "client_id, version"}
"""Each table's key: the order ``JssQueries.rows`` lists rows in."""

OPEN_CONTRACT = (
    "INSERT INTO {contracts} (contract_id, freelancer_id, client_id, kind, job_id, currency, "
    "opened_us) VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
END_CONTRACT = (
    "UPDATE {contracts} SET ended_us = %s, ended_by = %s, feedback_rating = %s, "
    "feedback_comment = %s, ended_with_work_paid = CASE WHEN EXISTS "
    "(SELECT 1 FROM {earnings} WHERE contract_id = %s) THEN 1 ELSE 0 END "
    "WHERE contract_id = %s"
)
EARNING = (
    "INSERT INTO {earnings} (contract_id, notification_id, event_type, effective_us, "
    "gross_minor, net_minor, currency) VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
PAID_AFTER_END = ("UPDATE {contracts} SET ended_with_work_paid = 1 "
                  "WHERE contract_id = %s AND ended_us IS NOT NULL")
REFUND = (
    "INSERT INTO {refunds} (contract_id, notification_id, kind, ref, effective_us, "
    "amount_minor, currency) VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
REFUNDED = "UPDATE {contracts} SET refunded_minor = refunded_minor + %s WHERE contract_id = %s"
UNREFUNDED = (
    "UPDATE {contracts} SET refunded_minor = refunded_minor - COALESCE("
    "(SELECT amount_minor FROM {refunds} WHERE contract_id = %s AND kind = 'chargeback' "
    "AND ref = %s AND reversed_us IS NULL), 0) WHERE contract_id = %s"
)
REVERSE_REFUND = (
    "UPDATE {refunds} SET reversed_us = %s WHERE contract_id = %s AND kind = 'chargeback' "
    "AND ref = %s AND reversed_us IS NULL"
)
OPEN_DISPUTE = (
    "INSERT INTO {disputes} (contract_id, dispute_id, kind, origin, opened_us, amount_minor, "
    "currency) VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
RESOLVE_DISPUTE = (
    "UPDATE {disputes} SET outcome = %s, resolved_us = %s, released_minor = %s, "
    "refunded_minor = %s WHERE contract_id = %s AND dispute_id = %s"
)
SETTLE_HOURLY_DISPUTE = (
    "UPDATE {disputes} SET outcome = %s, resolved_us = %s, released_minor = amount_minor - %s, "
    "refunded_minor = %s WHERE contract_id = %s AND dispute_id = %s"
)
FLAG = ("INSERT INTO {flags} (client_id, version, flagged_us, reason) "
        "VALUES (%s, %s, %s, %s)")
UNFLAG = "UPDATE {flags} SET unflagged_us = %s WHERE client_id = %s AND unflagged_us IS NULL"

CONTRACT_KINDS: tuple[Any, ...] = (FixedPriceContract, HourlyContract)
SERVICE_FEE = accounts.revenue(Revenue.SERVICE_FEE)


class SQLiteJssView(SQLiteView):
    TABLES = TABLES
    CREATE = CREATE


class PostgresJssView(PostgresView):
    TABLES = TABLES
    CREATE = CREATE


def _on_contract(event: Any) -> bool:
    """Whether the event is one of a contract's own (its originator is a contract)."""
    cls = type(event)
    return any(getattr(kind, cls.__name__, None) is cls for kind in CONTRACT_KINDS)


def _is_pending(account: str) -> bool:
    return account.startswith("freelancer:") and account.endswith(":pending")


def earning_of(event: Any) -> tuple[int, int, str] | None:
    """(gross, net, currency) when the event's postings pay the freelancer, else None."""
    entry = getattr(event, "entry", None)
    if not isinstance(entry, JournalEntry):
        return None
    credits = [p for p in entry.postings if p.side is Side.CREDIT]
    net = [p for p in credits if _is_pending(p.account)]
    if not net:
        return None
    fee = sum(to_minor_units(p.amount) for p in credits if p.account == SERVICE_FEE)
    paid = sum(to_minor_units(p.amount) for p in net)
    return paid + fee, paid, net[0].amount.currency.code


def _refund(cid: str, n: int, kind: str, ref: str | None, at: int,
            amount: Any) -> list[tuple[str, list[Any]]]:
    minor = to_minor_units(amount)
    if minor <= 0:
        return []
    return [(REFUND, [cid, n, kind, ref, at, minor, amount.currency.code]),
            (REFUNDED, [minor, cid])]


def _contract_statements(e: Any, n: int, cid: str, at: int) -> list[tuple[str, list[Any]]]:
    """What a contract's own event writes: its opening, end, refunds and disputes."""
    if isinstance(e, FixedPriceContract.Opened | HourlyContract.Opened):
        kind = FixedPriceContract if isinstance(e, FixedPriceContract.Opened) else HourlyContract
        return [(OPEN_CONTRACT, [cid, e.freelancer_id, e.client_id, kind.KIND.value, e.job_id,
                                 e.currency, at])]
    if isinstance(e, terms.Ended):
        return [(END_CONTRACT, [at, e.ended_by, e.feedback_rating, e.feedback, cid, cid])]
    if isinstance(e, FixedPriceContract.EscrowRefunded):
        return _refund(cid, n, "escrow", e.request_id, at, e.total)
    if isinstance(e, payments.ClientRefunded):
        return _refund(cid, n, "by_freelancer", e.refund_id, at, e.amount)
    if isinstance(e, chargebacks.ChargebackReceived):
        return _refund(cid, n, "chargeback", e.chargeback_id, at, e.freelancer_debit)
    if isinstance(e, chargebacks.ChargebackDecided):
        if not e.won:
            return []
        return [(UNREFUNDED, [cid, e.chargeback_id, cid]),
                (REVERSE_REFUND, [at, cid, e.chargeback_id])]
    if isinstance(e, FixedPriceContract.DisputeOpened):
        return [(OPEN_DISPUTE, [cid, e.dispute_id, "fixed_price", e.origin, at,
                                to_minor_units(e.total), e.total.currency.code])]
    if isinstance(e, FixedPriceContract.DisputeResolved):
        return [(RESOLVE_DISPUTE, [e.outcome, at, to_minor_units(e.released),
                                   to_minor_units(e.refunded), cid, e.dispute_id]),
                *_refund(cid, n, "dispute", e.dispute_id, at, e.refunded)]
    if isinstance(e, HourlyContract.HourlyDisputeOpened):
        return [(OPEN_DISPUTE, [cid, e.dispute_id, "hourly", f"week {e.week_start}", at,
                                to_minor_units(e.amount), e.amount.currency.code])]
    if isinstance(e, HourlyContract.HourlyDisputeSettled):
        refunded = to_minor_units(e.refunded)
        return [(SETTLE_HOURLY_DISPUTE, [e.outcome, at, refunded, refunded, cid, e.dispute_id]),
                *_refund(cid, n, "hourly_dispute", e.dispute_id, at, e.refunded)]
    return []


def statements(event: Any, n: int) -> list[tuple[str, list[Any]]]:
    """The SQL one event writes, in order; nothing for events the JSS does not read."""
    at = epoch_us(event.timestamp)
    if isinstance(event, ClientStanding.Flagged):
        return [(FLAG, [event.client_id, event.originator_version, at, event.reason])]
    if isinstance(event, ClientStanding.Unflagged):
        return [(UNFLAG, [at, event.client_id])]
    if not _on_contract(event):
        return []
    cid = str(event.originator_id)
    found = _contract_statements(event, n, cid, at)
    earning = earning_of(event)
    if earning is not None:
        gross, net, currency = earning
        found += [(EARNING, [cid, n, type(event).__qualname__, at, gross, net, currency]),
                  (PAID_AFTER_END, [cid])]
    return found


class JssProjection:
    """The JSS rows, under their own tracking name (``jss``)."""

    name = NAME

    def __init__(self, app: Application[Any]) -> None:
        self.view = open_view(app, SQLiteJssView, PostgresJssView)
        self.queries = JssQueries(self.view)

    def position(self) -> int:
        return self.queries.position()

    def handle(self, batch: Sequence[tuple[int, Any]], tracking: Tracking) -> None:
        with self.view.writing(tracking) as cursor:
            for n, event in batch:
                for sql, params in statements(event, n):
                    cursor.execute(self.view.sql(sql), params)

    def reset(self) -> None:
        self.view.reset(self.name)


# ---- reads -------------------------------------------------------------------------------


def _when(us: int | None) -> str | None:
    return None if us is None else from_epoch_us(int(us)).isoformat()


def _money(minor: int, currency: str) -> dict[str, str]:
    return minor_json(minor, currency)


def _weight(value: Any) -> str:
    return f"{value:.2f}"


class JssQueries:
    """Per-freelancer JSS inputs as of a moment; every answer says the position it reflects."""

    def __init__(self, view: Any) -> None:
        self.view = view

    def position(self) -> int:
        return self.view.max_tracking_id(NAME) or 0

    def rows(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of every JSS table, in key order (what a rebuild must reproduce)."""
        return {table: self.view.fetch(f"SELECT * FROM {{{table}}} "  # noqa: S608
                                       f"ORDER BY {ORDER_BY[table]}")
                for table in ORDER_BY}

    def _of(self, table: str, freelancer_id: str, until: str, key: str,
            at: int) -> dict[str, list[dict[str, Any]]]:
        """A freelancer's rows of ``table`` with ``until`` at or before ``at``, by contract."""
        rows = self.view.fetch(
            f"SELECT t.* FROM {{{table}}} t JOIN {{contracts}} c "  # noqa: S608
            f"ON c.contract_id = t.contract_id WHERE c.freelancer_id = %s AND t.{until} <= %s "
            f"ORDER BY t.contract_id, t.{until}, t.{key}", [freelancer_id, at])
        by_contract: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            by_contract.setdefault(r["contract_id"], []).append(r)
        return by_contract

    def freelancer_inputs(self, freelancer_id: str, *, as_of: datetime,
                          position: int) -> dict[str, Any]:
        """Each contract's facts and the derived views, from facts effective by ``as_of``.

        Calendar months (the 12- and 24-month windows) are counted in UTC.
        """
        try:
            as_of = as_of.astimezone(UTC)
            at = epoch_us(as_of)
            add_months(as_of, -derived.ELIGIBILITY_MONTHS)  # the windows start in range
        except (OverflowError, ValueError):
            raise InvalidInput(f"as_of {as_of.isoformat()} is not a representable UTC "
                               "time") from None
        contracts = self.view.fetch(
            "SELECT * FROM {contracts} WHERE freelancer_id = %s AND opened_us <= %s "
            "ORDER BY opened_us, contract_id", [freelancer_id, at])
        earnings = self._of("earnings", freelancer_id, "effective_us", "notification_id", at)
        refunds = self._of("refunds", freelancer_id, "effective_us", "notification_id", at)
        disputes = self._of("disputes", freelancer_id, "opened_us", "dispute_id", at)
        flagged = {r["client_id"]: r for r in self.view.fetch(
            "SELECT client_id, flagged_us, reason FROM {flags} WHERE client_id IN "
            "(SELECT client_id FROM {contracts} WHERE freelancer_id = %s) AND flagged_us <= %s "
            "AND (unflagged_us IS NULL OR unflagged_us > %s)", [freelancer_id, at, at])}
        jobs = [_job(c, earnings.get(c["contract_id"], []), refunds.get(c["contract_id"], []),
                     at) for c in contracts]
        eligible = derived.eligibility(jobs, as_of)
        badges = derived.badges(jobs, as_of)
        return {
            "freelancer_id": freelancer_id,
            "as_of": as_of.isoformat(),
            "position": position,
            "contracts": [
                _contract(c, job, earnings.get(job.contract_id, []),
                          refunds.get(job.contract_id, []), disputes.get(job.contract_id, []),
                          flagged.get(c["client_id"]), at)
                for c, job in zip(contracts, jobs, strict=True)
            ],
            "clients": [
                {"client_id": s.client_id, "flagged": s.client_id in flagged,
                 "first_payment_at": s.first.isoformat(), "last_payment_at": s.last.isoformat(),
                 "payment_span_days": (s.last - s.first).days, "long_term": s.long_term}
                for s in derived.client_spans(jobs)
            ],
            "eligibility": {
                "since": eligible.since.isoformat(), "jobs": list(eligible.jobs),
                "clients": list(eligible.clients), "eligible": eligible.eligible,
            },
            "badges": {
                "since": badges.since.isoformat(),
                "earnings_12_months": _money(badges.earned_minor, derived.THRESHOLD_CURRENCY),
                "top_rated": {
                    "threshold": _money(derived.TOP_RATED_MINOR, derived.THRESHOLD_CURRENCY),
                    "met": badges.top_rated},
                "top_rated_plus": {
                    "threshold": _money(derived.TOP_RATED_PLUS_MINOR,
                                        derived.THRESHOLD_CURRENCY),
                    "large_contract_threshold": _money(derived.LARGE_CONTRACT_MINOR,
                                                       derived.THRESHOLD_CURRENCY),
                    "large_contracts": list(badges.large_contracts),
                    "met": badges.top_rated_plus},
            },
        }


def _job(c: dict[str, Any], earnings: list[dict[str, Any]], refunds: list[dict[str, Any]],
         at: int) -> derived.Job:
    as_of = from_epoch_us(at)
    counted = [derived.Refund(r["kind"], from_epoch_us(r["effective_us"]), r["amount_minor"],
                              None if r["reversed_us"] is None
                              else from_epoch_us(r["reversed_us"])) for r in refunds]
    return derived.Job(
        c["contract_id"], c["client_id"], c["currency"],
        None if c["ended_us"] is None or c["ended_us"] > at else from_epoch_us(c["ended_us"]),
        tuple(derived.Payment(from_epoch_us(e["effective_us"]), e["gross_minor"])
              for e in earnings),
        tuple(r for r in counted if r.counts(as_of)))


def _contract(c: dict[str, Any], job: derived.Job, earnings: list[dict[str, Any]],
              refunds: list[dict[str, Any]], disputes: list[dict[str, Any]],
              flag: dict[str, Any] | None, at: int) -> dict[str, Any]:
    code = c["currency"]
    ended = job.ended_at is not None
    weight = derived.earnings_weight(job)
    gross = sum(p.gross_minor for p in job.payments)
    back = sum(r.amount_minor for r in job.refunds if r.by_freelancer)
    return {
        "contract_id": job.contract_id, "client_id": job.client_id, "kind": c["kind"],
        "job_id": c["job_id"], "currency": code, "opened_at": _when(c["opened_us"]),
        "ended_at": _when(c["ended_us"]) if ended else None,
        "ended_by": c["ended_by"] if ended else None,
        "ended_with_work_paid": ended and bool(job.payments),
        "feedback": {"by": c["ended_by"], "rating": c["feedback_rating"],
                     "comment": c["feedback_comment"]}
        if ended and (c["feedback_rating"] is not None or c["feedback_comment"] is not None)
        else None,
        "client_flagged": flag is not None,
        "client_flag_reason": None if flag is None else flag["reason"],
        "earnings": [{"at": _when(e["effective_us"]), "event_type": e["event_type"],
                      "gross": _money(e["gross_minor"], code),
                      "net": _money(e["net_minor"], code)} for e in earnings],
        "earnings_total": _money(gross, code),
        "refunds": [{"kind": r["kind"], "ref": r["ref"], "at": _when(r["effective_us"]),
                     "amount": _money(r["amount_minor"], code),
                     "reversed_at": _when(r["reversed_us"])
                     if r["reversed_us"] is not None and r["reversed_us"] <= at else None}
                    for r in refunds],
        "refunded_to_client": _money(sum(r.amount_minor for r in job.refunds), code),
        "refunded_by_freelancer": _money(back, code),
        "net_earnings": _money(gross - back, code),
        "disputes": [_dispute(d, code, at) for d in disputes],
        "earnings_weight": {"band": _weight(weight.band), "three_month_steps": weight.steps,
                            "weight": _weight(weight.weight)},
    }


def _dispute(d: dict[str, Any], code: str, at: int) -> dict[str, Any]:
    resolved = d["resolved_us"] is not None and d["resolved_us"] <= at
    return {
        "dispute_id": d["dispute_id"], "kind": d["kind"], "origin": d["origin"],
        "opened_at": _when(d["opened_us"]), "amount": _money(d["amount_minor"], code),
        "outcome": d["outcome"] if resolved else None,
        "resolved_at": _when(d["resolved_us"]) if resolved else None,
        "released": _money(d["released_minor"], code) if resolved else None,
        "refunded": _money(d["refunded_minor"], code) if resolved else None,
    }
