"""The hourly contract's rules, with no database: decide, then look at state and events.

Dates: the week of Monday 2026-03-02 runs to Sunday 2026-03-08; it is invoiced
Monday 2026-03-09 12:00, its review ends Saturday 2026-03-14 00:00 (the end of
Friday) and its money is available Thursday 2026-03-19 00:00 (the end of the
Wednesday after, ten days after the week ended).
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from domain.balances.freelancer_balance import FreelancerBalance, PendingLot
from domain.balances.relationship import Relationship
from domain.contracts import billing_week as weeks
from domain.contracts import hourly_disputes
from domain.contracts.hourly import HourlyContract, billable
from domain.contracts.hourly_settlement import end_review, settle_dispute
from domain.contracts.hourly_week import DisputeStatus, WeekStatus
from domain.contracts.settlement import Earner
from domain.contracts.terms import Party
from domain.deadlines import DeadlineKind
from domain.errors import (
    ContractNotActive,
    InsufficientFunds,
    InvalidInput,
    ManualTimeNotAllowed,
    RateBelowMinimum,
    TimeEntryNotFound,
    WeekClosed,
    WindowClosed,
    WrongParty,
)
from domain.fees.methods import PaymentMethod
from domain.fees.schedule import DEFAULT_SCHEDULE as FEES
from domain.money import money

MON = date(2026, 3, 2)
"""A Monday: the billing week under test starts here."""
AT = datetime(2026, 3, 2, 9, tzinfo=UTC)
NEXT_MON = date(2026, 3, 9)
INVOICE_AT = datetime(2026, 3, 9, 12, tzinfo=UTC)
REVIEW_END = datetime(2026, 3, 14, tzinfo=UTC)


def usd(a: str):
    return money(a, "USD")


def hourly(rate: str = "40.00", limit: int = 20, manual: bool = True,
           at: datetime = AT) -> HourlyContract:
    return HourlyContract.open(
        contract_id=uuid4(), client_id="c1", freelancer_id="f1", currency="USD",
        job_id=None, service_fee_rate=None, hourly_rate=usd(rate), weekly_limit_hours=limit,
        manual_time_allowed=manual, payment_method=PaymentMethod.CARD, at=at, actor="t",
        fees=FEES)


def log(c: HourlyContract, day: date, minutes: int, manual: bool = False,
        at: datetime | None = None) -> str:
    entry_id = str(uuid4())
    when = at or datetime(day.year, day.month, day.day, 18, tzinfo=UTC)
    c.log_time(entry_id=entry_id, worked_on=day, minutes=minutes, manual=manual, at=when,
               actor="f1")
    return entry_id


def log_week(c: HourlyContract, minutes_per_day: int = 300, days: int = 5,
             week: date = MON, manual: bool = False) -> None:
    for i in range(days):
        log(c, week + timedelta(days=i), minutes_per_day, manual=manual)


def invoice(c: HourlyContract, week: date = MON, at: datetime = INVOICE_AT):
    c.invoice_week(week_start=week, at=at, actor="system", fees=FEES)
    return c.pending_events[-1]


def earner(at: datetime = AT) -> Earner:
    return Earner(relationship=Relationship.start("c1", "f1", "USD", at),
                  balance=FreelancerBalance.register("f1", at))


# ---- the billing week -------------------------------------------------------------


@pytest.mark.parametrize("day", [MON + timedelta(days=i) for i in range(7)])
def test_every_day_from_monday_to_sunday_belongs_to_the_week_starting_that_monday(day):
    assert weeks.week_of(day) == MON


def test_the_next_monday_starts_a_new_week():
    assert weeks.week_of(NEXT_MON) == NEXT_MON
    assert weeks.week_of(date(2026, 3, 1)) == date(2026, 2, 23)  # a Sunday


def test_the_weeks_clocks_invoice_monday_noon_review_to_friday_available_ten_days_after():
    assert weeks.starts(MON) == datetime(2026, 3, 2, tzinfo=UTC)
    assert weeks.ends(MON) == datetime(2026, 3, 9, tzinfo=UTC)
    assert weeks.invoice_due(MON) == INVOICE_AT
    assert weeks.invoice_due(MON).weekday() == 0
    assert weeks.review_ends(MON) == REVIEW_END
    assert weeks.review_ends(MON).weekday() == 5  # Saturday 00:00, the end of Friday
    assert weeks.available_at(MON) == datetime(2026, 3, 19, tzinfo=UTC)
    assert weeks.available_at(MON) - weeks.ends(MON) == timedelta(days=10)
    assert weeks.available_at(MON).weekday() == 3  # Thursday 00:00, the end of Wednesday


@pytest.mark.parametrize(("at", "monday"), [
    (datetime(2026, 3, 2, 0, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)),
    (datetime(2026, 3, 4, 15, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)),
    (datetime(2026, 3, 8, 23, 59, 59, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)),
    (datetime(2026, 3, 9, 0, tzinfo=UTC), datetime(2026, 3, 16, tzinfo=UTC)),
])
def test_next_monday_is_the_first_monday_midnight_strictly_after(at, monday):
    assert weeks.next_monday(at) == monday


# ---- billable: rounded half-up once ---------------------------------------------------


@pytest.mark.parametrize(("rate", "minutes", "amount"), [
    ("40.00", 1200, "800.00"),
    ("33.33", 100, "55.55"),   # 55.55 exactly
    ("10.01", 1, "0.17"),      # 0.16683.. -> 0.17
    ("3.05", 30, "1.53"),      # 1.525: half-up, not half-even (1.52)
    ("3.00", 1, "0.05"),
    ("3.01", 1, "0.05"),       # 0.050166.. -> 0.05
    ("99.99", 59, "98.32"),    # 98.3235 -> 98.32
])
def test_billable_is_rate_times_minutes_over_60_rounded_half_up_to_the_cent(
        rate, minutes, amount):
    assert billable(usd(rate), minutes) == usd(amount)


def test_an_invoice_amount_is_rounded_once_not_per_entry():
    # three entries of 1 minute at $10.01/h: 0.50050 -> 0.50, not 3 x 0.17 = 0.51
    c = hourly(rate="10.01")
    for _ in range(3):
        log(c, MON, 1)
    assert invoice(c).amount == usd("0.50")


# ---- the weekly limit -----------------------------------------------------------------


def test_a_limit_increase_applies_at_once_and_counts_hours_already_logged():
    c = hourly(limit=20)
    log_week(c, 300)  # 25 h by Friday
    raised_at = datetime(2026, 3, 6, 19, tzinfo=UTC)
    effective = c.change_weekly_limit(hours=30, at=raised_at, actor="c1")
    assert effective == raised_at
    assert c.limit_at(raised_at) == 30
    assert c.limit_at(raised_at - timedelta(seconds=1)) == 20
    assert c.limit_for_week(MON) == 30
    w = invoice(c)
    assert (w.minutes_logged, w.minutes_billed, w.limit_hours) == (1500, 1500, 30)
    assert w.amount == usd("1000.00")


def test_a_limit_decrease_waits_for_the_next_monday():
    c = hourly(limit=20)
    at = datetime(2026, 3, 4, 10, tzinfo=UTC)
    effective = c.change_weekly_limit(hours=10, at=at, actor="c1")
    assert effective == datetime(2026, 3, 9, tzinfo=UTC)
    assert c.limit_at(at) == 20
    assert c.limit_at(datetime(2026, 3, 8, 23, 59, 59, tzinfo=UTC)) == 20
    assert c.limit_at(datetime(2026, 3, 9, tzinfo=UTC)) == 10
    assert c.limit_for_week(MON) == 20
    assert c.limit_for_week(NEXT_MON) == 10


def test_a_decrease_on_monday_midnight_waits_a_whole_week():
    c = hourly(limit=20)
    at = datetime(2026, 3, 9, tzinfo=UTC)
    assert c.change_weekly_limit(hours=5, at=at, actor="c1") == datetime(2026, 3, 16, tzinfo=UTC)
    assert c.limit_for_week(NEXT_MON) == 20


def test_a_later_decrease_supersedes_a_pending_one():
    c = hourly(limit=20)
    c.change_weekly_limit(hours=10, at=datetime(2026, 3, 4, tzinfo=UTC), actor="c1")
    c.change_weekly_limit(hours=15, at=datetime(2026, 3, 5, tzinfo=UTC), actor="c1")
    assert c.limit_for_week(MON) == 20
    assert c.limit_for_week(NEXT_MON) == 15
    assert [ch.hours for ch in c.limits] == [20, 15]


def test_an_increase_supersedes_a_pending_decrease():
    c = hourly(limit=20)
    c.change_weekly_limit(hours=10, at=datetime(2026, 3, 4, tzinfo=UTC), actor="c1")
    c.change_weekly_limit(hours=25, at=datetime(2026, 3, 5, tzinfo=UTC), actor="c1")
    assert c.limit_for_week(MON) == 25
    assert c.limit_for_week(NEXT_MON) == 25


def test_setting_the_limit_back_to_the_current_one_cancels_a_pending_decrease():
    # The client lowers 20 -> 10 (pending for Monday), then changes its mind and
    # sets 20 again: the latest word wins, so next week is billed at 20 hours.
    c = hourly(limit=20)
    c.change_weekly_limit(hours=10, at=datetime(2026, 3, 4, tzinfo=UTC), actor="c1")
    c.change_weekly_limit(hours=20, at=datetime(2026, 3, 5, tzinfo=UTC), actor="c1")
    assert c.limit_for_week(NEXT_MON) == 20


def test_setting_the_limit_in_force_with_nothing_pending_is_refused():
    c = hourly(limit=20)
    with pytest.raises(InvalidInput):
        c.change_weekly_limit(hours=20, at=AT, actor="c1")


@pytest.mark.parametrize("hours", [-1, 169, True, 1.5, "10"])
def test_a_limit_is_whole_hours_from_0_to_168(hours):
    with pytest.raises(InvalidInput):
        hourly(limit=hours)
    c = hourly(limit=0)
    with pytest.raises(InvalidInput):
        c.change_weekly_limit(hours=hours, at=AT, actor="c1")
    assert hourly(limit=168).limit_at(AT) == 168


# ---- the Monday invoice ---------------------------------------------------------------


def test_the_invoice_caps_minutes_at_the_limit_and_charges_the_fees_on_top():
    c = hourly()
    log_week(c, 300)
    w = invoice(c)
    assert (w.minutes_logged, w.minutes_billed, w.limit_hours) == (1500, 1200, 20)
    assert w.amount == usd("800.00")
    assert w.marketplace_fee.fee == usd("40.00")       # 5% by card from 2025-05-01
    assert w.initiation_fee.fee == usd("9.95")         # first payment under $2,000
    assert w.review_ends_at == REVIEW_END
    postings = {(p.account, p.side.value): p.amount for p in w.entry.postings}
    assert postings[("processor:clearing", "debit")] == usd("849.95")
    assert postings[(f"hourly_review:{c.id}:2026-03-02", "credit")] == usd("800.00")
    assert c.invoices[MON].status is WeekStatus.IN_REVIEW


def test_the_second_invoice_charges_no_initiation_fee():
    c = hourly()
    log_week(c, 60, days=1)
    invoice(c)
    log(c, NEXT_MON, 60)
    w = invoice(c, NEXT_MON, INVOICE_AT + timedelta(days=7))
    assert w.initiation_fee is None
    assert w.amount == usd("40.00")


def test_the_invoice_counts_the_manual_minutes_it_bills():
    c = hourly(limit=10)
    log(c, MON, 300)                                    # tracked
    log(c, MON + timedelta(days=1), 200, manual=True)   # manual, billed
    log(c, MON + timedelta(days=2), 300, manual=True)   # 100 billed, 200 over the limit
    w = invoice(c)
    assert (w.minutes_logged, w.minutes_billed, w.manual_minutes_billed) == (800, 600, 300)
    assert w.amount == usd("400.00")


def test_a_week_with_a_zero_limit_closes_unbilled_and_moves_no_money():
    c = hourly(limit=0)
    log(c, MON, 120)
    e = invoice(c)
    assert isinstance(e, HourlyContract.WeekClosedUnbilled)
    assert MON not in c.invoices
    assert MON in c.closed_unbilled
    assert not [d for d in c.running_deadlines() if d.kind is DeadlineKind.HOURLY_INVOICE]
    with pytest.raises(WeekClosed):
        invoice(c)


def test_a_week_is_invoiced_once():
    c = hourly()
    log(c, MON, 60)
    invoice(c)
    with pytest.raises(WeekClosed):
        invoice(c)


def test_logging_time_starts_the_weeks_monday_invoice_clock():
    c = hourly()
    log(c, MON, 60)
    kinds = [(d.kind, d.due, d.ref) for d in c.running_deadlines()]
    assert kinds == [(DeadlineKind.HOURLY_INVOICE, INVOICE_AT, "2026-03-02")]


# ---- the rate ---------------------------------------------------------------------------


def test_the_minimum_rate_is_three_dollars_an_hour():
    with pytest.raises(RateBelowMinimum):
        hourly(rate="2.99")
    assert hourly(rate="3.00").hourly_rate == usd("3.00")


def test_only_the_client_raises_the_rate():
    c = hourly(rate="40.00")
    with pytest.raises(WrongParty):
        c.change_rate(hourly_rate=usd("45.00"), by=Party.FREELANCER, at=AT, actor="f1")
    c.change_rate(hourly_rate=usd("45.00"), by=Party.CLIENT, at=AT, actor="c1")
    assert c.hourly_rate == usd("45.00")


def test_only_the_freelancer_lowers_the_rate_and_never_below_the_minimum():
    c = hourly(rate="40.00")
    with pytest.raises(WrongParty):
        c.change_rate(hourly_rate=usd("35.00"), by=Party.CLIENT, at=AT, actor="c1")
    with pytest.raises(RateBelowMinimum):
        c.change_rate(hourly_rate=usd("2.99"), by=Party.FREELANCER, at=AT, actor="f1")
    c.change_rate(hourly_rate=usd("3.00"), by=Party.FREELANCER, at=AT, actor="f1")
    assert c.hourly_rate == usd("3.00")


def test_the_same_rate_is_not_a_change():
    c = hourly(rate="40.00")
    with pytest.raises(InvalidInput):
        c.change_rate(hourly_rate=usd("40.00"), by=Party.CLIENT, at=AT, actor="c1")


# ---- time ---------------------------------------------------------------------------


def test_time_for_a_day_still_to_come_is_refused():
    c = hourly()
    with pytest.raises(InvalidInput):
        log(c, MON + timedelta(days=1), 60, at=AT)
    log(c, MON, 60, at=AT)


def test_time_for_a_day_before_the_contract_opened_is_refused():
    c = hourly(at=datetime(2026, 3, 4, 9, tzinfo=UTC))
    with pytest.raises(InvalidInput):
        log(c, MON + timedelta(days=1), 60, at=datetime(2026, 3, 4, 10, tzinfo=UTC))


def test_a_weeks_time_closes_at_monday_noon_exactly():
    c = hourly()
    log(c, MON + timedelta(days=6), 60, at=INVOICE_AT - timedelta(seconds=1))
    with pytest.raises(WeekClosed):
        log(c, MON + timedelta(days=6), 60, at=INVOICE_AT)
    assert sum(e.minutes for e in c.entries.values()) == 60


def test_a_time_entry_can_be_deleted_until_monday_noon_only():
    c = hourly()
    first = log(c, MON, 60)
    second = log(c, MON, 30)
    c.delete_time_entry(entry_id=first, at=INVOICE_AT - timedelta(seconds=1), actor="f1")
    with pytest.raises(WeekClosed):
        c.delete_time_entry(entry_id=second, at=INVOICE_AT, actor="f1")
    with pytest.raises(TimeEntryNotFound):
        c.delete_time_entry(entry_id=first, at=AT, actor="f1")


def test_deleting_the_last_entry_of_a_week_stops_its_invoice_clock():
    c = hourly()
    entry = log(c, MON, 60)
    c.delete_time_entry(entry_id=entry, at=AT + timedelta(hours=10), actor="f1")
    deleted = c.pending_events[-1]
    assert deleted.week_empty is True
    assert c.running_deadlines() == []


def test_manual_time_is_refused_where_the_contract_does_not_allow_it():
    c = hourly(manual=False)
    with pytest.raises(ManualTimeNotAllowed):
        log(c, MON, 60, manual=True)
    log(c, MON, 60, manual=False)


def test_a_paused_contract_takes_no_time_until_resumed():
    c = hourly()
    c.pause(at=AT, actor="c1")
    with pytest.raises(ContractNotActive):
        log(c, MON, 60)
    with pytest.raises(ContractNotActive):
        c.pause(at=AT, actor="c1")
    c.resume(at=AT, actor="c1")
    log(c, MON, 60)


def test_an_ended_contract_takes_no_time_but_still_invoices_its_open_week():
    c = hourly()
    log(c, MON, 90)
    c.end(by=Party.CLIENT, at=AT + timedelta(hours=10), actor="c1", feedback=None)
    with pytest.raises(ContractNotActive):
        log(c, MON, 60)
    assert [d.due for d in c.running_deadlines()] == [INVOICE_AT]
    assert invoice(c).amount == usd("60.00")


def test_a_day_holds_at_most_1440_minutes():
    c = hourly(limit=168)
    with pytest.raises(InvalidInput):
        log(c, MON, 1441)
    log(c, MON, 1000)
    log(c, MON, 440)
    with pytest.raises(InvalidInput):
        log(c, MON, 1)
    log(c, MON + timedelta(days=1), 1440)


@pytest.mark.parametrize("minutes", [0, -5, True, 1.5])
def test_minutes_are_a_whole_number_of_at_least_one(minutes):
    c = hourly()
    with pytest.raises(InvalidInput):
        log(c, MON, minutes)


# ---- hourly disputes --------------------------------------------------------------------


def invoiced_800(manual_per_day: int = 0) -> HourlyContract:
    """$40/h, 20 h limit, 25 h logged: $800.00 (1200 minutes) in review."""
    c = hourly()
    for i in range(5):
        day = MON + timedelta(days=i)
        if manual_per_day:
            log(c, day, manual_per_day, manual=True)
        log(c, day, 300 - manual_per_day)
    invoice(c)
    return c


def open_dispute(c: HourlyContract, minutes: int,
                 at: datetime = INVOICE_AT + timedelta(days=1)) -> str:
    dispute_id = str(uuid4())
    hourly_disputes.open_dispute(c, dispute_id=dispute_id, week_start=MON, minutes=minutes,
                                 at=at, actor="c1")
    return dispute_id


def test_disputing_300_of_1200_minutes_of_an_800_week_freezes_200_and_its_10_fee():
    c = invoiced_800()
    at = INVOICE_AT + timedelta(days=1)
    dispute_id = open_dispute(c, 300, at)
    d = c.disputes[dispute_id]
    assert (d.amount, d.marketplace_fee, d.minutes) == (usd("200.00"), usd("10.00"), 300)
    assert d.respond_by == at + timedelta(days=3)
    w = c.invoices[MON]
    assert (w.held, w.fee_held, w.status) == (usd("600.00"), usd("30.00"), WeekStatus.DISPUTED)
    assert c.paused is True
    assert c.limit_at(weeks.next_monday(at)) == 0  # as any decrease: from the next Monday
    postings = {(p.account, p.side.value): p.amount for p in c.pending_events[-1].entry.postings}
    assert postings == {(f"hourly_review:{c.id}:2026-03-02", "debit"): usd("200.00"),
                        (f"escrow_dispute:{c.id}", "credit"): usd("200.00")}


def test_no_more_minutes_than_the_undisputed_remainder_can_be_disputed():
    c = invoiced_800()
    open_dispute(c, 300)
    with pytest.raises(InvalidInput):
        open_dispute(c, 901)
    rest = open_dispute(c, 900)
    d = c.disputes[rest]
    assert d.amount == usd("600.00")  # the whole remainder takes the whole of it
    assert d.marketplace_fee == usd("30.00")
    assert c.invoices[MON].held == usd("0.00")
    with pytest.raises(InvalidInput):
        open_dispute(c, 1)


def test_a_dispute_is_refused_outside_the_review_window_or_for_a_week_not_invoiced():
    c = invoiced_800()
    with pytest.raises(WindowClosed):
        open_dispute(c, 60, at=REVIEW_END)
    open_dispute(c, 60, at=REVIEW_END - timedelta(seconds=1))
    with pytest.raises(InvalidInput):
        hourly_disputes.open_dispute(c, dispute_id="x", week_start=NEXT_MON, minutes=1,
                                     at=REVIEW_END - timedelta(seconds=1), actor="c1")


@pytest.mark.parametrize("minutes", [0, -1, True])
def test_disputed_minutes_are_a_whole_number_of_at_least_one(minutes):
    c = invoiced_800()
    with pytest.raises(InvalidInput):
        open_dispute(c, minutes)


def test_accepting_refunds_every_disputed_minute_with_its_fee():
    c = invoiced_800()
    dispute_id = open_dispute(c, 300)
    parts = hourly_disputes.split(c, dispute_id, 300, hourly_disputes.ACCEPTED,
                                  INVOICE_AT + timedelta(days=2))
    assert (parts.refund, parts.fee_refund, parts.rest, parts.fee_rest) == (
        usd("200.00"), usd("10.00"), usd("0.00"), usd("0.00"))


def test_a_resolved_dispute_refunds_the_failed_share_and_returns_the_rest_to_review():
    c = invoiced_800()
    dispute_id = open_dispute(c, 300)
    at = INVOICE_AT + timedelta(days=2)
    hourly_disputes.decline(c, dispute_id=dispute_id, at=at, actor="f1")
    parts = hourly_disputes.split(c, dispute_id, 100, hourly_disputes.RESOLVED, at)
    # 200 x 100/300 = 66.666.. -> 66.67; its fee 10 x 66.67/200 = 3.3335 -> 3.33
    assert (parts.refund, parts.fee_refund, parts.rest, parts.fee_rest) == (
        usd("66.67"), usd("3.33"), usd("133.33"), usd("6.67"))
    assert parts.back_to_review is True
    settle_dispute(c, earner(), dispute_id=dispute_id, failed_minutes=100,
                   outcome=hourly_disputes.RESOLVED, at=at, actor="review", fees=FEES)
    w = c.invoices[MON]
    assert (w.held, w.fee_held, w.refunded) == (usd("733.33"), usd("36.67"), usd("66.67"))
    assert c.disputes[dispute_id].status is DisputeStatus.SETTLED


def test_resolving_with_fewer_failed_minutes_than_the_disputed_manual_ones_is_refused():
    # 100 manual minutes a day; Monday to Thursday fill the limit: 400 manual billed,
    # and the 300 disputed minutes count as manual first (they always fail)
    c = invoiced_800(manual_per_day=100)
    assert c.invoices[MON].manual_minutes_billed == 400
    dispute_id = open_dispute(c, 300)
    assert c.disputes[dispute_id].manual_minutes == 300
    at = INVOICE_AT + timedelta(days=2)
    hourly_disputes.decline(c, dispute_id=dispute_id, at=at, actor="f1")
    with pytest.raises(InvalidInput):
        hourly_disputes.split(c, dispute_id, 299, hourly_disputes.RESOLVED, at)
    with pytest.raises(InvalidInput):
        hourly_disputes.split(c, dispute_id, 301, hourly_disputes.RESOLVED, at)
    assert hourly_disputes.split(c, dispute_id, 300, hourly_disputes.RESOLVED, at).refund \
        == usd("200.00")


def test_a_dispute_must_be_declined_before_it_is_resolved_and_open_to_be_accepted():
    c = invoiced_800()
    dispute_id = open_dispute(c, 300)
    at = INVOICE_AT + timedelta(days=2)
    with pytest.raises(hourly_disputes.DisputeStateError):
        hourly_disputes.split(c, dispute_id, 0, hourly_disputes.RESOLVED, at)
    hourly_disputes.decline(c, dispute_id=dispute_id, at=at, actor="f1")
    with pytest.raises(hourly_disputes.DisputeStateError):
        hourly_disputes.split(c, dispute_id, 300, hourly_disputes.ACCEPTED, at)
    with pytest.raises(hourly_disputes.DisputeStateError):
        hourly_disputes.decline(c, dispute_id=dispute_id, at=at, actor="f1")


def test_an_open_dispute_keeps_the_contract_paused():
    c = invoiced_800()
    dispute_id = open_dispute(c, 300)
    at = INVOICE_AT + timedelta(days=2)
    with pytest.raises(ContractNotActive):
        c.resume(at=at, actor="c1")
    settle_dispute(c, earner(), dispute_id=dispute_id, failed_minutes=300,
                   outcome=hourly_disputes.ACCEPTED, at=at, actor="f1", fees=FEES)
    c.resume(at=at, actor="c1")
    assert c.paused is False
    # the dispute set it to 0 (from the next Monday); the client raises it again
    assert c.limit_at(weeks.next_monday(at)) == 0


# ---- the end of the review ----------------------------------------------------------------


def test_the_end_of_the_review_pays_720_pending_for_ten_days_after_the_week():
    c = invoiced_800()
    p = earner()
    assert end_review(c, p, week_start=MON, at=REVIEW_END, actor="system", fees=FEES) is True
    released = c.pending_events[-1]
    assert (released.gross, released.service_fee.fee, released.net) == (
        usd("800.00"), usd("80.00"), usd("720.00"))
    assert released.available_at == weeks.available_at(MON)
    assert p.balance.pending_in("USD") == usd("720.00")
    assert p.relationship.lifetime_billings == usd("800.00")
    assert end_review(c, p, week_start=MON, at=REVIEW_END, actor="system", fees=FEES) is False


# ---- freelancer refunds: available first, then the newest pending lots --------------------


def test_a_refund_takes_available_first_then_the_newest_pending_lot():
    b = FreelancerBalance.register("f1", AT)
    b.add_pending(PendingLot("old", usd("100.00"), AT + timedelta(days=1), "c", "m"), "e", AT)
    b.mature(AT + timedelta(days=1))
    b.add_pending(PendingLot("a", usd("50.00"), AT + timedelta(days=3), "c", "m"), "e", AT)
    b.add_pending(PendingLot("b", usd("70.00"), AT + timedelta(days=4), "c", "m"), "e", AT)
    b.refund(refund_id="r", amount=usd("130.00"), refund_to="processor:clearing", at=AT)
    e = b.pending_events[-1]
    assert e.from_available == usd("100.00")
    assert e.from_lots == {"b": usd("30.00")}
    assert (b.available_in("USD"), b.pending_in("USD")) == (usd("0.00"), usd("90.00"))
    with pytest.raises(InsufficientFunds):
        b.refund(refund_id="r2", amount=usd("90.01"), refund_to="processor:clearing", at=AT)
    b.refund(refund_id="r3", amount=usd("90.00"), refund_to="processor:clearing", at=AT)
    assert b.lots == []
    assert Decimal(0) == b.pending_in("USD").amount
