"""The files a processor and a bank would send for this ledger's history, derived from the feed.

Why: finance needs files that truly follow from the ledger to try a run on (and
to see one break when a line is edited), and the tests need a month of them.
They are derived from the public event feed (``ledger.event_feed``: the
postings and fields an auditor sees), not from the matcher's own reading of the
log (``reconciliation.ledger_side``), so a run over them checks one reading
against the other.

The processor (assumed, like a typical card processor): charges cost 2.9% +
$0.30 (half-up to the cent), refunds, payouts and chargebacks nothing, and a
chargeback brings its own $15.00 ``fee`` row; every row becomes available two
days after it was created. The trust account receives each day's sum of
``net`` as one credit (a debit when the day nets negative), booked and
value-dated that day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from eventsourcing.application import Application

from ledger import event_feed
from reconciliation.model import Source, StatementLine
from reconciliation.statements.bai2_statement import write_bai2_days
from reconciliation.statements.camt053 import write_camt053
from reconciliation.statements.processor_csv import write_processor_csv

CHARGE_RATE = Decimal("0.029")
CHARGE_FIXED = Decimal("0.30")
CHARGEBACK_FEE = Decimal("15.00")
SETTLEMENT_DAYS = 2
TRUST_ACCOUNT = "4100012345"
CENT = Decimal("0.01")


def _clearing(event: dict[str, Any]) -> tuple[Decimal, str] | None:
    net, currency = Decimal(0), None
    for p in event["postings"]:
        if p["account"] == "processor:clearing":
            amount = Decimal(p["amount"])
            net += amount if p["side"] == "debit" else -amount
            currency = p["currency"]
    return None if currency is None or net == 0 else (net, currency)


def _row_of(event: dict[str, Any], state: dict[str, Any]) -> tuple[str, str, Decimal, str] | None:
    """(reference, type, amount, currency) of the processor row an event causes, if any."""
    name = event["name"].rsplit(".", 1)[-1]
    data = event["data"]
    if name == "WithdrawalRequested":
        state["withdrawals"][data["withdrawal_id"]] = data["amount"]
        return None
    if name == "WithdrawalSent":
        amount = state["withdrawals"][data["withdrawal_id"]]
        state["sent"].add(data["withdrawal_id"])
        return data["withdrawal_id"], "payout", -Decimal(amount["amount"]), amount["currency"]
    if name == "WithdrawalReturned":
        if data["state"] == "failed" and data["withdrawal_id"] in state["sent"]:
            amount = state["withdrawals"][data["withdrawal_id"]]
            return (data["withdrawal_id"], "payout_failure", Decimal(amount["amount"]),
                    amount["currency"])
        return None
    moved = _clearing(event)
    if moved is None:
        return None
    net, currency = moved
    if name == "ChargebackReceived":
        state["chargebacks"][data["chargeback_id"]] = data["payment_id"]
        return data["payment_id"], "chargeback", net, currency
    if name == "ChargebackDecided":
        return state["chargebacks"][data["chargeback_id"]], "adjustment", net, currency
    version, aggregate = event["aggregate_version"], event["aggregate_id"].replace("-", "")
    if net > 0:
        return data.get("payment_id") or f"pay_{aggregate}_{version}", "charge", net, currency
    return f"rf_{aggregate}_{version}", "refund", net, currency


def processor_rows(app: Application[Any]) -> tuple[list[StatementLine], dict[str, datetime]]:
    """Every row the processor's report would hold, and the moment each was created."""
    state: dict[str, Any] = {"withdrawals": {}, "sent": set(), "chargebacks": {}}
    rows: list[StatementLine] = []
    created: dict[str, datetime] = {}

    def add(kind: str, amount: Decimal, fee: Decimal, currency: str, at: datetime,
            reference: str) -> None:
        txn = f"txn_{len(rows) + 1:06d}"
        created[txn] = at
        rows.append(StatementLine(
            Source.PROCESSOR, "derived", len(rows) + 2, txn, kind, amount, currency,
            at.date(), at.date() + timedelta(days=SETTLEMENT_DAYS), reference, fee,
            amount - fee))

    for event in event_feed.stream(app):
        found = _row_of(event, state)
        if found is None:
            continue
        reference, kind, amount, currency = found
        at = datetime.fromisoformat(event["effective_at"])
        fee = ((amount * CHARGE_RATE + CHARGE_FIXED).quantize(CENT, ROUND_HALF_UP)
               if kind == "charge" else Decimal("0.00"))
        add(kind, amount, fee, currency, at, reference)
        if kind == "chargeback":
            add("fee", -CHARGEBACK_FEE, Decimal("0.00"), currency, at, reference)
    return rows, created


BankDay = tuple[str, str, date, Decimal, Sequence[StatementLine]]


def trust_days(rows: Sequence[StatementLine], first: date, last: date, *,
               account: str = TRUST_ACCOUNT, currency: str = "USD",
               opening: Decimal = Decimal("0.00")) -> list[BankDay]:
    """The trust account's statement, one day per date from ``first`` to ``last``."""
    by_day: dict[date, Decimal] = defaultdict(Decimal)
    for r in rows:
        if r.currency == currency and r.value_date is not None and r.net is not None:
            by_day[r.value_date] += r.net
    days: list[BankDay] = []
    balance, day = opening, first
    while day <= last:
        lines: list[StatementLine] = []
        amount = by_day.get(day, Decimal(0))
        if amount != 0:
            lines.append(StatementLine(
                Source.BANK, "derived", 0, f"BR{day:%Y%m%d}01",
                "credit" if amount > 0 else "debit", amount, currency, day, day,
                f"settle_{day.isoformat()}", account=account))
        days.append((account, currency, day, balance, lines))
        balance += amount
        day += timedelta(days=1)
    return days


def write_samples(app: Application[Any], directory: Path) -> list[Path]:
    """The processor CSV, and the trust account as BAI2 and as camt.053, for this ledger."""
    rows, created = processor_rows(app)
    if not rows:
        raise ValueError("the ledger has moved no money through the processor yet")
    first = min(r.booked for r in rows)
    last = max(r.value_date or r.booked for r in rows)
    days = trust_days(rows, first, last)
    directory.mkdir(parents=True, exist_ok=True)
    written = {
        "processor.csv": write_processor_csv(rows, created_at=created),
        "trust.bai2": write_bai2_days(days),
        "trust.camt053.xml": write_camt053(days),
    }
    paths = []
    for name, data in written.items():
        path = directory / name
        path.write_bytes(data)
        paths.append(path)
    return paths
