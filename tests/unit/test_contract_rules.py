"""The fixed-price contract's rules, with no database: decide, then look at events."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from domain.balances.freelancer_balance import FreelancerBalance
from domain.balances.relationship import Relationship
from domain.contracts.fixed_price import FixedPriceContract
from domain.contracts.milestone import MilestoneStatus
from domain.contracts.settlement import Parties, approve_milestone, end_contract
from domain.contracts.terms import Party
from domain.errors import (
    ContractNotActive,
    CurrencyMismatch,
    EscrowError,
    InsufficientEscrow,
    InvalidFeeRate,
    InvalidInput,
    MilestoneBelowMinimum,
    MilestoneNotFound,
    MilestoneStateError,
    NotFunded,
    RefundRequestStateError,
)
from domain.fees.methods import PaymentMethod
from domain.fees.schedule import DEFAULT_SCHEDULE as FEES
from domain.money import money

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


def usd(a: str):
    return money(a, "USD")


def new_parties(rate=None, at=AT) -> Parties:
    c = FixedPriceContract.open(contract_id=uuid4(), client_id="c1", freelancer_id="f1",
                                currency="USD", job_id=None, service_fee_rate=rate, at=at,
                                actor="t", fees=FEES)
    return Parties(contract=c, relationship=Relationship.start("c1", "f1", "USD", at),
                   balance=FreelancerBalance.register("f1", at))


def add(p: Parties, amount: str, fund=True, at=AT) -> str:
    mid = uuid4()
    p.contract.add_milestone(milestone_id=mid, title="m", amount=usd(amount), at=at, actor="t")
    if fund:
        p.contract.fund_milestone(milestone_id=str(mid), method=PaymentMethod.CARD, at=at,
                                  actor="t", fees=FEES)
    return str(mid)


def test_a_milestone_under_five_dollars_is_refused():
    p = new_parties()
    with pytest.raises(MilestoneBelowMinimum):
        add(p, "4.99", fund=False)
    add(p, "5.00", fund=False)


def test_a_milestone_in_another_currency_is_refused():
    p = new_parties()
    with pytest.raises(CurrencyMismatch):
        p.contract.add_milestone(milestone_id=uuid4(), title="m", amount=money("50", "EUR"),
                                 at=AT, actor="t")


def test_per_contract_rate_outside_zero_to_fifteen_percent_is_refused():
    with pytest.raises(InvalidFeeRate):
        new_parties(rate=Decimal("0.1501"))
    assert new_parties(rate=Decimal("0.15")).contract.service_fee_rate == Decimal("0.15")
    assert new_parties().contract.service_fee_rate == Decimal("0.10")


def test_party_ids_that_would_break_account_names_are_refused():
    with pytest.raises(InvalidInput):
        FixedPriceContract.open(contract_id=uuid4(), client_id="c:1", freelancer_id="f1",
                                currency="USD", job_id=None, service_fee_rate=None, at=AT,
                                actor="t", fees=FEES)


def test_funding_a_500_milestone_by_card_in_2026_charges_534_95():
    p = new_parties()
    mid = add(p, "500.00")
    funded = p.contract.pending_events[-1]
    assert isinstance(funded, FixedPriceContract.MilestoneFunded)
    assert funded.marketplace_fee.fee == usd("25.00")
    assert funded.initiation_fee.fee == usd("9.95")
    assert funded.entry.amount_for("processor:clearing") == Decimal("534.95")
    assert p.contract.milestone(mid).escrow == usd("500.00")


def test_the_initiation_fee_is_charged_once_per_contract():
    p = new_parties()
    add(p, "500.00")
    add(p, "300.00")
    second = p.contract.pending_events[-1]
    assert second.initiation_fee is None
    assert second.entry.amount_for("processor:clearing") == Decimal("315.00")


def test_funding_twice_is_refused():
    p = new_parties()
    mid = add(p, "100.00")
    with pytest.raises(EscrowError):
        p.contract.fund_milestone(milestone_id=mid, method=PaymentMethod.CARD, at=AT, actor="t",
                                  fees=FEES)


def test_work_cannot_be_submitted_before_funding():
    p = new_parties()
    mid = add(p, "100.00", fund=False)
    with pytest.raises(NotFunded):
        p.contract.submit_work(milestone_id=mid, at=AT, actor="f1")


def test_submission_starts_a_14_day_review_clock_and_changes_stop_it():
    p = new_parties()
    mid = add(p, "100.00")
    p.contract.submit_work(milestone_id=mid, at=AT, actor="f1")
    assert p.contract.milestone(mid).review_due_at == AT + timedelta(days=14)
    p.contract.request_changes(milestone_id=mid, note="bigger logo", at=AT, actor="c1")
    assert p.contract.milestone(mid).status is MilestoneStatus.CHANGES_REQUESTED
    assert p.contract.milestone(mid).review_due_at is None
    later = AT + timedelta(days=3)
    p.contract.submit_work(milestone_id=mid, at=later, actor="f1")
    assert p.contract.milestone(mid).review_due_at == later + timedelta(days=14)


def test_changes_can_be_requested_only_on_submitted_work():
    p = new_parties()
    mid = add(p, "100.00")
    with pytest.raises(MilestoneStateError):
        p.contract.request_changes(milestone_id=mid, note="", at=AT, actor="c1")


def test_unknown_milestones_are_named():
    p = new_parties()
    with pytest.raises(MilestoneNotFound):
        p.contract.submit_work(milestone_id=str(uuid4()), at=AT, actor="f1")


def test_full_approval_of_500_at_10_percent_leaves_450_pending_for_five_days():
    p = new_parties()
    mid = add(p, "500.00")
    released = approve_milestone(p, milestone_id=mid, amount=None, method=PaymentMethod.CARD,
                                 at=AT, actor="c1", fees=FEES)
    assert (released.gross, released.service_fee.fee, released.net) == (
        usd("500.00"), usd("50.00"), usd("450.00"))
    assert released.initiation_fee_recognised == usd("9.95")
    assert released.entry.amount_for("revenue:initiation_fee") == Decimal("-9.95")
    assert p.balance.pending_in("USD") == usd("450.00")
    assert p.balance.lots[0].available_at == AT + timedelta(days=5)
    assert p.relationship.lifetime_billings == usd("500.00")
    assert p.contract.escrow_balance() == usd("0.00")


def test_a_partial_release_carries_the_rest_to_the_next_milestone():
    p = new_parties()
    m1 = add(p, "500.00")
    approve_milestone(p, milestone_id=m1, amount=usd("200.00"), method=PaymentMethod.CARD,
                      at=AT, actor="c1", fees=FEES)
    assert p.contract.milestone(m1).escrow == usd("300.00")
    assert p.contract.milestone(m1).status is MilestoneStatus.RELEASED
    m2 = add(p, "400.00")
    funded = p.contract.pending_events[-1]
    assert funded.charged == usd("100.00")
    assert funded.marketplace_fee.fee == usd("5.00")
    assert funded.entry.amount_for(p.contract.escrow_account(m1)) == Decimal("300.00")
    assert p.contract.milestone(m2).escrow == usd("400.00")
    assert p.contract.milestone(m1).escrow == usd("0.00")


def test_approving_more_than_escrow_charges_the_difference_first():
    p = new_parties()
    mid = add(p, "100.00")
    released = approve_milestone(p, milestone_id=mid, amount=usd("150.00"),
                                 method=PaymentMethod.US_BANK, at=AT, actor="c1", fees=FEES)
    top_up = [e for e in p.contract.pending_events
              if isinstance(e, FixedPriceContract.MilestoneFunded)][-1]
    assert top_up.top_up
    assert top_up.charged == usd("50.00")
    assert top_up.marketplace_fee.fee == usd("1.50")  # 3% from a US bank account
    assert released.gross == usd("150.00")
    assert released.net == usd("135.00")


def test_a_release_can_never_exceed_escrow():
    p = new_parties()
    mid = add(p, "100.00")
    quote = FEES.service_fee(usd("100.01"), AT, prior_billings=usd("0"), top_tier_since=None,
                             contract_rate=Decimal("0.10"))
    with pytest.raises(InsufficientEscrow):
        p.contract.release(milestone_id=mid, gross=usd("100.01"), service_fee=quote,
                           available_at=AT, lot_id="x", reason="t", at=AT, actor="c1")


def test_releasing_a_released_milestone_is_refused():
    p = new_parties()
    mid = add(p, "100.00")
    approve_milestone(p, milestone_id=mid, amount=None, method=PaymentMethod.CARD, at=AT,
                      actor="c1", fees=FEES)
    with pytest.raises(MilestoneStateError):
        approve_milestone(p, milestone_id=mid, amount=None, method=PaymentMethod.CARD, at=AT,
                          actor="c1", fees=FEES)


def test_client_ending_with_part_paid_opens_a_refund_request_for_the_rest():
    p = new_parties()
    add(p, "500.00")
    rid = end_contract(p, by=Party.CLIENT, pay=usd("200.00"), refund_request_id="r1", at=AT,
                       actor="c1", fees=FEES, feedback=None)
    assert rid == "r1"
    assert p.contract.status.value == "ending"
    request = p.contract.refund_request("r1")
    assert request.total == usd("300.00")
    assert request.respond_by == AT + timedelta(days=7)
    assert p.balance.pending_in("USD") == usd("180.00")
    p.contract.approve_refund_request(request_id="r1", at=AT, actor="f1")
    refunded = [e for e in p.contract.pending_events
                if isinstance(e, FixedPriceContract.EscrowRefunded)][-1]
    # marketplace fee back in proportion: 25.00 x 300/500 = 15.00
    assert refunded.marketplace_fee_refunded == usd("15.00")
    assert refunded.entry.amount_for("processor:clearing") == Decimal("-315.00")
    assert p.contract.status.value == "ended"
    with pytest.raises(RefundRequestStateError):
        p.contract.approve_refund_request(request_id="r1", at=AT, actor="f1")


def test_client_ending_with_nothing_paid_returns_escrow_fee_and_initiation_fee():
    p = new_parties()
    add(p, "500.00")
    end_contract(p, by=Party.CLIENT, pay=usd("0"), refund_request_id="r1", at=AT, actor="c1",
                 fees=FEES, feedback=None)
    p.contract.approve_refund_request(request_id="r1", at=AT, actor="f1")
    returned = [e for e in p.contract.pending_events
                if isinstance(e, FixedPriceContract.InitiationFeeReturned)]
    assert returned[0].fee == usd("9.95")
    entries = [e.entry for e in p.contract.pending_events if getattr(e, "entry", None)]
    assert sum(en.amount_for("processor:clearing") for en in entries) == Decimal("0.00")


def test_paying_more_than_escrow_on_ending_is_refused():
    p = new_parties()
    add(p, "100.00")
    with pytest.raises(InsufficientEscrow):
        end_contract(p, by=Party.CLIENT, pay=usd("100.01"), refund_request_id="r", at=AT,
                     actor="c1", fees=FEES, feedback=None)


def test_freelancer_ending_returns_all_escrow_at_once():
    p = new_parties()
    add(p, "100.00")
    end_contract(p, by=Party.FREELANCER, pay=None, refund_request_id="r", at=AT, actor="f1",
                 fees=FEES, feedback=None)
    assert p.contract.status.value == "ended"
    assert p.contract.escrow_balance() == usd("0.00")
    with pytest.raises(ContractNotActive):
        add(p, "50.00", fund=False)


def test_the_initiation_fee_is_kept_when_something_was_released():
    p = new_parties()
    m1 = add(p, "100.00")
    add(p, "100.00")
    approve_milestone(p, milestone_id=m1, amount=None, method=PaymentMethod.CARD, at=AT,
                      actor="c1", fees=FEES)
    end_contract(p, by=Party.FREELANCER, pay=None, refund_request_id="r", at=AT, actor="f1",
                 fees=FEES, feedback=None)
    assert not [e for e in p.contract.pending_events
                if isinstance(e, FixedPriceContract.InitiationFeeReturned)]


def test_every_event_entry_balances():
    p = new_parties()
    m1 = add(p, "333.33")
    approve_milestone(p, milestone_id=m1, amount=usd("266.64"), method=PaymentMethod.CARD,
                      at=AT, actor="c1", fees=FEES)
    released = p.contract.pending_events[-1]
    assert released.service_fee.fee == usd("26.66")
    assert released.net == usd("239.98")
    for e in p.contract.pending_events:
        if getattr(e, "entry", None) is not None:
            assert sum(x.signed for x in e.entry.postings) == 0


def test_a_contract_in_a_currency_without_fee_figures_is_refused_when_opened():
    from domain.errors import UnsupportedCurrency

    with pytest.raises(UnsupportedCurrency):
        FixedPriceContract.open(contract_id=uuid4(), client_id="c1", freelancer_id="f1",
                                currency="EUR", job_id=None, service_fee_rate=None, at=AT,
                                actor="t", fees=FEES)


def test_the_domain_never_reads_the_wall_clock(monkeypatch):
    """Every event's time comes from the command; the library's clock is never asked."""
    from eventsourcing.domain import CanCreateTimestamp

    def no_clock() -> datetime:
        raise AssertionError("the domain read the wall clock")

    monkeypatch.setattr(CanCreateTimestamp, "create_timestamp", staticmethod(no_clock))
    p = new_parties()
    m1 = add(p, "500.00")
    add(p, "300.00")
    p.contract.submit_work(milestone_id=m1, at=AT, actor="f1")
    p.contract.request_changes(milestone_id=m1, note="n", at=AT, actor="c1")
    approve_milestone(p, milestone_id=m1, amount=usd("200.00"), method=PaymentMethod.CARD,
                      at=AT, actor="c1", fees=FEES)
    p.balance.mature(AT + timedelta(days=5))
    rid = end_contract(p, by=Party.CLIENT, pay=usd("50.00"), refund_request_id="r", at=AT,
                       actor="c1", fees=FEES, feedback=None)
    p.contract.approve_refund_request(request_id=rid, at=AT, actor="f1")
    for agg in (p.contract, p.relationship, p.balance):
        assert all(e.timestamp in (AT, AT + timedelta(days=5)) for e in agg.pending_events)


def test_a_milestone_above_one_billion_is_refused():
    from domain.errors import AmountTooLarge

    p = new_parties()
    with pytest.raises(AmountTooLarge):
        add(p, "1000000000.01", fund=False)
    add(p, "1000000000.00", fund=False)


def test_a_freelancer_cannot_choose_to_pay_all_on_ending():
    from domain.contracts.settlement import payment_on_end

    with pytest.raises(InvalidInput):
        payment_on_end(Party.FREELANCER, "all", "USD")
    assert payment_on_end(Party.CLIENT, "all", "USD") is None
    assert payment_on_end(Party.CLIENT, "none", "USD") == usd("0.00")
    assert payment_on_end(Party.FREELANCER, None, "USD") is None


@pytest.mark.parametrize("rate", ["1" * 39, "1e30", "-1", "0.15001", "NaN"])
def test_absurd_fee_rates_are_refused_by_name(rate):
    with pytest.raises(InvalidFeeRate):
        new_parties(rate=rate)


def test_a_negative_zero_fee_rate_is_stored_as_zero():
    assert str(new_parties(rate=Decimal("-0.00")).contract.service_fee_rate) == "0.00"
