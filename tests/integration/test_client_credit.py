"""Refunds kept as client credit, and credit spent on funding, on both stores.

2026-03-02, per-contract era (domain.md; ``domain/fees/schedule.py``):
- a $500.00 milestone by card is charged $534.95: $25.00 marketplace fee (5%)
  and a $9.95 initiation fee (first payments from $500.00 to $1,999.99);
- the client ends paying none with ``refund_to=client_credit`` and the
  freelancer approves: the escrow refund returns $500.00 with the $25.00
  marketplace fee paid on it (our refund policy), and the contract ends with
  nothing released, so the $9.95 initiation fee is returned too. All of it
  follows the client's choice: client credit $534.95, processor clearing
  untouched at $534.95 (the card is not refunded);
- a $400.00 milestone of a new contract funded from credit pays the card rate
  of the marketplace fee (5%, $20.00: only a US bank account is cheaper) and
  that contract's initiation fee ($4.95: first payment under $500.00), $424.95
  in all, leaving $110.00 of credit.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from domain.balances.client_credit import ClientCredit
from domain.contracts.escrow import RefundTo
from domain.contracts.terms import Party
from domain.errors import InsufficientFunds, InvalidInput
from domain.fees.methods import PaymentMethod
from entrypoints.scheduler import tick
from ledger.application import EscrowLedger
from ledger.settings import store_from_url
from projections.runner import ProjectionRunner
from reconciliation.replay import compare_with_projection
from tests.integration.support import balance, funded, usd

CLEARING = "processor:clearing"
CREDIT = "client:c1:credit"
MARKETPLACE = "revenue:marketplace_fee"
INITIATION = "revenue:initiation_fee"
PENDING = "freelancer:f1:pending"
CREDIT_FUNDING = [PaymentMethod.CLIENT_CREDIT]


def d(amount: str) -> Decimal:
    return Decimal(amount)


def credit_of(app: EscrowLedger, client_id: str = "c1") -> Decimal:
    """The ClientCredit aggregate's balance: it must equal the journal's."""
    credit = app.find(ClientCredit, ClientCredit.id_for(client_id))
    return credit.balance_in("USD").amount if credit is not None else d("0.00")


def assert_books(app: EscrowLedger, projector: ProjectionRunner) -> None:
    projector.catch_up()
    assert projector.queries.trial_balance() == {"USD": d("0.00")}
    report = compare_with_projection(app, projector.queries)
    assert report.ok, report
    assert credit_of(app) == balance(projector, CREDIT)


def kept_as_credit(app: EscrowLedger) -> str:
    """A $500.00 milestone by card, refunded as credit when the client ended paying none."""
    cid, _ = funded(app, ["500.00"])
    ended = app.end_contract(contract_id=cid, by=Party.CLIENT, pay="none", actor="c1",
                             refund_to=RefundTo.CLIENT_CREDIT).response
    assert ended["refund_requested"] == usd_json("500.00")
    approved = app.approve_refund_request(contract_id=cid, request_id=ended["refund_request_id"],
                                          actor="f1").response
    assert (approved["status"], approved["refund_to"], approved["refunded_to"]) == (
        "ended", "client_credit", CREDIT)
    assert (approved["refunded"], approved["marketplace_fee_refunded"]) == (
        usd_json("500.00"), usd_json("25.00"))
    return cid


def usd_json(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


def test_an_escrow_refund_kept_as_credit_is_spent_on_funding(app, projector):
    kept_as_credit(app)
    # 500.00 escrow + 25.00 marketplace fee + 9.95 initiation fee, all as credit
    assert balance(projector, CREDIT) == d("534.95")
    assert credit_of(app) == d("534.95")
    assert balance(projector, CLEARING) == d("534.95")  # the card was not refunded
    assert balance(projector, MARKETPLACE) == d("0.00")
    assert balance(projector, INITIATION) == d("0.00")

    cid2, [mid2] = funded(app, ["400.00"], methods=CREDIT_FUNDING)
    # 400.00 + 20.00 (5%, the card rate) + 4.95 initiation fee = 424.95 from credit
    assert balance(projector, CREDIT) == d("110.00")
    assert credit_of(app) == d("110.00")
    assert balance(projector, CLEARING) == d("534.95")
    assert balance(projector, MARKETPLACE) == d("20.00")
    assert balance(projector, f"escrow:{cid2}:{mid2}") == d("400.00")

    # a $200.00 milestone needs 210.00 (no initiation fee: the contract paid it): refused
    mid3 = app.add_milestone(contract_id=cid2, title="more", amount=usd("200.00"),
                             actor="c1").response["milestone_id"]
    position = app.position()
    with pytest.raises(InsufficientFunds):
        app.fund_milestone(contract_id=cid2, milestone_id=mid3, actor="c1",
                           payment_method=PaymentMethod.CLIENT_CREDIT)
    assert app.position() == position
    assert credit_of(app) == d("110.00")

    # $100.00 costs 105.00: exactly what credit allows, leaving 5.00
    mid4 = app.add_milestone(contract_id=cid2, title="less", amount=usd("100.00"),
                             actor="c1").response["milestone_id"]
    spent = app.fund_milestone(contract_id=cid2, milestone_id=mid4, actor="c1",
                               payment_method=PaymentMethod.CLIENT_CREDIT).response
    assert spent["charge"] == {
        "payment_id": spent["payment_id"], "amount": usd_json("100.00"),
        "marketplace_fee": usd_json("5.00"), "initiation_fee": usd_json("0.00"),
        "total": usd_json("105.00"), "payment_method": "client_credit"}
    assert balance(projector, CREDIT) == d("5.00")
    assert credit_of(app) == d("5.00")
    assert_books(app, projector)


def test_a_lapsed_refund_request_follows_the_clients_choice(app, projector, clock):
    cid, _ = funded(app, ["500.00"])
    app.end_contract(contract_id=cid, by=Party.CLIENT, pay="none", actor="c1",
                     refund_to=RefundTo.CLIENT_CREDIT)
    clock.advance(timedelta(days=7))
    tick(app, projector)
    assert app.contract(cid).status.value == "ended"
    assert balance(projector, CREDIT) == d("534.95")
    assert credit_of(app) == d("534.95")
    assert balance(projector, CLEARING) == d("534.95")
    assert_books(app, projector)


def test_the_default_still_refunds_the_card(app, projector):
    cid, _ = funded(app, ["500.00"])
    ended = app.end_contract(contract_id=cid, by=Party.CLIENT, pay="none", actor="c1")
    approved = app.approve_refund_request(contract_id=cid, request_id=ended.response[
        "refund_request_id"], actor="f1").response
    assert (approved["refund_to"], approved["refunded_to"]) == ("payment_method", CLEARING)
    assert balance(projector, CLEARING) == d("0.00")
    assert balance(projector, CREDIT) == d("0.00")
    assert credit_of(app) == d("0.00")
    assert_books(app, projector)


def test_a_freelancer_ending_can_return_the_escrow_as_credit(app, projector):
    cid, _ = funded(app, ["500.00"])
    app.end_contract(contract_id=cid, by=Party.FREELANCER, pay=None, actor="f1",
                     refund_to=RefundTo.CLIENT_CREDIT)
    assert balance(projector, CREDIT) == d("534.95")
    assert credit_of(app) == d("534.95")
    assert balance(projector, CLEARING) == d("534.95")
    assert_books(app, projector)


def test_a_disputes_refunded_part_follows_the_endings_choice(app, projector):
    # $1,000.00 by card: $50.00 marketplace fee, $9.95 initiation fee, $1,059.95 charged
    cid, _ = funded(app, ["1000.00"])
    ended = app.end_contract(contract_id=cid, by=Party.CLIENT, pay="none", actor="c1",
                             refund_to=RefundTo.CLIENT_CREDIT).response
    dispute_id = app.dispute_refund_request(contract_id=cid,
                                            request_id=ended["refund_request_id"],
                                            actor="f1").response["dispute_id"]
    app.respond_to_dispute(dispute_id=dispute_id, by=Party.CLIENT, actor="c1")
    app.propose_dispute_settlement(dispute_id=dispute_id, release=usd("600.00"), actor="med")
    app.accept_dispute_proposal(dispute_id=dispute_id, by=Party.CLIENT, actor="c1")
    app.accept_dispute_proposal(dispute_id=dispute_id, by=Party.FREELANCER, actor="f1")
    # 400.00 refunded with its 20.00 share of the fee (50.00 x 400/1,000), as credit;
    # 600.00 released (540.00 net), so the initiation fee is recognised, not returned
    assert balance(projector, CREDIT) == d("420.00")
    assert credit_of(app) == d("420.00")
    assert balance(projector, CLEARING) == d("1059.95")
    assert balance(projector, PENDING) == d("540.00")
    assert balance(projector, INITIATION) == d("9.95")
    assert_books(app, projector)


def test_a_freelancers_refund_can_be_kept_as_credit(app, projector):
    cid, [mid] = funded(app, ["500.00"])
    app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    assert balance(projector, PENDING) == d("450.00")
    refund = app.refund_client(contract_id=cid, amount=usd("100.00"), actor="f1",
                               refund_to=RefundTo.CLIENT_CREDIT).response
    assert (refund["refund_to"], refund["refunded_to"]) == ("client_credit", CREDIT)
    assert (refund["from_available"], refund["from_pending"]) == (
        usd_json("0.00"), usd_json("100.00"))
    assert balance(projector, PENDING) == d("350.00")
    assert balance(projector, CREDIT) == d("100.00")
    assert credit_of(app) == d("100.00")
    assert balance(projector, CLEARING) == d("534.95")
    # and it is spendable: a $90.00 milestone costs 90.00 + 4.50 + 0.99 = 95.49
    funded(app, ["90.00"], methods=CREDIT_FUNDING)
    assert balance(projector, CREDIT) == d("4.51")
    assert credit_of(app) == d("4.51")
    assert_books(app, projector)


def test_a_freelancers_refund_to_the_payment_method_still_goes_to_the_processor(app, projector):
    cid, [mid] = funded(app, ["500.00"])
    app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    refund = app.refund_client(contract_id=cid, amount=usd("100.00"), actor="f1").response
    assert (refund["refund_to"], refund["refunded_to"]) == ("payment_method", CLEARING)
    assert balance(projector, CLEARING) == d("434.95")
    assert credit_of(app) == d("0.00")
    assert_books(app, projector)


def test_an_hourly_contract_has_no_escrow_to_keep_as_credit(app):
    cid = app.open_contract(kind="hourly", client_id="c1", freelancer_id="f1", currency="USD",
                            hourly_rate=usd("40.00"), weekly_limit_hours=20,
                            actor="t").response["contract_id"]
    position = app.position()
    with pytest.raises(InvalidInput):
        app.end_contract(contract_id=cid, by=Party.CLIENT, pay=None, actor="c1",
                         refund_to=RefundTo.CLIENT_CREDIT)
    assert app.position() == position


def test_events_stored_before_refund_to_load_as_refunds_to_the_payment_method(
        app, projector, tmp_path):
    """Strip ``refund_to`` (and the class version) from every stored event that has it, as
    the code before this option wrote them: a fresh application still loads and replays."""
    cid, [mid] = funded(app, ["500.00"])
    app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    app.refund_client(contract_id=cid, amount=usd("10.00"), actor="f1")
    other, _ = funded(app, ["200.00"])
    ended = app.end_contract(contract_id=other, by=Party.CLIENT, pay="none", actor="c1")
    app.approve_refund_request(contract_id=other, request_id=ended.response["refund_request_id"],
                               actor="f1")
    stripped = 0
    old = []
    for n in app.recorder.select_notifications(start=1, limit=10_000):
        state = json.loads(n.state.decode())
        if "refund_to" in state:
            del state["refund_to"]
            state.pop("class_version", None)
            state.pop("feedback_rating", None)  # a later version's field, if present
            if n.topic.endswith("EscrowRefundRequested"):
                state.pop("feedback", None)
            stripped += 1
        old.append(StoredEvent(originator_id=n.originator_id,
                               originator_version=n.originator_version, topic=n.topic,
                               state=json.dumps(state).encode()))
    # ClientRefunded, EscrowRefundRequested, EscrowRefunded, InitiationFeeReturned
    assert stripped == 4
    replayed = EscrowLedger(store_from_url(f"sqlite:///{tmp_path / 'old.db'}").env)
    try:
        replayed.recorder.insert_events(old)
        ended_contract = replayed.contract(other)
        assert ended_contract.status.value == "ended"
        [request] = ended_contract.refund_requests.values()
        assert (request.refund_to, request.status) == ("payment_method", "approved")
        assert UUID(cid) == replayed.contract(cid).id
        assert [r.net for r in replayed.contract(cid).refunds] == [usd("10.00")]
    finally:
        replayed.close()
