"""Reconciliation runs over a month of real activity, on both stores.

The month (``reconciliation_support``) goes through the application; the
processor report and the trust account's statement are derived from the public
event feed (``reconciliation.derived_statements``). Figures by hand from
``domain.md``: a $100.00 milestone funded by card charges 100.00 + 5% marketplace
fee 5.00 + the 4.95 initiation fee (first payment under $500) = 109.95, on which
the processor keeps 2.9% + 0.30 = 3.49. The twenty charges ($100.00 + $25.00 a
day) total 6,750.00 x 1.05 + 16 x 4.95 + 4 x 9.95 = 7,206.50; the four contracts the
freelancer ended refund 1.05 x (200 + 325 + 450 + 575) + 3 x 4.95 + 9.95 = 1,652.30.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest

from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from projections.runner import ProjectionRunner
from reconciliation import runs
from reconciliation.derived_statements import processor_rows, trust_days
from reconciliation.model import StatementLine
from reconciliation.statements.bai2_statement import write_bai2_days
from reconciliation.statements.camt053 import write_camt053
from reconciliation.statements.processor_csv import write_processor_csv
from tests.integration.reconciliation_support import simulate_month

Rows = list[StatementLine]


@pytest.fixture
def month(app: EscrowLedger, clock: FakeClock, projector: ProjectionRunner) -> Rows:
    simulate_month(app, clock, projector)
    rows, _ = processor_rows(app)
    return rows


def csv(rows: Rows) -> tuple[str, bytes]:
    return "processor-2026-03.csv", write_processor_csv(rows)


def bai2(rows: Rows, **kw: Decimal) -> tuple[str, bytes]:
    days = trust_days(rows, min(r.booked for r in rows), max(r.value_date for r in rows
                                                            if r.value_date), **kw)
    return "trust-2026-03.bai2", write_bai2_days(days)


def prepare(app: EscrowLedger, projector: ProjectionRunner,
            *files: tuple[str, bytes]) -> runs.Prepared:
    return runs.prepare_external(app, projector.queries, runs.parse_all(list(files)))


def kinds(prepared: runs.Prepared) -> list[str]:
    return [b["kind"] for b in prepared.breaks]


def test_a_true_month_reconciles_clean_with_exact_figures(
        app: EscrowLedger, projector: ProjectionRunner, month: Rows) -> None:
    by_kind = Counter(r.kind for r in month)
    assert by_kind == {"charge": 20, "refund": 8, "payout": 9, "payout_failure": 1,
                       "chargeback": 1, "adjustment": 1, "fee": 1}
    assert sum(r.amount for r in month if r.kind == "charge") == Decimal("7206.50")
    assert sum(r.amount for r in month if r.kind == "refund") == Decimal("-1652.30")
    first = month[0]
    assert (first.kind, first.amount, first.fee, first.net) == (
        "charge", Decimal("109.95"), Decimal("3.49"), Decimal("106.46"))

    prepared = prepare(app, projector, csv(month), bai2(month))
    assert prepared.breaks == []
    passes = {p["rule"]: p for p in prepared.summary["passes"]}
    reference = passes["ledger_processor_reference"]
    # every row but the processor's own fee pairs with a ledger item by reference
    assert (reference["matches"], reference["amounts"]) == (40, {"USD": "5154.20"})
    batch = passes["processor_bank_batch"]
    assert (batch["matches"], batch["amounts"]) == (20, {"USD": "4924.22"})
    assert prepared.summary["excluded"] == [{
        "rule": "exclude_processor_fees", "type": "fee", "currency": "USD", "count": 1,
        "amount": "-15.00", "net": "-15.00", "reason": prepared.summary["excluded"][0]["reason"]}]
    assert prepared.summary["period"] == ["2026-03-02", "2026-03-27"]
    day_one = prepared.safeguarding[0]
    assert (day_one["day"], day_one["owed_total"], day_one["trust_closing"],
            day_one["in_transit"], day_one["shortfall"]) == (
        "2026-03-02", "90.00", "0.00", "106.46", False)
    assert not any(d["shortfall"] for d in prepared.safeguarding)

    # the same inputs twice give the same result, break keys and all
    again = prepare(app, projector, csv(month), bai2(month))
    assert (again.breaks, again.summary, again.safeguarding) == (
        prepared.breaks, prepared.summary, prepared.safeguarding)
    # and the trust statement in camt.053 reconciles the same as in BAI2
    days = trust_days(month, min(r.booked for r in month),
                      max(r.value_date for r in month if r.value_date))
    camt = prepare(app, projector, csv(month), ("trust.camt053.xml", write_camt053(days)))
    assert (camt.breaks, camt.safeguarding) == ([], prepared.safeguarding)


def one_break(prepared: runs.Prepared, kind: str) -> dict[str, object]:
    assert kinds(prepared) == [kind], prepared.breaks
    return prepared.breaks[0]


def test_each_kind_of_break_is_reported_once_with_its_evidence(
        app: EscrowLedger, projector: ProjectionRunner, month: Rows) -> None:
    charge = next(r for r in month if r.kind == "charge")
    refund = next(r for r in month if r.kind == "refund")

    stranger = dataclasses.replace(charge, external_id="txn_stranger",
                                   reference="pay_" + "0" * 32 + "_1")
    found = one_break(prepare(app, projector, csv([*month, stranger])), "missing_in_ledger")
    assert found["amount"] == "109.95"

    found = one_break(prepare(app, projector, csv([r for r in month if r is not refund])),
                      "missing_outside")
    assert found["amount"] == str(refund.amount)
    assert found["evidence"]["items"][0]["reference"] == refund.reference

    more = dataclasses.replace(charge, amount=Decimal("110.95"), net=Decimal("107.46"))
    found = one_break(prepare(app, projector, csv([more if r is charge else r for r in month])),
                      "amount_mismatch")
    assert (found["amount"], found["currency"]) == ("1.00", "USD")

    euros = dataclasses.replace(charge, currency="EUR")
    one_break(prepare(app, projector, csv([euros if r is charge else r for r in month])),
              "currency_mismatch")

    twice = dataclasses.replace(charge, external_id="txn_again")
    found = one_break(prepare(app, projector, csv([*month, twice])), "duplicate")
    assert found["evidence"]["lines"][0]["external_id"] == "txn_again"

    late = dataclasses.replace(charge, booked=charge.booked + timedelta(days=5),
                               value_date=charge.booked + timedelta(days=7))
    found = one_break(prepare(app, projector, csv([late if r is charge else r for r in month])),
                      "timing")
    assert found["evidence"]["lines"][0]["external_id"] == charge.external_id


def test_a_bank_transfer_that_differs_and_a_safeguarding_shortfall_are_breaks(
        app: EscrowLedger, projector: ProjectionRunner, month: Rows) -> None:
    # 20.00 missing from the trust account since before the month: on 2 March the
    # surplus is only 16.46 (held 106.46 in transit against 90.00 owed), later more
    short = prepare(app, projector, csv(month), bai2(month, opening=Decimal("-20.00")))
    found = one_break(short, "safeguarding_shortfall")
    assert (found["amount"], found["evidence"]["day"], found["evidence"]["held"]) == (
        "3.54", "2026-03-02", "86.46")

    # one day's transfer 0.01 short at the bank: that batch, and nothing else
    days = trust_days(month, min(r.booked for r in month),
                      max(r.value_date for r in month if r.value_date))
    account, currency, day, opening, [line] = days[2]
    assert (day.isoformat(), line.amount) == ("2026-03-04", Decimal("106.46"))
    days[2] = (account, currency, day, opening,
               [dataclasses.replace(line, amount=Decimal("106.45"))])
    found = one_break(prepare(app, projector, csv(month),
                              ("trust.bai2", write_bai2_days(days))), "amount_mismatch")
    assert (found["rule"], found["amount"]) == ("processor_bank_batch", "-0.01")


def test_a_freelancers_debt_after_a_chargeback_never_reduces_what_is_owed_to_others(
        app: EscrowLedger, clock: FakeClock, projector: ProjectionRunner) -> None:
    from datetime import date

    from domain.money import money
    from entrypoints.scheduler import tick
    from reconciliation.safeguarding import owed_by_day
    from tests.integration.support import funded

    cid, _ = funded(app, ["100.00"])
    bonus = app.pay_bonus(contract_id=cid, amount=money("500.00", "USD"), actor="c1")
    payment_id = bonus.response["charge"]["payment_id"]
    clock.advance(timedelta(days=5, hours=1))  # the bonus's 450.00 is available on 7 March
    projector.catch_up()
    tick(app, projector)
    wid = app.request_withdrawal(freelancer_id="f1", amount=money("400.00", "USD"),
                                 method="us_bank", actor="f1").response["withdrawal_id"]
    app.mark_withdrawal_sent(withdrawal_id=wid, processor_reference=None, actor="p")
    app.settle_withdrawal(withdrawal_id=wid, actor="p")
    clock.advance(timedelta(days=1))
    # a bonus is not protected: its chargeback takes 450.00 back from f1's 50.00
    app.receive_chargeback(payment_id=payment_id, reason="fraud", actor="p")
    projector.catch_up()
    owed = owed_by_day(projector.queries, [date(2026, 3, 7), date(2026, 3, 8)],
                       app.position(), "USD")
    # 7 March: f1 holds 50.00 available (450.00 net of the 10% fee, less 400.00 paid out),
    # and 100.00 is in escrow
    assert (owed[date(2026, 3, 7)]["freelancer_available"],
            owed[date(2026, 3, 7)]["escrow"]) == (Decimal("50.00"), Decimal("100.00"))
    # 8 March: f1's available is -400.00, a debt to us: it never reduces the 100.00 owed
    assert (owed[date(2026, 3, 8)]["freelancer_available"],
            owed[date(2026, 3, 8)]["escrow"]) == (Decimal("0.00"), Decimal("100.00"))
    assert sum(owed[date(2026, 3, 8)].values()) == Decimal("100.00")
