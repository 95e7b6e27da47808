"""Fixed-price disputes through the application, on both stores, with exact figures.

A $1,000.00 milestone funded by card on 2026-03-02 (per-contract era: 10%
service fee, 5% marketplace fee = $50.00, initiation fee $9.95). The client ends
the contract paying nothing; the freelancer disputes the $1,000.00 refund
request. Every test ends with the books checked: trial balance zero, replay
equal to the projection.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from domain.contracts.terms import Party
from domain.errors import (
    ContractNotActive,
    DisputeOpen,
    DisputeStateError,
    InvalidInput,
    MilestoneStateError,
    RefundRequestStateError,
    WrongParty,
)
from entrypoints.scheduler import tick
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from projections.runner import ProjectionRunner
from tests.integration.support import balance, funded, usd

CLEARING = "processor:clearing"
MARKETPLACE = "revenue:marketplace_fee"
INITIATION = "revenue:initiation_fee"
SERVICE = "revenue:service_fee"
PENDING = "freelancer:f1:pending"
ARBITRATION = "arbitration:payable"
DAY = timedelta(days=1)


def d(amount: str) -> Decimal:
    return Decimal(amount)


def m(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


def disputed(app: EscrowLedger) -> tuple[str, str, str]:
    """The contract, its milestone, and the dispute of the refund request."""
    cid, [mid] = funded(app, ["1000.00"])
    ended = app.end_contract(contract_id=cid, by=Party.CLIENT, pay="none", actor="c1")
    request_id = ended.response["refund_request_id"]
    opened = app.dispute_refund_request(contract_id=cid, request_id=request_id, actor="f1")
    return cid, mid, opened.response["dispute_id"]


def escrow_dispute(cid: str) -> str:
    return f"escrow_dispute:{cid}"


def assert_books(app: EscrowLedger, projector: ProjectionRunner) -> None:
    from reconciliation.replay import compare_with_projection
    projector.catch_up()
    assert projector.queries.trial_balance() == {"USD": d("0.00")}
    report = compare_with_projection(app, projector.queries)
    assert report.ok, report


def to_arbitration(app: EscrowLedger, dispute_id: str) -> None:
    app.respond_to_dispute(dispute_id=dispute_id, by=Party.CLIENT, actor="c1")
    app.propose_dispute_settlement(dispute_id=dispute_id, release=usd("600.00"), actor="med")
    app.decline_dispute_proposal(dispute_id=dispute_id, by=Party.CLIENT, actor="c1")


def test_opening_freezes_the_escrow_and_stops_the_refund_clock(app, projector):
    cid, mid, dispute_id = disputed(app)
    view = app.dispute_view(dispute_id)
    assert view["stage"] == "awaiting_response"
    assert view["amount"] == m("1000.00")
    assert view["marketplace_fee_held"] == m("50.00")
    assert view["deadlines"] == [{"kind": "dispute_response",
                                  "due_at": "2026-03-07T09:00:00+00:00", "status": "running"}]
    assert balance(projector, escrow_dispute(cid)) == d("1000.00")
    assert balance(projector, f"escrow:{cid}:{mid}") == d("0.00")
    c = app.contract(cid)
    assert c.status.value == "ending"
    assert [r.status for r in c.refund_requests.values()] == ["disputed"]
    # the refund request can no longer be approved, the escrow no longer released
    [request_id] = c.refund_requests
    with pytest.raises(RefundRequestStateError):
        app.approve_refund_request(contract_id=cid, request_id=request_id, actor="f1")
    with pytest.raises(ContractNotActive):
        app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    assert_books(app, projector)


def test_mediation_releasing_600_leaves_540_pending_and_refunds_400_plus_20(app, projector):
    cid, _, dispute_id = disputed(app)
    app.respond_to_dispute(dispute_id=dispute_id, by=Party.CLIENT, actor="c1")
    app.propose_dispute_settlement(dispute_id=dispute_id, release=usd("600.00"), actor="med")
    first = app.accept_dispute_proposal(dispute_id=dispute_id, by=Party.FREELANCER, actor="f1")
    assert first.response["stage"] == "proposed"
    assert balance(projector, PENDING) == d("0.00")
    done = app.accept_dispute_proposal(dispute_id=dispute_id, by=Party.CLIENT, actor="c1")
    outcome = done.response["outcome"]
    assert done.response["stage"] == "resolved"
    assert outcome["kind"] == "mediation_accepted"
    assert outcome["released"] == m("600.00")
    assert outcome["service_fee"] == m("60.00")
    assert outcome["net"] == m("540.00")
    assert outcome["refunded"] == m("400.00")
    assert outcome["marketplace_fee_refunded"] == m("20.00")
    assert outcome["client_refund_total"] == m("420.00")
    assert outcome["initiation_fee_recognised"] == m("9.95")
    assert outcome["available_at"] == "2026-03-07T09:00:00+00:00"
    assert balance(projector, PENDING) == d("540.00")
    assert balance(projector, SERVICE) == d("60.00")
    assert balance(projector, MARKETPLACE) == d("30.00")
    assert balance(projector, INITIATION) == d("9.95")
    # charged 1,059.95, refunded 420.00
    assert balance(projector, CLEARING) == d("639.95")
    assert balance(projector, escrow_dispute(cid)) == d("0.00")
    assert app.contract(cid).status.value == "ended"
    assert_books(app, projector)


def test_neither_paying_arbitration_refunds_1000_plus_50_and_the_initiation_fee(
        app, projector, clock: FakeClock):
    cid, _, dispute_id = disputed(app)
    to_arbitration(app, dispute_id)
    view = app.dispute_view(dispute_id)
    assert view["stage"] == "arbitration"
    due = datetime.fromisoformat(view["deadlines"][-1]["due_at"])
    assert view["deadlines"][-1]["kind"] == "arbitration_fee"
    clock.set(due - timedelta(seconds=1))
    assert tick(app, projector) == []
    clock.set(due)
    [fired] = tick(app, projector)
    assert fired.response["decided"] == "arbitration_unpaid"
    outcome = app.dispute_view(dispute_id)["outcome"]
    assert outcome["refunded"] == m("1000.00")
    assert outcome["marketplace_fee_refunded"] == m("50.00")
    assert outcome["released"] == m("0.00")
    assert balance(projector, CLEARING) == d("0.00")  # 1,059.95 charged, all of it back
    assert balance(projector, MARKETPLACE) == d("0.00")
    assert balance(projector, INITIATION) == d("0.00")
    assert balance(projector, f"deferred:initiation_fee:{cid}") == d("0.00")
    assert app.contract(cid).status.value == "ended"
    assert_books(app, projector)


def test_only_the_freelancer_paying_releases_net_and_keeps_291_payable(
        app, projector, clock: FakeClock):
    _, _, dispute_id = disputed(app)
    to_arbitration(app, dispute_id)
    paid = app.pay_arbitration_fee(dispute_id=dispute_id, by=Party.FREELANCER, actor="f1")
    assert paid.response["arbitration"]["fees_paid_by"] == ["freelancer"]
    with pytest.raises(DisputeStateError):
        app.pay_arbitration_fee(dispute_id=dispute_id, by=Party.FREELANCER, actor="f1")
    clock.set(clock.now() + 7 * DAY)
    [fired] = tick(app, projector)
    assert fired.response["decided"] == "only_freelancer_paid"
    outcome = app.dispute_view(dispute_id)["outcome"]
    assert (outcome["released"], outcome["service_fee"], outcome["net"]) == (
        m("1000.00"), m("100.00"), m("900.00"))
    assert outcome["refunded"] == m("0.00")
    assert balance(projector, ARBITRATION) == d("291.00")
    assert balance(projector, PENDING) == d("900.00")
    assert balance(projector, INITIATION) == d("9.95")
    assert_books(app, projector)


def test_only_the_client_paying_refunds_the_client(app, projector, clock: FakeClock):
    _, _, dispute_id = disputed(app)
    to_arbitration(app, dispute_id)
    app.pay_arbitration_fee(dispute_id=dispute_id, by=Party.CLIENT, actor="c1")
    clock.set(clock.now() + 7 * DAY)
    tick(app, projector)
    outcome = app.dispute_view(dispute_id)["outcome"]
    assert outcome["kind"] == "only_client_paid"
    assert outcome["client_refund_total"] == m("1050.00")
    assert balance(projector, ARBITRATION) == d("291.00")
    assert_books(app, projector)


def test_both_paying_applies_the_ruling_and_keeps_582_payable(app, projector):
    _, _, dispute_id = disputed(app)
    to_arbitration(app, dispute_id)
    with pytest.raises(DisputeStateError):
        app.rule_on_dispute(dispute_id=dispute_id, release=usd("250.00"), actor="arb")
    app.pay_arbitration_fee(dispute_id=dispute_id, by=Party.CLIENT, actor="c1")
    both = app.pay_arbitration_fee(dispute_id=dispute_id, by=Party.FREELANCER, actor="f1")
    assert both.response["stage"] == "awaiting_ruling"
    with pytest.raises(InvalidInput):
        app.rule_on_dispute(dispute_id=dispute_id, release=usd("1000.01"), actor="arb")
    ruled = app.rule_on_dispute(dispute_id=dispute_id, release=usd("250.00"), actor="arb")
    outcome = ruled.response["outcome"]
    # 10% of 250.00 = 25.00; 750.00 back with 50.00 x 750/1000 = 37.50 of the fee
    assert (outcome["net"], outcome["service_fee"]) == (m("225.00"), m("25.00"))
    assert (outcome["refunded"], outcome["marketplace_fee_refunded"]) == (
        m("750.00"), m("37.50"))
    assert balance(projector, ARBITRATION) == d("582.00")
    assert balance(projector, PENDING) == d("225.00")
    assert_books(app, projector)


def test_client_silence_releases_the_escrow_as_an_ordinary_release(
        app, projector, clock: FakeClock):
    _, _, dispute_id = disputed(app)
    clock.set(clock.now() + 5 * DAY)
    [fired] = tick(app, projector)
    assert fired.response["decided"] == "client_silent"
    assert app.dispute_view(dispute_id)["outcome"]["reason"].startswith("the client did not")
    assert balance(projector, PENDING) == d("900.00")
    clock.set(clock.now() + 5 * DAY)
    tick(app, projector)
    assert balance(projector, PENDING) == d("0.00")
    assert balance(projector, "freelancer:f1:available") == d("900.00")
    assert_books(app, projector)


def test_lapsed_mediation_goes_to_arbitration(app, projector, clock: FakeClock):
    _, _, dispute_id = disputed(app)
    app.respond_to_dispute(dispute_id=dispute_id, by=Party.CLIENT, actor="c1")
    clock.set(clock.now() + 2 * DAY)
    tick(app, projector)
    view = app.dispute_view(dispute_id)
    assert view["stage"] == "arbitration"
    assert view["arbitration"]["reason"].startswith("no mediation proposal")
    assert [c["kind"] for c in view["deadlines"]] == [
        "dispute_response", "mediation_proposal", "arbitration_fee"]
    assert_books(app, projector)


def test_wrong_party_and_wrong_stage_are_refused_and_write_nothing(app, projector):
    _, _, dispute_id = disputed(app)
    before = app.position()
    with pytest.raises(WrongParty):
        app.respond_to_dispute(dispute_id=dispute_id, by=Party.FREELANCER, actor="f1")
    with pytest.raises(DisputeStateError):
        app.propose_dispute_settlement(dispute_id=dispute_id, release=usd("1.00"), actor="m")
    with pytest.raises(DisputeStateError):
        app.accept_dispute_proposal(dispute_id=dispute_id, by=Party.CLIENT, actor="c1")
    with pytest.raises(DisputeStateError):
        app.pay_arbitration_fee(dispute_id=dispute_id, by=Party.CLIENT, actor="c1")
    assert app.position() == before


def test_a_milestone_with_changes_requested_can_be_disputed_and_not_released(
        app, projector):
    cid, [mid, other] = funded(app, ["300.00", "200.00"])
    with pytest.raises(MilestoneStateError):
        app.dispute_milestone(contract_id=cid, milestone_id=mid, actor="f1")
    app.submit_work(contract_id=cid, milestone_id=mid, actor="f1")
    app.request_changes(contract_id=cid, milestone_id=mid, note="no", actor="c1")
    opened = app.dispute_milestone(contract_id=cid, milestone_id=mid, actor="f1")
    assert opened.response["origin"] == "milestone"
    assert opened.response["amount"] == m("300.00")
    with pytest.raises(MilestoneStateError):
        app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    with pytest.raises(DisputeOpen):
        app.end_contract(contract_id=cid, by=Party.FREELANCER, pay=None, actor="f1")
    # the other milestone is untouched by the dispute
    app.approve_milestone(contract_id=cid, milestone_id=other, actor="c1")
    with pytest.raises(DisputeOpen):
        app.dispute_milestone(contract_id=cid, milestone_id=mid, actor="f1")
    assert_books(app, projector)


def test_ending_with_part_paid_lets_one_milestone_be_disputed(app, projector, clock):
    cid, [a, b] = funded(app, ["300.00", "200.00"])
    ended = app.end_contract(contract_id=cid, by=Party.CLIENT, pay="none", actor="c1")
    assert ended.response["refund_requested"] == m("500.00")
    app.dispute_milestone(contract_id=cid, milestone_id=a, actor="f1")
    c = app.contract(cid)
    [r] = c.refund_requests.values()
    assert (r.status, r.total) == ("pending", usd("200.00"))
    # day 5: the client's silence releases the disputed 300.00; the contract still ends
    clock.set(clock.now() + 5 * DAY)
    tick(app, projector)
    assert app.contract(cid).status.value == "ending"
    assert balance(projector, PENDING) == d("270.00")
    # day 7: the rest of the request lapses: 200.00 + 10.00 of fee back, and it ends
    clock.set(clock.now() + 2 * DAY)
    tick(app, projector)
    assert app.contract(cid).status.value == "ended"
    assert balance(projector, f"escrow:{cid}:{b}") == d("0.00")
    assert balance(projector, escrow_dispute(cid)) == d("0.00")
    assert balance(projector, MARKETPLACE) == d("15.00")
    assert_books(app, projector)
