"""Chargebacks through the application, on both stores, with exact figures.

2026-03-02, per-contract era: a $1,000.00 milestone by card is charged
$1,059.95 ($50.00 marketplace fee, $9.95 initiation fee); a $100.00 bonus as a
contract's first payment is charged $109.95 ($5.00 + $4.95) and pays $90.00 net.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from domain.contracts.terms import Party
from domain.errors import (
    ChargebackNotFound,
    ChargebackStateError,
    ClientSuspended,
    PaymentNotFound,
)
from entrypoints.scheduler import tick
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from projections.runner import ProjectionRunner
from reconciliation.replay import compare_with_projection
from tests.integration.support import balance, usd

CLEARING = "processor:clearing"
LOSSES = "expense:chargeback_losses"
AVAILABLE = "freelancer:f1:available"


def d(amount: str) -> Decimal:
    return Decimal(amount)


def m(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


def assert_books(app: EscrowLedger, projector: ProjectionRunner) -> None:
    projector.catch_up()
    assert projector.queries.trial_balance() == {"USD": d("0.00")}
    report = compare_with_projection(app, projector.queries)
    assert report.ok, report


def funding_payment(app: EscrowLedger) -> tuple[str, str, str]:
    cid = app.open_contract(client_id="c1", freelancer_id="f1", currency="USD",
                            actor="t").response["contract_id"]
    mid = app.add_milestone(contract_id=cid, title="m", amount=usd("1000.00"),
                            actor="t").response["milestone_id"]
    funded_ = app.fund_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    return cid, mid, funded_.response["payment_id"]


def test_every_charge_answers_a_stable_payment_id(app):
    cid, _, payment_id = funding_payment(app)
    assert payment_id == f"pay_{cid.replace('-', '')}_3"
    assert set(app.contract(cid).charges) == {payment_id}
    bonus = app.pay_bonus(contract_id=cid, amount=usd("100.00"), actor="c1")
    assert bonus.response["payment_id"] == f"pay_{cid.replace('-', '')}_4"


def test_a_protected_payment_is_the_platforms_loss_and_suspends_the_client(app, projector):
    cid, mid, payment_id = funding_payment(app)
    cb = app.receive_chargeback(payment_id=payment_id, reason="fraudulent", actor="psp")
    r = cb.response
    assert (r["amount"], r["platform_loss"], r["freelancer_debit"]) == (
        m("1059.95"), m("1059.95"), m("0.00"))
    assert r["client_suspended"] is True
    assert r["freelancer_holds"] == []
    assert balance(projector, CLEARING) == d("0.00")
    assert balance(projector, LOSSES) == d("1059.95")
    # the escrow stays: a protected freelancer can still be paid through the rules
    assert balance(projector, f"escrow:{cid}:{mid}") == d("1000.00")
    before = app.position()
    with pytest.raises(ClientSuspended):
        app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    with pytest.raises(ClientSuspended):
        app.open_contract(client_id="c1", freelancer_id="f2", currency="USD", actor="c1")
    with pytest.raises(ClientSuspended):
        app.pay_bonus(contract_id=cid, amount=usd("10.00"), actor="c1")
    assert app.position() == before
    won = app.decide_chargeback(chargeback_id=r["chargeback_id"], won=True, actor="psp")
    assert won.response["status"] == "won"
    assert won.response["client_suspended"] is False
    assert balance(projector, CLEARING) == d("1059.95")
    assert balance(projector, LOSSES) == d("0.00")
    app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    assert_books(app, projector)


def test_an_unprotected_bonus_is_debited_from_the_freelancer_with_a_hold(
        app, projector, clock: FakeClock):
    cid = app.open_contract(client_id="c1", freelancer_id="f1", currency="USD",
                            actor="t").response["contract_id"]
    bonus = app.pay_bonus(contract_id=cid, amount=usd("100.00"), actor="c1").response
    assert (bonus["net"], bonus["initiation_fee"]) == (m("90.00"), m("4.95"))
    r = app.receive_chargeback(payment_id=bonus["payment_id"], reason="",
                               actor="psp").response
    assert (r["amount"], r["platform_loss"], r["freelancer_debit"]) == (
        m("109.95"), m("19.95"), m("90.00"))
    assert r["freelancer_holds"] == [r["chargeback_id"]]
    assert balance(projector, AVAILABLE) == d("-90.00")
    lost = app.decide_chargeback(chargeback_id=r["chargeback_id"], won=False,
                                 actor="psp").response
    assert lost["status"] == "lost"
    assert lost["client_suspended"] is True
    assert app.freelancer_balances("f1")["holds"] == [r["chargeback_id"]]
    # the bonus's 90.00 matures after 5 days: the balance is whole, the hold lifts
    clock.set(clock.now() + timedelta(days=5))
    tick(app, projector)
    assert balance(projector, AVAILABLE) == d("0.00")
    assert app.freelancer_balances("f1")["holds"] == []
    assert_books(app, projector)


def test_a_won_bonus_chargeback_gives_the_freelancer_its_money_back(app, projector):
    cid = app.open_contract(client_id="c1", freelancer_id="f1", currency="USD",
                            actor="t").response["contract_id"]
    bonus = app.pay_bonus(contract_id=cid, amount=usd("100.00"), actor="c1").response
    r = app.receive_chargeback(payment_id=bonus["payment_id"], reason="",
                               actor="psp").response
    app.decide_chargeback(chargeback_id=r["chargeback_id"], won=True, actor="psp")
    assert balance(projector, AVAILABLE) == d("0.00")
    assert balance(projector, LOSSES) == d("0.00")
    assert app.freelancer_balances("f1")["holds"] == []
    assert_books(app, projector)


def test_refusals_write_nothing(app, projector):
    _, _, payment_id = funding_payment(app)
    before = app.position()
    with pytest.raises(PaymentNotFound):
        app.receive_chargeback(payment_id="pay_nope", reason="", actor="psp")
    with pytest.raises(PaymentNotFound):
        app.receive_chargeback(payment_id=payment_id[:-1] + "9", reason="", actor="psp")
    assert app.position() == before
    cb = app.receive_chargeback(payment_id=payment_id, reason="", actor="psp").response
    before = app.position()
    with pytest.raises(ChargebackStateError):
        app.receive_chargeback(payment_id=payment_id, reason="again", actor="psp")
    assert app.position() == before
    app.decide_chargeback(chargeback_id=cb["chargeback_id"], won=False, actor="psp")
    before = app.position()
    with pytest.raises(ChargebackStateError):
        app.decide_chargeback(chargeback_id=cb["chargeback_id"], won=True, actor="psp")
    with pytest.raises(ChargebackNotFound):
        app.decide_chargeback(chargeback_id=cb["chargeback_id"][:-1] + "9", won=True,
                              actor="psp")
    assert app.position() == before
    assert_books(app, projector)


def test_escrow_refunded_after_a_chargeback_is_kept_as_client_credit(app, projector):
    cid, _, payment_id = funding_payment(app)
    app.receive_chargeback(payment_id=payment_id, reason="", actor="psp")
    app.end_contract(contract_id=cid, by=Party.FREELANCER, pay=None, actor="f1")
    # 1,000.00 + 50.00 + the 9.95 initiation fee go back, but not to the card a second time
    assert balance(projector, CLEARING) == d("0.00")
    assert balance(projector, "client:c1:credit") == d("1059.95")
    assert balance(projector, LOSSES) == d("1059.95")
    assert_books(app, projector)
