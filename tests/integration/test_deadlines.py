"""Deadlines: the 14-day auto-release, the 7-day refund answer, the 5-day security period."""

from datetime import timedelta
from decimal import Decimal

import pytest

from domain.contracts.terms import Party
from domain.errors import MilestoneStateError
from domain.fees.methods import PaymentMethod
from entrypoints.scheduler import tick
from tests.integration.support import balance, funded, usd


def test_silence_for_14_days_after_submission_releases_the_escrow_at_the_deadline(
        app, projector, clock):
    cid, (mid,) = funded(app)
    submitted_at = clock.now()
    app.submit_work(contract_id=cid, milestone_id=mid, actor="f1")
    clock.advance(timedelta(days=13, hours=23))
    assert tick(app, projector) == []
    clock.advance(timedelta(hours=3))  # the scheduler runs two hours late
    fired = tick(app, projector)
    assert [f.response["released"] for f in fired] == [True]
    assert fired[0].response["net"] == {"amount": "450.00", "currency": "USD"}
    due = submitted_at + timedelta(days=14)
    assert fired[0].response["available_at"] == (due + timedelta(days=5)).isoformat()
    assert balance(projector, "freelancer:f1:pending") == Decimal("450.00")
    assert app.contract_view(cid)["milestones"][0]["status"] == "released"
    # as of one second before the deadline the money was still in escrow
    before = projector.queries.balance(f"escrow:{cid}:{mid}", as_of=due - timedelta(seconds=1))
    assert before[0].balance == Decimal("500.00")
    assert tick(app, projector) == []


def test_changes_cannot_be_requested_once_the_review_period_is_over(app, clock):
    cid, (mid,) = funded(app)
    app.submit_work(contract_id=cid, milestone_id=mid, actor="f1")
    clock.advance(timedelta(days=14))
    position = app.position()
    with pytest.raises(MilestoneStateError):
        app.request_changes(contract_id=cid, milestone_id=mid, note="late", actor="c1")
    assert app.position() == position


def test_requesting_changes_stops_the_auto_release_clock(app, projector, clock):
    cid, (mid,) = funded(app)
    app.submit_work(contract_id=cid, milestone_id=mid, actor="f1")
    clock.advance(timedelta(days=2))
    app.request_changes(contract_id=cid, milestone_id=mid, note="more contrast", actor="c1")
    clock.advance(timedelta(days=20))
    assert tick(app, projector) == []
    assert balance(projector, f"escrow:{cid}:{mid}") == Decimal("500.00")


def test_a_stale_deadline_fired_by_key_does_nothing(app, projector, clock):
    cid, (mid,) = funded(app)
    app.submit_work(contract_id=cid, milestone_id=mid, actor="f1")
    due = clock.now() + timedelta(days=14)
    app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    clock.advance(timedelta(days=15))
    result = app.auto_release_milestone(contract_id=cid, milestone_id=mid, due=due)
    assert result.response["released"] is False
    # nothing was released twice; the security period that fell due on the way did end
    assert balance(projector, f"escrow:{cid}:{mid}") == Decimal("0.00")
    assert balance(projector, "freelancer:f1:pending") == Decimal("0.00")
    assert balance(projector, "freelancer:f1:available") == Decimal("450.00")


def test_silence_for_7_days_approves_an_escrow_refund_request(app, projector, clock):
    cid, _ = funded(app)
    ended = app.end_contract(contract_id=cid, by=Party.CLIENT, pay=usd("0"), actor="c1")
    assert ended.response["refund_requested"]["amount"] == "500.00"
    clock.advance(timedelta(days=7))
    fired = tick(app, projector)
    assert [f.response["refunded"] for f in fired] == [True]
    assert app.contract_view(cid)["status"] == "ended"
    # escrow, marketplace fee and initiation fee all went back: nothing was released
    assert balance(projector, "processor:clearing") == Decimal("0.00")
    assert balance(projector, "revenue:marketplace_fee") == Decimal("0.00")
    assert balance(projector, f"deferred:initiation_fee:{cid}") == Decimal("0.00")


def test_late_maturity_without_a_due_time_still_takes_effect_at_each_lots_due_time(
        app, projector, clock):
    cid, (m1, m2) = funded(app, ("100.00", "200.00"))
    start = clock.now()
    app.approve_milestone(contract_id=cid, milestone_id=m1, actor="c1")
    clock.advance(timedelta(days=1))
    app.approve_milestone(contract_id=cid, milestone_id=m2, actor="c1")
    clock.advance(timedelta(days=9))
    matured = app.release_matured_earnings(freelancer_id="f1").response["matured"]
    assert matured == [{"amount": "90.00", "currency": "USD"},
                       {"amount": "180.00", "currency": "USD"}]
    projector.catch_up()
    first_due = start + timedelta(days=5)
    assert projector.queries.balance("freelancer:f1:available",
                                     as_of=first_due)[0].balance == Decimal("90.00")
    assert projector.queries.balance(
        "freelancer:f1:available", as_of=first_due + timedelta(days=1))[0].balance == Decimal(
        "270.00")


def test_a_refund_returns_the_marketplace_fee_paid_on_that_escrow_not_an_average(
        app, projector, clock):
    # 2026: card pays 5%, a US bank account 3%
    cid, (card, _bank) = funded(app, ("100.00", "100.00"),
                               [PaymentMethod.CARD, PaymentMethod.US_BANK])
    app.approve_milestone(contract_id=cid, milestone_id=card, actor="c1")
    ended = app.end_contract(contract_id=cid, by=Party.CLIENT, pay=usd("0"), actor="c1")
    approved = app.approve_refund_request(
        contract_id=cid, request_id=ended.response["refund_request_id"], actor="f1")
    assert approved.response["marketplace_fee_refunded"]["amount"] == "3.00"
    assert balance(projector, "revenue:marketplace_fee") == Decimal("5.00")


def test_carried_escrow_carries_its_marketplace_fee_to_the_next_milestone(
        app, projector, clock):
    cid, (m1,) = funded(app, ("500.00",))  # fee 25.00
    app.approve_milestone(contract_id=cid, milestone_id=m1, actor="c1", amount=usd("200.00"))
    m2 = app.add_milestone(contract_id=cid, title="m2", amount=usd("400.00"),
                           actor="t").response["milestone_id"]
    funding = app.fund_milestone(contract_id=cid, milestone_id=m2, actor="c1").response
    assert funding["carried_in"]["amount"] == "300.00"
    assert funding["charged"]["amount"] == "100.00"
    assert funding["marketplace_fee"]["amount"] == "5.00"
    # 15.00 of fee came with the carried 300.00, 5.00 with the new 100.00
    assert app.contract(cid).milestone(m2).fee_held == usd("20.00")
    app.end_contract(contract_id=cid, by=Party.FREELANCER, pay=None, actor="f1")
    assert balance(projector, "revenue:marketplace_fee") == Decimal("10.00")
    assert projector.queries.trial_balance() == {"USD": Decimal("0.00")}
