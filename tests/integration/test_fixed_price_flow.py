"""The fixed-price flow through the application, on SQLite and PostgreSQL alike."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.contracts.terms import Party
from domain.errors import (
    ContractNotFound,
    IdempotencyKeyReused,
    InsufficientEscrow,
    MilestoneStateError,
    NotFunded,
)
from domain.fees.methods import PaymentMethod
from entrypoints.scheduler import tick
from reconciliation.replay import compare_with_projection
from tests.integration.support import balance, funded, usd


def open_funded(app, amount="500.00", method=PaymentMethod.CARD, **kw):
    cid, (mid,) = funded(app, (amount,), (method,), **kw)
    return cid, mid


def test_a_500_milestone_approved_in_2026_leaves_450_pending_and_the_fees_in_revenue(
        app, projector, clock):
    cid, mid = open_funded(app)
    app.submit_work(contract_id=cid, milestone_id=mid, actor="f1")
    result = app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    assert result.response["net"] == {"amount": "450.00", "currency": "USD"}
    assert balance(projector, "freelancer:f1:pending") == Decimal("450.00")
    assert balance(projector, "revenue:service_fee") == Decimal("50.00")
    assert balance(projector, "revenue:marketplace_fee") == Decimal("25.00")
    assert balance(projector, "revenue:initiation_fee") == Decimal("9.95")
    assert balance(projector, f"escrow:{cid}:{mid}") == Decimal("0.00")
    assert balance(projector, f"deferred:initiation_fee:{cid}") == Decimal("0.00")
    assert balance(projector, "processor:clearing") == Decimal("534.95")
    assert projector.queries.trial_balance() == {"USD": Decimal("0.00")}
    assert app.contract_view(cid)["escrow_balance"] == {"amount": "0.00", "currency": "USD"}


def test_pending_becomes_available_five_days_later_exactly_once(app, projector, clock):
    cid, mid = open_funded(app)
    app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    projector.catch_up()
    clock.advance(timedelta(days=4, hours=23))
    assert tick(app, projector) == []
    clock.advance(timedelta(hours=2))  # a late scheduler: 1 hour after the due time
    fired = tick(app, projector)
    assert [f.response["matured"] for f in fired] == [[{"amount": "450.00", "currency": "USD"}]]
    assert tick(app, projector) == []
    assert balance(projector, "freelancer:f1:pending") == Decimal("0.00")
    assert balance(projector, "freelancer:f1:available") == Decimal("450.00")
    # the maturity took effect at the due time, not when the scheduler ran
    due = datetime(2026, 3, 7, 9, tzinfo=UTC)
    as_of = projector.queries.balance("freelancer:f1:available", as_of=due)
    assert as_of[0].balance == Decimal("450.00")
    before = projector.queries.balance("freelancer:f1:available", as_of=due - timedelta(seconds=1))
    assert not before or before[0].balance == 0


def test_the_same_deadline_fired_twice_by_key_moves_money_once(app, projector, clock):
    cid, mid = open_funded(app)
    app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    clock.advance(timedelta(days=6))
    due = clock.now() - timedelta(days=1)
    first = app.release_matured_earnings(freelancer_id="f1", due_by=due, idempotency_key="d1")
    again = app.release_matured_earnings(freelancer_id="f1", due_by=due, idempotency_key="d1")
    assert again.replayed
    assert again.response == first.response
    assert balance(projector, "freelancer:f1:available") == Decimal("450.00")


def test_a_repeated_key_returns_the_first_answer_and_writes_nothing(app):
    first = app.open_contract(client_id="c1", freelancer_id="f1", currency="USD", actor="t",
                              idempotency_key="k")
    position = app.position()
    again = app.open_contract(client_id="c1", freelancer_id="f1", currency="USD", actor="t",
                              idempotency_key="k")
    assert again.replayed
    assert again.response == first.response
    assert app.position() == position
    # later writes do not change what the replay answers: it is the first answer, position too
    app.open_contract(client_id="c2", freelancer_id="f2", currency="USD", actor="t")
    later = app.open_contract(client_id="c1", freelancer_id="f1", currency="USD", actor="t",
                              idempotency_key="k")
    assert (later.response, later.position) == (first.response, first.position)


def test_a_key_reused_for_a_different_request_is_refused_and_writes_nothing(app):
    app.open_contract(client_id="c1", freelancer_id="f1", currency="USD", actor="t",
                      idempotency_key="k")
    position = app.position()
    with pytest.raises(IdempotencyKeyReused):
        app.open_contract(client_id="c1", freelancer_id="f2", currency="USD", actor="t",
                          idempotency_key="k")
    assert app.position() == position


def test_refused_commands_write_nothing(app):
    cid = app.open_contract(client_id="c1", freelancer_id="f1", currency="USD",
                            actor="t").response["contract_id"]
    mid = app.add_milestone(contract_id=cid, title="m", amount=usd("100.00"),
                            actor="t").response["milestone_id"]
    position = app.position()
    with pytest.raises(NotFunded):
        app.submit_work(contract_id=cid, milestone_id=mid, actor="f1", idempotency_key="a")
    with pytest.raises(ContractNotFound):
        app.submit_work(contract_id="not-a-uuid", milestone_id=mid, actor="f1")
    app.fund_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    position = app.position()
    with pytest.raises(InsufficientEscrow):
        app.end_contract(contract_id=cid, by=Party.CLIENT, pay=usd("100.01"), actor="c1")
    with pytest.raises(MilestoneStateError):
        app.request_changes(contract_id=cid, milestone_id=mid, note="", actor="c1")
    assert app.position() == position
    # the key of a refused command is free to use for the corrected command
    app.submit_work(contract_id=cid, milestone_id=mid, actor="f1", idempotency_key="a")


def test_a_600_first_payment_in_the_tiered_era_nets_490(app, clock):
    clock.set(datetime(2020, 1, 6, 12, tzinfo=UTC))
    cid, mid = open_funded(app, "600.00")
    result = app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    assert result.response["service_fee"]["amount"] == "110.00"
    assert result.response["net"]["amount"] == "490.00"
    assert result.response["service_fee_schedule"].endswith("tiered-2016-06-21")


def test_lifetime_billings_carry_across_contracts_of_one_relationship(app, clock):
    clock.set(datetime(2020, 1, 6, 12, tzinfo=UTC))
    cid, mid = open_funded(app, "600.00")
    app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    cid2, mid2 = open_funded(app, "100.00")
    result = app.approve_milestone(contract_id=cid2, milestone_id=mid2, actor="c1")
    assert result.response["service_fee"]["amount"] == "10.00"  # 10% tier: billings past $500


def test_a_per_contract_rate_of_15_percent_is_used(app):
    cid = app.open_contract(client_id="c1", freelancer_id="f1", currency="USD", actor="t",
                            service_fee_rate=Decimal("0.15")).response["contract_id"]
    mid = app.add_milestone(contract_id=cid, title="m", amount=usd("266.64"),
                            actor="t").response["milestone_id"]
    app.fund_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    result = app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    assert result.response["service_fee"]["amount"] == "40.00"  # 39.996 -> 40.00
    assert result.response["net"]["amount"] == "226.64"


def test_client_ends_paying_part_and_the_freelancer_approves_the_refund(app, projector):
    cid, _mid = open_funded(app, "500.00")
    ended = app.end_contract(contract_id=cid, by=Party.CLIENT, pay=usd("200.00"), actor="c1")
    assert ended.response["status"] == "ending"
    assert ended.response["refund_requested"]["amount"] == "300.00"
    rid = ended.response["refund_request_id"]
    approved = app.approve_refund_request(contract_id=cid, request_id=rid, actor="f1")
    assert approved.response["refunded"]["amount"] == "300.00"
    assert approved.response["marketplace_fee_refunded"]["amount"] == "15.00"
    assert balance(projector, "freelancer:f1:pending") == Decimal("180.00")
    assert balance(projector, "revenue:marketplace_fee") == Decimal("10.00")
    assert balance(projector, "revenue:initiation_fee") == Decimal("9.95")
    # 534.95 charged, 315.00 refunded
    assert balance(projector, "processor:clearing") == Decimal("219.95")
    assert projector.queries.trial_balance() == {"USD": Decimal("0.00")}


def test_freelancer_ending_an_unreleased_contract_returns_every_fee(app, projector):
    cid, _mid = open_funded(app, "250.00", method=PaymentMethod.US_BANK)
    app.end_contract(contract_id=cid, by=Party.FREELANCER, pay=None, actor="f1")
    assert balance(projector, "processor:clearing") == Decimal("0.00")
    assert balance(projector, "revenue:marketplace_fee") == Decimal("0.00")
    assert balance(projector, f"deferred:initiation_fee:{cid}") == Decimal("0.00")
    assert app.contract_view(cid)["status"] == "ended"


def test_the_projection_equals_a_fresh_replay(app, projector):
    cid, mid = open_funded(app)
    app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1", amount=usd("123.45"))
    projector.catch_up()
    report = compare_with_projection(app, projector.queries)
    assert report.ok, report
    assert report.accounts >= 6


def test_projection_catch_up_is_resumable_and_exactly_once(app, projector):
    open_funded(app)
    first = projector.catch_up()
    again = projector.catch_up()
    assert first == again == app.position()
    assert projector.queries.balance("processor:clearing")[0].balance == Decimal("534.95")


def test_concurrent_approvals_of_one_milestone_release_it_once(database_url, clock):
    import threading

    from ledger.application import EscrowLedger
    from ledger.settings import store_from_url

    env = store_from_url(database_url).env
    apps = [EscrowLedger(env, clock=clock) for _ in range(4)]
    cid, mid = open_funded(apps[0])
    outcomes: list[str] = []
    barrier = threading.Barrier(len(apps))

    def approve(a):
        barrier.wait()
        try:
            a.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
            outcomes.append("released")
        except MilestoneStateError:
            outcomes.append("refused")

    threads = [threading.Thread(target=approve, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused", "refused", "refused", "released"]
    assert apps[0].find_freelancer_balance("f1").pending_in("USD") == usd("450.00")
    for a in apps:
        a.close()


def test_funding_from_client_credit_with_no_credit_is_refused_and_writes_nothing(app):
    from domain.errors import InsufficientFunds

    cid = app.open_contract(client_id="c1", freelancer_id="f1", currency="USD",
                            actor="t").response["contract_id"]
    mid = app.add_milestone(contract_id=cid, title="m", amount=usd("50.00"),
                            actor="t").response["milestone_id"]
    position = app.position()
    with pytest.raises(InsufficientFunds):
        app.fund_milestone(contract_id=cid, milestone_id=mid, actor="c1",
                           payment_method=PaymentMethod.CLIENT_CREDIT)
    assert app.position() == position


def test_racing_requests_with_one_key_write_once(database_url, clock):
    import threading

    from ledger.application import EscrowLedger
    from ledger.settings import store_from_url

    env = store_from_url(database_url).env
    apps = [EscrowLedger(env, clock=clock) for _ in range(3)]
    results = []
    barrier = threading.Barrier(len(apps))

    def open_once(a):
        barrier.wait()
        results.append(a.open_contract(client_id="c1", freelancer_id="f1", currency="USD",
                                       actor="t", idempotency_key="same-key"))

    threads = [threading.Thread(target=open_once, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.response["contract_id"] for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert apps[0].position() == 4  # the contract, its relationship (started, joined), the key
    for a in apps:
        a.close()
