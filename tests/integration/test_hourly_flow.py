"""Worked hourly weeks through the application, on both stores, with exact figures.

The clock starts Monday 2026-03-02 09:00 UTC (per-contract era, 10% service fee
by default, 5% marketplace fee by card). The week of 2026-03-02 is invoiced
Monday 2026-03-09 12:00, its review ends Saturday 2026-03-14 00:00 and its money
is available Thursday 2026-03-19 00:00. Every test ends with the books checked:
the trial balance is zero and a fresh replay equals the projection.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.balances.relationship import Relationship
from domain.contracts.terms import Party
from domain.deadlines import epoch_us
from domain.errors import (
    ContractNotActive,
    InsufficientFunds,
    InvalidInput,
    WeekClosed,
    WindowClosed,
)
from domain.fees.methods import PaymentMethod
from entrypoints.scheduler import tick
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from projections.runner import ProjectionRunner
from reconciliation.replay import compare_with_projection
from tests.integration.support import balance, usd

MON = date(2026, 3, 2)
NEXT_MON = date(2026, 3, 9)
INVOICE_AT = datetime(2026, 3, 9, 12, tzinfo=UTC)
REVIEW_END = datetime(2026, 3, 14, tzinfo=UTC)
AVAILABLE_AT = datetime(2026, 3, 19, tzinfo=UTC)
SECOND = timedelta(seconds=1)

CLEARING = "processor:clearing"
MARKETPLACE = "revenue:marketplace_fee"
INITIATION = "revenue:initiation_fee"
SERVICE = "revenue:service_fee"
PENDING = "freelancer:f1:pending"
AVAILABLE = "freelancer:f1:available"


def d(amount: str) -> Decimal:
    return Decimal(amount)


def m(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


def at(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def review(cid: str, week: date = MON) -> str:
    return f"hourly_review:{cid}:{week.isoformat()}"


def open_hourly(app: EscrowLedger, rate: str = "40.00", limit: int = 20, manual: bool = True,
                client: str = "c1", freelancer: str = "f1") -> str:
    return app.open_contract(kind="hourly", client_id=client, freelancer_id=freelancer,
                             currency="USD", hourly_rate=usd(rate), weekly_limit_hours=limit,
                             manual_time_allowed=manual, actor="t").response["contract_id"]


def move_to(clock: FakeClock, when: datetime) -> None:
    assert when >= clock.now(), f"the clock never goes back ({clock.now()} -> {when})"
    clock.set(when)


def log_week(app: EscrowLedger, clock: FakeClock, cid: str, minutes: int = 300,
             days: int = 5, week: date = MON) -> None:
    """``minutes`` on each of the week's first ``days`` days, logged that evening."""
    for i in range(days):
        day = week + timedelta(days=i)
        if at(day, 18) > clock.now():
            move_to(clock, at(day, 18))
        app.log_time(contract_id=cid, worked_on=day, minutes=minutes, manual=False, actor="f1")


def tick_at(app: EscrowLedger, projector: ProjectionRunner, clock: FakeClock,
            when: datetime) -> list[dict]:
    move_to(clock, when)
    return [f.response for f in tick(app, projector)]


def as_of(projector: ProjectionRunner, account: str, when: datetime) -> Decimal:
    projector.catch_up()
    found = projector.queries.balance(account, as_of=when)
    return found[0].balance if found else Decimal("0.00")


def assert_books(app: EscrowLedger, projector: ProjectionRunner, *, moved: bool = True) -> None:
    projector.catch_up()
    assert projector.queries.trial_balance() == ({"USD": d("0.00")} if moved else {})
    report = compare_with_projection(app, projector.queries)
    assert report.ok, report


def week_800(app: EscrowLedger, projector: ProjectionRunner, clock: FakeClock) -> str:
    """$40/h, 20 h limit, 25 h logged (5 h a day, Monday to Friday), invoiced $800."""
    cid = open_hourly(app)
    log_week(app, clock, cid)
    [invoiced] = [f for f in tick_at(app, projector, clock, INVOICE_AT) if "invoiced" in f]
    assert invoiced["amount"] == m("800.00")
    return cid


def relationship(app: EscrowLedger, client: str = "c1", freelancer: str = "f1"):
    return app.find(Relationship, Relationship.id_for(client, freelancer, "USD"))


# ---- the worked week ------------------------------------------------------------------


def test_an_800_week_is_charged_840_plus_initiation_and_pays_720_on_schedule(
        app, projector, clock):
    cid = open_hourly(app)
    log_week(app, clock, cid)
    assert tick_at(app, projector, clock, INVOICE_AT - SECOND) == []

    [invoiced] = tick_at(app, projector, clock, INVOICE_AT)
    assert invoiced.pop("payment_id").startswith(f"pay_{cid.replace('-', '')}_")
    assert invoiced == {"contract_id": cid, "week_start": "2026-03-02", "invoiced": True,
                        "minutes_logged": 1500, "minutes_billed": 1200,
                        "amount": m("800.00"), "marketplace_fee": m("40.00")}
    assert balance(projector, review(cid)) == d("800.00")
    assert balance(projector, CLEARING) == d("849.95")       # 800 + 40 + 9.95
    assert balance(projector, MARKETPLACE) == d("40.00")
    assert balance(projector, INITIATION) == d("9.95")
    assert as_of(projector, review(cid), INVOICE_AT - SECOND) == d("0.00")
    assert as_of(projector, CLEARING, INVOICE_AT - SECOND) == d("0.00")
    assert as_of(projector, review(cid), INVOICE_AT) == d("800.00")

    assert tick_at(app, projector, clock, REVIEW_END - SECOND) == []
    [released] = tick_at(app, projector, clock, REVIEW_END)
    assert released["paid"] is True
    assert released["net"] == m("720.00")
    assert balance(projector, review(cid)) == d("0.00")
    assert balance(projector, PENDING) == d("720.00")
    assert balance(projector, SERVICE) == d("80.00")
    assert as_of(projector, review(cid), REVIEW_END - SECOND) == d("800.00")
    assert as_of(projector, PENDING, REVIEW_END - SECOND) == d("0.00")
    assert as_of(projector, PENDING, REVIEW_END) == d("720.00")

    assert tick_at(app, projector, clock, AVAILABLE_AT - SECOND) == []
    [matured] = tick_at(app, projector, clock, AVAILABLE_AT)
    assert matured["matured"] == [m("720.00")]
    assert balance(projector, PENDING) == d("0.00")
    assert balance(projector, AVAILABLE) == d("720.00")
    assert as_of(projector, AVAILABLE, AVAILABLE_AT - SECOND) == d("0.00")
    assert as_of(projector, AVAILABLE, AVAILABLE_AT) == d("720.00")

    [week] = app.invoices(cid)["invoices"]
    assert week["minutes_logged"] == 1500
    assert week["minutes_billed"] == 1200
    assert (week["amount"], week["marketplace_fee"], week["service_fee"]) == (
        m("800.00"), m("40.00"), m("80.00"))
    assert week["review_ends_at"] == REVIEW_END.isoformat()
    assert week["available_at"] == AVAILABLE_AT.isoformat()
    assert relationship(app).lifetime_billings == usd("800.00")
    assert tick_at(app, projector, clock, AVAILABLE_AT + timedelta(days=30)) == []
    assert_books(app, projector)


def test_the_invoice_reads_available_once_its_security_period_is_over(app, projector, clock):
    cid = week_800(app, projector, clock)
    tick_at(app, projector, clock, REVIEW_END)
    assert app.invoices(cid)["invoices"][0]["status"] == "pending"
    tick_at(app, projector, clock, AVAILABLE_AT)
    assert balance(projector, AVAILABLE) == d("720.00")
    assert app.invoices(cid)["invoices"][0]["status"] == "available"
    assert_books(app, projector)


def test_a_limit_decrease_mid_week_applies_from_the_next_week_only(app, projector, clock):
    cid = open_hourly(app, limit=20)
    move_to(clock, at(MON + timedelta(days=2), 10))
    changed = app.change_weekly_limit(contract_id=cid, hours=10, actor="c1").response
    assert changed["effective_from"] == at(NEXT_MON).isoformat()
    log_week(app, clock, cid, 300)                       # 25 h
    [first] = tick_at(app, projector, clock, INVOICE_AT)
    assert (first["minutes_billed"], first["amount"]) == (1200, m("800.00"))

    log_week(app, clock, cid, 180, week=NEXT_MON)        # 15 h, 10 h billable
    fired = tick_at(app, projector, clock, INVOICE_AT + timedelta(days=7))
    [second] = [f for f in fired if f.get("week_start") == "2026-03-09" and "invoiced" in f]
    assert (second["minutes_logged"], second["minutes_billed"]) == (900, 600)
    assert (second["amount"], second["marketplace_fee"]) == (m("400.00"), m("20.00"))
    assert balance(projector, CLEARING) == d("1269.95")  # 849.95 + 420.00, no second init fee
    assert_books(app, projector)


def test_a_limit_increase_mid_week_counts_the_hours_already_logged(app, projector, clock):
    cid = open_hourly(app, limit=20)
    log_week(app, clock, cid, 300)
    app.change_weekly_limit(contract_id=cid, hours=25, actor="c1")
    [invoiced] = tick_at(app, projector, clock, INVOICE_AT)
    assert (invoiced["minutes_billed"], invoiced["amount"]) == (1500, m("1000.00"))
    assert_books(app, projector)


# ---- hourly disputes ----------------------------------------------------------------------


def dispute_5_hours(app: EscrowLedger, projector: ProjectionRunner, clock: FakeClock,
                    cid: str) -> str:
    move_to(clock, at(NEXT_MON + timedelta(days=1), 10))
    opened = app.open_hourly_dispute(contract_id=cid, week_start=MON, minutes=300,
                                     actor="c1").response
    assert (opened["amount"], opened["marketplace_fee"]) == (m("200.00"), m("10.00"))
    assert opened["respond_by"] == at(NEXT_MON + timedelta(days=4), 10).isoformat()
    assert balance(projector, review(cid)) == d("600.00")
    assert balance(projector, f"escrow_dispute:{cid}") == d("200.00")
    return opened["dispute_id"]


def test_a_5_hour_dispute_accepted_refunds_200_and_its_10_fee_and_pays_540_net(
        app, projector, clock):
    cid = week_800(app, projector, clock)
    dispute_id = dispute_5_hours(app, projector, clock, cid)
    position = app.position()
    with pytest.raises(ContractNotActive):  # the dispute paused the contract
        app.log_time(contract_id=cid, worked_on=clock.now().date(), minutes=60, manual=False,
                     actor="f1")
    assert app.position() == position
    assert app.hourly_contract(cid).limit_at(at(date(2026, 3, 16))) == 0  # from next Monday

    move_to(clock, at(NEXT_MON + timedelta(days=2), 9))
    accepted = app.settle_hourly_dispute(contract_id=cid, dispute_id=dispute_id,
                                         failed_minutes=None, actor="f1").response
    assert (accepted["refunded"], accepted["marketplace_fee_refunded"]) == (
        m("200.00"), m("10.00"))
    assert balance(projector, f"escrow_dispute:{cid}") == d("0.00")
    assert balance(projector, CLEARING) == d("639.95")   # 849.95 - 210.00
    assert balance(projector, MARKETPLACE) == d("30.00")
    assert balance(projector, INITIATION) == d("9.95")   # the initiation fee stays

    [released] = tick_at(app, projector, clock, REVIEW_END)
    assert released["net"] == m("540.00")
    assert balance(projector, PENDING) == d("540.00")
    assert balance(projector, SERVICE) == d("60.00")     # none on the refunded minutes
    [week] = app.invoices(cid)["invoices"]
    assert (week["minutes_disputed"], week["refunded"], week["released"]) == (
        300, m("200.00"), m("600.00"))
    app.resume_contract(contract_id=cid, actor="c1")
    assert app.contract_view(cid)["hourly"]["weekly_limit_hours"] == 0
    assert_books(app, projector)


def test_a_dispute_the_freelancer_leaves_unanswered_for_3_days_is_accepted(
        app, projector, clock):
    cid = week_800(app, projector, clock)
    dispute_5_hours(app, projector, clock, cid)
    respond_by = at(NEXT_MON + timedelta(days=4), 10)
    assert tick_at(app, projector, clock, respond_by - SECOND) == []
    [silence] = tick_at(app, projector, clock, respond_by)
    assert silence["settled"] is True
    assert silence["outcome"].startswith("accepted by silence")
    assert balance(projector, CLEARING) == d("639.95")
    assert as_of(projector, f"escrow_dispute:{cid}", respond_by - SECOND) == d("200.00")
    assert as_of(projector, f"escrow_dispute:{cid}", respond_by) == d("0.00")
    tick_at(app, projector, clock, REVIEW_END)
    assert balance(projector, PENDING) == d("540.00")
    assert_books(app, projector)


def test_a_declined_dispute_resolved_in_the_review_refunds_the_failed_minutes_only(
        app, projector, clock):
    cid = week_800(app, projector, clock)
    dispute_id = dispute_5_hours(app, projector, clock, cid)
    move_to(clock, at(NEXT_MON + timedelta(days=2), 9))
    app.decline_hourly_dispute(contract_id=cid, dispute_id=dispute_id, actor="f1")
    # declined: the 3-day silence no longer accepts it
    assert tick_at(app, projector, clock, at(NEXT_MON + timedelta(days=4), 10)) == []
    resolved = app.settle_hourly_dispute(contract_id=cid, dispute_id=dispute_id,
                                         failed_minutes=120, actor="review").response
    # 120 of 300 disputed minutes fail: 200 x 120/300 = 80.00, its fee 4.00
    assert (resolved["refunded"], resolved["marketplace_fee_refunded"]) == (
        m("80.00"), m("4.00"))
    assert balance(projector, review(cid)) == d("720.00")   # the rest went back to review
    assert balance(projector, f"escrow_dispute:{cid}") == d("0.00")
    [released] = tick_at(app, projector, clock, REVIEW_END)
    assert released["net"] == m("648.00")
    assert balance(projector, SERVICE) == d("72.00")
    assert balance(projector, CLEARING) == d("765.95")       # 849.95 - 84.00
    assert balance(projector, MARKETPLACE) == d("36.00")
    assert_books(app, projector)


def test_a_dispute_resolved_after_the_review_pays_its_rest_at_once(app, projector, clock):
    cid = week_800(app, projector, clock)
    dispute_id = dispute_5_hours(app, projector, clock, cid)
    move_to(clock, at(NEXT_MON + timedelta(days=2), 9))
    app.decline_hourly_dispute(contract_id=cid, dispute_id=dispute_id, actor="f1")
    [released] = tick_at(app, projector, clock, REVIEW_END)
    assert released["net"] == m("540.00")
    assert balance(projector, f"escrow_dispute:{cid}") == d("200.00")  # still held

    resolved_at = at(date(2026, 3, 16), 10)
    move_to(clock, resolved_at)
    resolved = app.settle_hourly_dispute(contract_id=cid, dispute_id=dispute_id,
                                         failed_minutes=120, actor="review").response
    assert resolved["refunded"] == m("80.00")
    assert balance(projector, f"escrow_dispute:{cid}") == d("0.00")
    assert balance(projector, PENDING) == d("648.00")   # 540 + 108 (120 less its 12 fee)
    assert balance(projector, SERVICE) == d("72.00")
    tick_at(app, projector, clock, AVAILABLE_AT)
    assert balance(projector, AVAILABLE) == d("540.00")
    tick_at(app, projector, clock, resolved_at + timedelta(days=5))
    assert balance(projector, AVAILABLE) == d("648.00")
    assert_books(app, projector)


# ---- weeks that bill nothing ---------------------------------------------------------------


def test_a_week_under_a_zero_limit_makes_no_invoice_and_moves_no_money(app, projector, clock):
    cid = open_hourly(app, limit=0)
    log_week(app, clock, cid, 300, days=2)
    [closed] = tick_at(app, projector, clock, INVOICE_AT)
    assert closed["invoiced"] is False
    assert app.invoices(cid)["invoices"] == []
    assert tick_at(app, projector, clock, AVAILABLE_AT) == []
    assert_books(app, projector, moved=False)


def test_a_week_whose_time_was_all_deleted_makes_no_invoice(app, projector, clock):
    cid = open_hourly(app)
    entry = app.log_time(contract_id=cid, worked_on=MON, minutes=120, manual=False,
                         actor="f1").response["entry_id"]
    app.delete_time_entry(contract_id=cid, entry_id=entry, actor="f1")
    assert tick_at(app, projector, clock, INVOICE_AT) == []
    assert app.invoices(cid)["invoices"] == []
    assert_books(app, projector, moved=False)


# ---- ending ---------------------------------------------------------------------------------


def test_ending_a_contract_still_invoices_the_open_weeks_time_next_monday_noon(
        app, projector, clock):
    cid = open_hourly(app)
    log_week(app, clock, cid, 300, days=2)               # 10 h
    move_to(clock, at(MON + timedelta(days=2), 9))
    app.end_contract(contract_id=cid, by=Party.CLIENT, pay=None, actor="c1")
    position = app.position()
    with pytest.raises(ContractNotActive):
        app.log_time(contract_id=cid, worked_on=clock.now().date(), minutes=60, manual=False,
                     actor="f1")
    assert app.position() == position
    assert tick_at(app, projector, clock, INVOICE_AT - SECOND) == []
    [invoiced] = tick_at(app, projector, clock, INVOICE_AT)
    assert (invoiced["minutes_billed"], invoiced["amount"], invoiced["marketplace_fee"]) == (
        600, m("400.00"), m("20.00"))
    assert balance(projector, INITIATION) == d("4.95")   # first payment under $500
    tick_at(app, projector, clock, REVIEW_END)
    assert balance(projector, PENDING) == d("360.00")
    assert_books(app, projector)


# ---- bonuses ------------------------------------------------------------------------------------


def test_a_bonus_as_an_hourly_contracts_first_payment_carries_the_initiation_fee(
        app, projector, clock):
    cid = open_hourly(app)
    bonus = app.pay_bonus(contract_id=cid, amount=usd("100.00"), actor="c1").response
    assert (bonus["gross"], bonus["marketplace_fee"], bonus["initiation_fee"]) == (
        m("100.00"), m("5.00"), m("4.95"))                # $100 is not under $100
    assert (bonus["service_fee"], bonus["net"]) == (m("10.00"), m("90.00"))
    assert bonus["available_at"] == (clock.now() + timedelta(days=5)).isoformat()
    assert balance(projector, CLEARING) == d("109.95")
    assert balance(projector, PENDING) == d("90.00")
    log_week(app, clock, cid)
    tick_at(app, projector, clock, INVOICE_AT)
    assert balance(projector, INITIATION) == d("4.95")    # charged once, with the bonus
    assert balance(projector, CLEARING) == d("949.95")    # + 840.00
    assert_books(app, projector)


def test_a_bonus_as_a_fixed_price_contracts_first_payment_carries_the_initiation_fee(
        app, projector, clock):
    cid = app.open_contract(client_id="c1", freelancer_id="f1", currency="USD",
                            actor="t").response["contract_id"]
    bonus = app.pay_bonus(contract_id=cid, amount=usd("50.00"), actor="c1").response
    assert (bonus["marketplace_fee"], bonus["initiation_fee"], bonus["service_fee"],
            bonus["net"]) == (m("2.50"), m("0.99"), m("5.00"), m("45.00"))
    mid = app.add_milestone(contract_id=cid, title="m", amount=usd("500.00"),
                            actor="t").response["milestone_id"]
    app.fund_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    assert balance(projector, CLEARING) == d("578.49")    # 53.49 + 525.00, no second fee
    assert balance(projector, INITIATION) == d("0.99")
    assert balance(projector, f"deferred:initiation_fee:{cid}") == d("0.00")
    assert_books(app, projector)


def test_a_bonus_after_the_first_funding_charges_no_initiation_fee(app, projector, clock):
    cid = app.open_contract(client_id="c1", freelancer_id="f1", currency="USD",
                            actor="t").response["contract_id"]
    mid = app.add_milestone(contract_id=cid, title="m", amount=usd("500.00"),
                            actor="t").response["milestone_id"]
    app.fund_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    bonus = app.pay_bonus(contract_id=cid, amount=usd("100.00"), actor="c1").response
    assert bonus["initiation_fee"] == m("0.00")
    assert balance(projector, f"deferred:initiation_fee:{cid}") == d("9.95")
    assert_books(app, projector)


@pytest.mark.parametrize("kind", ["hourly", "fixed_price"])
def test_a_bonus_may_be_paid_up_to_365_days_after_the_contract_ends(
        app, projector, clock, kind):
    cid = open_hourly(app) if kind == "hourly" else app.open_contract(
        client_id="c1", freelancer_id="f1", currency="USD", actor="t").response["contract_id"]
    ended_at = clock.now()
    app.end_contract(contract_id=cid, by=Party.CLIENT, pay=None, actor="c1")
    move_to(clock, ended_at + timedelta(days=365))
    app.pay_bonus(contract_id=cid, amount=usd("20.00"), actor="c1")
    move_to(clock, ended_at + timedelta(days=365) + SECOND)
    position = app.position()
    with pytest.raises(WindowClosed):
        app.pay_bonus(contract_id=cid, amount=usd("20.00"), actor="c1")
    move_to(clock, ended_at + timedelta(days=366))
    with pytest.raises(WindowClosed):
        app.pay_bonus(contract_id=cid, amount=usd("20.00"), actor="c1")
    assert app.position() == position
    assert_books(app, projector)


# ---- freelancer refunds ------------------------------------------------------------------------


def test_a_refund_takes_available_then_pending_and_reduces_lifetime_billings(
        app, projector, clock):
    cid = week_800(app, projector, clock)
    tick_at(app, projector, clock, AVAILABLE_AT)
    move_to(clock, at(date(2026, 3, 20), 10))
    app.pay_bonus(contract_id=cid, amount=usd("100.00"), actor="c1")       # 90.00 pending
    assert relationship(app).lifetime_billings == usd("900.00")
    refund = app.refund_client(contract_id=cid, amount=usd("750.00"), actor="f1").response
    assert (refund["from_available"], refund["from_pending"]) == (m("720.00"), m("30.00"))
    assert balance(projector, AVAILABLE) == d("0.00")
    assert balance(projector, PENDING) == d("60.00")
    assert balance(projector, CLEARING) == d("204.95")   # 849.95 + 105.00 - 750.00
    assert relationship(app).lifetime_billings == usd("150.00")
    tick_at(app, projector, clock, at(date(2026, 3, 25), 10))
    assert balance(projector, AVAILABLE) == d("60.00")
    assert_books(app, projector)


def test_a_refund_is_capped_by_the_net_paid_on_that_contract(app, projector, clock):
    other = app.open_contract(client_id="c2", freelancer_id="f1", currency="USD",
                              actor="t").response["contract_id"]
    mid = app.add_milestone(contract_id=other, title="m", amount=usd("500.00"),
                            actor="t").response["milestone_id"]
    app.fund_milestone(contract_id=other, milestone_id=mid, actor="c2")
    app.approve_milestone(contract_id=other, milestone_id=mid, actor="c2")  # 450.00 to f1
    cid = week_800(app, projector, clock)
    tick_at(app, projector, clock, REVIEW_END)          # 720.00 pending on the hourly one
    position = app.position()
    with pytest.raises(InsufficientFunds):
        app.refund_client(contract_id=cid, amount=usd("720.01"), actor="f1")
    assert app.position() == position
    refund = app.refund_client(contract_id=cid, amount=usd("720.00"), actor="f1").response
    # the other contract's money matured on 03-07: available first, then pending
    assert (refund["from_available"], refund["from_pending"]) == (m("450.00"), m("270.00"))
    with pytest.raises(WindowClosed):
        app.refund_client(contract_id=cid, amount=usd("0.01"), actor="f1")
    assert relationship(app).lifetime_billings == usd("80.00")
    assert_books(app, projector)


def test_a_refund_is_allowed_up_to_180_days_after_the_payment_and_refused_after(
        app, projector, clock):
    cid = week_800(app, projector, clock)
    tick_at(app, projector, clock, REVIEW_END)          # paid 720.00 net at 03-14 00:00
    move_to(clock, REVIEW_END + timedelta(days=179))
    app.refund_client(contract_id=cid, amount=usd("10.00"), actor="f1")
    move_to(clock, REVIEW_END + timedelta(days=180))      # within 180 days: the last moment
    app.refund_client(contract_id=cid, amount=usd("10.00"), actor="f1")
    position = app.position()
    for late in (timedelta(days=180) + SECOND, timedelta(days=181)):
        move_to(clock, REVIEW_END + late)
        with pytest.raises(WindowClosed):
            app.refund_client(contract_id=cid, amount=usd("10.00"), actor="f1")
    assert app.position() == position
    assert balance(projector, AVAILABLE) == d("700.00")
    assert_books(app, projector)


# ---- the tiered era ---------------------------------------------------------------------------


TIERED_MON = date(2017, 3, 6)


@pytest.mark.parametrize(("refund", "billings_after", "fee", "net"), [
    # lifetime 500.00: the next $100 is all in the 10% tier
    ("100.00", "500.00", "10.00", "90.00"),
    # lifetime 450.00: 50 at 20% + 50 at 10%
    ("150.00", "450.00", "15.00", "85.00"),
    # lifetime 300.00: all 100 at 20%
    ("300.00", "300.00", "20.00", "80.00"),
])
def test_in_the_tiered_era_a_refund_lowers_the_billings_the_next_fee_is_marginal_on(
        app, projector, clock, refund, billings_after, fee, net):
    clock.set(at(TIERED_MON, 9))  # an empty store: the whole example happens in 2017
    cid = open_hourly(app, rate="60.00", limit=40)
    log_week(app, clock, cid, 600, days=1, week=TIERED_MON)        # 10 h = $600
    [invoiced] = tick_at(app, projector, clock, at(TIERED_MON + timedelta(days=7), 12))
    assert (invoiced["amount"], invoiced["marketplace_fee"]) == (m("600.00"), m("0.00"))
    assert balance(projector, CLEARING) == d("600.00")   # no marketplace or initiation fee
    [released] = tick_at(app, projector, clock, at(TIERED_MON + timedelta(days=12)))
    assert released["net"] == m("490.00")                # 500 x 20% + 100 x 10% = 110
    assert balance(projector, SERVICE) == d("110.00")
    assert relationship(app).lifetime_billings == usd("600.00")

    week2 = TIERED_MON + timedelta(days=14)
    move_to(clock, at(week2, 10))
    app.refund_client(contract_id=cid, amount=usd(refund), actor="f1")
    assert relationship(app).lifetime_billings == usd(billings_after)
    app.log_time(contract_id=cid, worked_on=week2, minutes=100, manual=False, actor="f1")
    fired = tick_at(app, projector, clock, at(week2 + timedelta(days=7), 12))
    [second] = [f for f in fired if "invoiced" in f]  # the first week matured on the way
    assert second["amount"] == m("100.00")
    [paid] = tick_at(app, projector, clock, at(week2 + timedelta(days=12)))
    assert paid["net"] == m(net)
    assert balance(projector, SERVICE) == d("110.00") + d(fee)
    assert relationship(app).lifetime_billings == usd(billings_after) + usd("100.00")
    assert_books(app, projector)


# ---- a late scheduler -------------------------------------------------------------------------


def test_a_command_after_monday_noon_sees_the_week_invoiced_at_noon_without_a_tick(
        app, projector, clock):
    cid = open_hourly(app)
    log_week(app, clock, cid)
    move_to(clock, at(NEXT_MON, 14))                     # the scheduler has not run
    logged = app.log_time(contract_id=cid, worked_on=NEXT_MON, minutes=60, manual=False,
                          actor="f1").response
    assert logged["week_start"] == "2026-03-09"
    [week] = app.invoices(cid)["invoices"]
    assert (week["week_start"], week["amount"]) == ("2026-03-02", m("800.00"))
    assert as_of(projector, review(cid), INVOICE_AT - SECOND) == d("0.00")
    assert as_of(projector, review(cid), INVOICE_AT) == d("800.00")
    postings = projector.queries.postings(review(cid))
    assert {p["effective_us"] for p in postings} == {epoch_us(INVOICE_AT)}
    assert tick(app, projector) == []                     # nothing left to fire
    assert balance(projector, CLEARING) == d("849.95")   # charged once
    assert_books(app, projector)


def test_a_refused_late_command_writes_no_invoice_either(app, projector, clock):
    cid = open_hourly(app)
    log_week(app, clock, cid)
    move_to(clock, at(NEXT_MON, 14))
    position = app.position()
    with pytest.raises(WeekClosed):
        app.log_time(contract_id=cid, worked_on=MON, minutes=60, manual=False, actor="f1")
    assert app.position() == position
    assert app.invoices(cid)["invoices"] == []
    [invoiced] = [f.response for f in tick(app, projector)]
    assert invoiced["amount"] == m("800.00")
    assert as_of(projector, review(cid), INVOICE_AT) == d("800.00")
    assert_books(app, projector)


def test_one_late_command_fires_invoice_review_end_and_maturity_in_due_order(
        app, projector, clock):
    cid = open_hourly(app)
    log_week(app, clock, cid)
    move_to(clock, at(date(2026, 3, 20), 10))             # no tick for two weeks
    refund = app.refund_client(contract_id=cid, amount=usd("100.00"), actor="f1").response
    assert (refund["from_available"], refund["from_pending"]) == (m("100.00"), m("0.00"))
    assert as_of(projector, review(cid), INVOICE_AT) == d("800.00")
    assert as_of(projector, review(cid), REVIEW_END - SECOND) == d("800.00")
    assert as_of(projector, PENDING, REVIEW_END) == d("720.00")
    assert as_of(projector, AVAILABLE, AVAILABLE_AT - SECOND) == d("0.00")
    assert as_of(projector, AVAILABLE, AVAILABLE_AT) == d("720.00")
    assert balance(projector, AVAILABLE) == d("620.00")
    assert tick(app, projector) == []
    assert_books(app, projector)


# ---- rules at the edges of a week ---------------------------------------------------------


def test_a_dispute_does_not_unbill_time_logged_earlier_in_the_current_week(
        app, projector, clock):
    # The dispute sets the limit to 0 at once; a decrease applies from the next
    # Monday, and the 10 h logged on Monday and Tuesday were within the limit
    # when they were worked, so the week of 03-09 still bills them.
    cid = week_800(app, projector, clock)
    move_to(clock, at(NEXT_MON + timedelta(days=1), 9))
    for day in (NEXT_MON, NEXT_MON + timedelta(days=1)):
        app.log_time(contract_id=cid, worked_on=day, minutes=300, manual=False, actor="f1")
    app.open_hourly_dispute(contract_id=cid, week_start=MON, minutes=60, actor="c1")
    fired = tick_at(app, projector, clock, INVOICE_AT + timedelta(days=7))
    [second] = [f for f in fired if f.get("week_start") == "2026-03-09" and "invoiced" in f]
    assert second["invoiced"] is True
    assert (second["minutes_billed"], second["amount"]) == (600, m("400.00"))
    assert_books(app, projector)


def test_a_rate_change_after_the_week_ended_does_not_reprice_that_week(
        app, projector, clock):
    # 10 h worked at $40/h; on Monday 11:00, before the invoice, the freelancer
    # lowers the rate for the work to come. The week that ended is billed $400.
    cid = open_hourly(app)
    log_week(app, clock, cid, 600, days=1)
    move_to(clock, INVOICE_AT - timedelta(hours=1))
    app.change_rate(contract_id=cid, hourly_rate=usd("20.00"), by=Party.FREELANCER, actor="f1")
    [invoiced] = tick_at(app, projector, clock, INVOICE_AT)
    assert invoiced["amount"] == m("400.00")
    assert_books(app, projector)


def test_an_hourly_contract_cannot_be_paid_from_client_credit(app, projector, clock):
    # A Monday charge that credit cannot cover would have nowhere to go, and a firing
    # refused inside a command refuses the command: the freelancer's next week would
    # be blocked by the client's empty credit. So hourly contracts pay by card or bank.
    position = app.position()
    with pytest.raises(InvalidInput):
        app.open_contract(kind="hourly", client_id="c1", freelancer_id="f1", currency="USD",
                          hourly_rate=usd("40.00"), weekly_limit_hours=20,
                          manual_time_allowed=True, payment_method=PaymentMethod.CLIENT_CREDIT,
                          actor="t")
    assert app.position() == position
    cid = app.open_contract(kind="hourly", client_id="c1", freelancer_id="f1", currency="USD",
                            hourly_rate=usd("40.00"), weekly_limit_hours=20,
                            manual_time_allowed=True, payment_method=PaymentMethod.US_BANK,
                            actor="t").response["contract_id"]
    log_week(app, clock, cid, 300, days=1)
    [invoiced] = tick_at(app, projector, clock, INVOICE_AT)
    assert invoiced["marketplace_fee"] == m("6.00")     # 3% from a US bank account
    assert balance(projector, CLEARING) == d("210.95")   # 200 + 6 + 4.95
    assert_books(app, projector)


def test_a_wholly_disputed_week_leaves_no_review_end_pending(app, projector, clock):
    # All 1200 billed minutes are disputed and refunded: nothing is left in review,
    # so the week's review end has nothing to pay. Once it has fired it must not
    # stay pending in the deadlines read model, nor fire again on every tick.
    cid = week_800(app, projector, clock)
    move_to(clock, at(NEXT_MON + timedelta(days=1), 10))
    dispute_id = app.open_hourly_dispute(contract_id=cid, week_start=MON, minutes=1200,
                                         actor="c1").response["dispute_id"]
    app.settle_hourly_dispute(contract_id=cid, dispute_id=dispute_id, failed_minutes=None,
                              actor="f1")
    assert balance(projector, CLEARING) == d("9.95")      # all but the initiation fee back
    tick_at(app, projector, clock, REVIEW_END)
    assert balance(projector, PENDING) == d("0.00")
    assert projector.deadlines.queries.due(clock.now()) == []
    assert tick_at(app, projector, clock, REVIEW_END + timedelta(hours=1)) == []
    assert_books(app, projector)


def test_a_late_command_on_one_contract_bills_the_relationship_in_due_order(
        app, projector, clock):
    # Tiered era, one client and freelancer, two contracts. B's $600 week is invoiced
    # 2017-03-13 and its review ends 03-18; A's $100 week is invoiced 03-20 and its
    # review ends 03-25. The scheduler is late: the first command after 03-25 is on A.
    # B's payment came first, so lifetime billings are 600 when A is paid: A's fee is
    # 10% of 100 = 10.00, and B's is 500 x 20% + 100 x 10% = 110.00.
    clock.set(at(TIERED_MON, 9))
    b = open_hourly(app, rate="60.00", limit=40)
    a = open_hourly(app, rate="10.00", limit=40)
    app.log_time(contract_id=b, worked_on=TIERED_MON, minutes=600, manual=False, actor="f1")
    tick_at(app, projector, clock, at(TIERED_MON + timedelta(days=7), 12))   # B invoiced
    week_a = TIERED_MON + timedelta(days=7)
    move_to(clock, at(week_a, 18))
    app.log_time(contract_id=a, worked_on=week_a, minutes=600, manual=False, actor="f1")
    move_to(clock, at(week_a + timedelta(days=12), 1))    # no tick since 03-13 12:00
    app.log_time(contract_id=a, worked_on=clock.now().date(), minutes=60, manual=False,
                 actor="f1")
    tick(app, projector)
    fee_b = app.hourly_contract(b).invoices[TIERED_MON].service_fee
    fee_a = app.hourly_contract(a).invoices[week_a].service_fee
    assert (fee_b, fee_a) == (usd("110.00"), usd("10.00"))
    assert_books(app, projector)
