"""What happened on an hourly contract: its events, each a fact in the past tense.

``apply`` only assigns state; ``deadline_changes`` says which clocks an event
starts or stops (the Monday invoice, the end of the review, a dispute's answer).
The aggregate adopts these classes as its nested events (``HourlyContract.X``).
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate
from moneyed import Money

from domain.bookkeeping.postings import JournalEntry
from domain.contracts import billing_week as weeks
from domain.contracts.chargebacks import ChargeKind, ChargeRecord, payment_id_of, record_charge
from domain.contracts.hourly_week import (
    DisputeStatus,
    HourlyDispute,
    LimitChange,
    TimeEntry,
    WeekInvoice,
    WeekStatus,
)
from domain.contracts.terms import adopt_opening_terms
from domain.deadlines import DeadlineChange, DeadlineKind, started, stopped
from domain.fees.quotes import FeeQuote
from domain.money import zero

if TYPE_CHECKING:
    from domain.contracts.hourly import HourlyContract

INVOICE = DeadlineKind.HOURLY_INVOICE
REVIEW_END = DeadlineKind.HOURLY_REVIEW_END
DISPUTE_RESPONSE = DeadlineKind.HOURLY_DISPUTE_RESPONSE


def supersede(limits: tuple[LimitChange, ...], declared_at: datetime,
              change: LimitChange) -> tuple[LimitChange, ...]:
    """A new limit replaces any change still waiting for its Monday: the latest word wins."""
    return (*(c for c in limits if c.effective_from <= declared_at), change)


class Opened(Aggregate.Created):
    client_id: str
    freelancer_id: str
    currency: str
    job_id: str | None
    service_fee_rate: Decimal | None
    hourly_rate: Money
    weekly_limit_hours: int
    manual_time_allowed: bool
    payment_method: str
    actor: str

    def apply(self, c: HourlyContract) -> None:
        adopt_opening_terms(c, self)
        c.hourly_rate = self.hourly_rate
        c.rates = ((self.timestamp, self.hourly_rate),)
        c.limits = (LimitChange(self.timestamp, self.weekly_limit_hours),)
        c.manual_time_allowed = self.manual_time_allowed
        c.payment_method = self.payment_method
        c.paused = False
        c.entries = {}
        c.entry_weeks = {}
        c.invoices = {}
        c.closed_unbilled = frozenset()
        c.disputes = {}


class TimeLogged(Aggregate.Event):
    entry_id: str
    week_start: date
    worked_on: date
    minutes: int
    manual: bool
    actor: str

    def apply(self, c: HourlyContract) -> None:
        c.entries = {**c.entries, self.entry_id: TimeEntry(
            self.entry_id, self.week_start, self.worked_on, self.minutes, self.manual)}
        c.entry_weeks = {**c.entry_weeks,
                         self.week_start: c.entry_weeks.get(self.week_start, 0) + 1}

    def deadline_changes(self) -> list[DeadlineChange]:
        return [started(INVOICE, self.originator_id, self.week_start.isoformat(),
                        weeks.invoice_due(self.week_start))]


class TimeEntryDeleted(Aggregate.Event):
    entry_id: str
    week_start: date
    week_empty: bool
    actor: str

    def apply(self, c: HourlyContract) -> None:
        c.entries = {k: v for k, v in c.entries.items() if k != self.entry_id}
        left = c.entry_weeks.get(self.week_start, 0) - 1
        c.entry_weeks = {**{w: n for w, n in c.entry_weeks.items() if w != self.week_start},
                         **({self.week_start: left} if left > 0 else {})}

    def deadline_changes(self) -> list[DeadlineChange]:
        if not self.week_empty:
            return []
        return [stopped(INVOICE, self.originator_id, self.week_start.isoformat())]


class WeeklyLimitChanged(Aggregate.Event):
    """A limit; an increase counts from now, a decrease from the next Monday 00:00."""

    hours: int
    effective_from: datetime
    actor: str

    def apply(self, c: HourlyContract) -> None:
        c.limits = supersede(c.limits, self.timestamp, LimitChange(self.effective_from,
                                                                   self.hours))


class RateChanged(Aggregate.Event):
    hourly_rate: Money
    by: str
    actor: str

    def apply(self, c: HourlyContract) -> None:
        c.hourly_rate = self.hourly_rate
        c.rates = (*c.rates, (self.timestamp, self.hourly_rate))


class Paused(Aggregate.Event):
    reason: str
    actor: str

    def apply(self, c: HourlyContract) -> None:
        c.paused = True


class Resumed(Aggregate.Event):
    actor: str

    def apply(self, c: HourlyContract) -> None:
        c.paused = False


class WeekInvoiced(Aggregate.Event):
    """Monday 12:00: the client was charged for the week, and the money is in review.

    Version 2 added ``payment_id``; version 1 events get theirs on upcast.
    """

    class_version = 2

    week_start: date
    minutes_logged: int
    minutes_billed: int
    manual_minutes_billed: int
    limit_hours: int
    hourly_rate: Money
    amount: Money
    marketplace_fee: FeeQuote
    initiation_fee: FeeQuote | None
    payment_method: str
    review_ends_at: datetime
    entry: JournalEntry
    actor: str
    payment_id: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["payment_id"] = payment_id_of(state, True)

    def apply(self, c: HourlyContract) -> None:
        initiation = self.initiation_fee.fee if self.initiation_fee else self.amount * 0
        # covered by Hourly Protection: a chargeback is the platform's loss
        record_charge(c, ChargeRecord(
            self.payment_id, self.timestamp, ChargeKind.HOURLY_INVOICE,
            self.amount + self.marketplace_fee.fee + initiation, self.amount * 0,
            self.entry.postings[0].account))
        c.invoices = {**c.invoices, self.week_start: WeekInvoice(
            self.week_start, self.minutes_logged, self.minutes_billed,
            self.manual_minutes_billed, self.amount, self.marketplace_fee.fee, self.amount,
            self.marketplace_fee.fee, self.review_ends_at, WeekStatus.IN_REVIEW,
            payment_id=self.payment_id,
            initiation_fee=None if self.initiation_fee is None else self.initiation_fee.fee,
            payment_method=self.payment_method)}
        if self.initiation_fee is not None:
            c.initiation_fee = self.initiation_fee

    def deadline_changes(self) -> list[DeadlineChange]:
        week = self.week_start.isoformat()
        return [stopped(INVOICE, self.originator_id, week),
                started(REVIEW_END, self.originator_id, week, self.review_ends_at)]


class WeekClosedUnbilled(Aggregate.Event):
    """Monday 12:00: nothing in the week was billable, so nothing was charged."""

    week_start: date
    minutes_logged: int
    limit_hours: int
    actor: str

    def apply(self, c: HourlyContract) -> None:
        c.closed_unbilled = c.closed_unbilled | {self.week_start}

    def deadline_changes(self) -> list[DeadlineChange]:
        return [stopped(INVOICE, self.originator_id, self.week_start.isoformat())]


class WeekReleased(Aggregate.Event):
    """The review ended: what was still in review went to the freelancer, net of fee."""

    week_start: date
    gross: Money
    service_fee: FeeQuote
    net: Money
    available_at: datetime
    lot_id: str
    entry: JournalEntry
    actor: str

    def apply(self, c: HourlyContract) -> None:
        w = c.invoices[self.week_start]
        c.invoices = {**c.invoices, self.week_start: dataclasses.replace(
            w, held=zero(c.currency), fee_held=zero(c.currency), status=WeekStatus.PENDING,
            service_fee=self.service_fee.fee, released=self.gross,
            available_at=self.available_at, lot_ids=(*w.lot_ids, self.lot_id))}
        c.record_payment(self.timestamp, self.net, f"week {self.week_start}")

    def deadline_changes(self) -> list[DeadlineChange]:
        return [stopped(REVIEW_END, self.originator_id, self.week_start.isoformat())]


class HourlyDisputeOpened(Aggregate.Event):
    """The client disputed invoiced minutes: their money is frozen, the contract paused."""

    dispute_id: str
    week_start: date
    minutes: int
    manual_minutes: int
    amount: Money
    marketplace_fee: Money
    respond_by: datetime
    review_emptied: bool
    entry: JournalEntry
    actor: str

    def apply(self, c: HourlyContract) -> None:
        w = c.invoices[self.week_start]
        c.invoices = {**c.invoices, self.week_start: dataclasses.replace(
            w, held=w.held - self.amount, fee_held=w.fee_held - self.marketplace_fee,
            disputed_minutes=w.disputed_minutes + self.minutes, status=WeekStatus.DISPUTED)}
        c.disputes = {**c.disputes, self.dispute_id: HourlyDispute(
            self.dispute_id, self.week_start, self.minutes, self.amount, self.marketplace_fee,
            self.manual_minutes, self.respond_by, DisputeStatus.OPEN)}
        c.paused = True
        # like any decrease, from the next Monday: time already worked this week within
        # the limit still bills, and a paused contract takes no more
        c.limits = supersede(c.limits, self.timestamp,
                             LimitChange(weeks.next_monday(self.timestamp), 0))

    def deadline_changes(self) -> list[DeadlineChange]:
        changes = [started(DISPUTE_RESPONSE, self.originator_id, self.dispute_id,
                           self.respond_by)]
        if self.review_emptied:
            # nothing is left in review for the week: its review end has nothing to pay
            changes.append(stopped(REVIEW_END, self.originator_id, self.week_start.isoformat()))
        return changes


class HourlyDisputeDeclined(Aggregate.Event):
    dispute_id: str
    actor: str

    def apply(self, c: HourlyContract) -> None:
        c.disputes = {**c.disputes, self.dispute_id: dataclasses.replace(
            c.disputes[self.dispute_id], status=DisputeStatus.DECLINED)}

    def deadline_changes(self) -> list[DeadlineChange]:
        return [stopped(DISPUTE_RESPONSE, self.originator_id, self.dispute_id)]


class HourlyDisputeSettled(Aggregate.Event):
    """The dispute's outcome: failed minutes refunded with their fees, the rest paid.

    ``outcome`` says who decided (accepted, accepted by silence, resolved by
    review). The rest goes back to review while the week's review is open, or
    straight to the freelancer's pending balance once it is over.
    """

    dispute_id: str
    outcome: str
    failed_minutes: int
    refunded: Money
    marketplace_fee_refunded: Money
    refunded_to: str
    returned_to_review: Money
    fee_returned_to_review: Money
    service_fee: FeeQuote | None
    net: Money
    lot_id: str | None
    available_at: datetime | None
    week_start: date
    review_restarts_until: datetime | None
    entry: JournalEntry
    actor: str

    def apply(self, c: HourlyContract) -> None:
        d = c.disputes[self.dispute_id]
        w = c.invoices[d.week_start]
        held = w.held + self.returned_to_review
        paid = self.service_fee is not None or w.released is not None
        status = (WeekStatus.IN_REVIEW if held.amount > 0
                  else WeekStatus.PENDING if paid else WeekStatus.REFUNDED)
        w = dataclasses.replace(
            w, held=held, fee_held=w.fee_held + self.fee_returned_to_review,
            refunded=(w.refunded or zero(c.currency)) + self.refunded, status=status)
        if self.service_fee is not None and self.lot_id is not None:
            # paid now, after the week's review: the invoice counts it as released
            none = zero(c.currency)
            w = dataclasses.replace(
                w, released=(w.released or none) + self.service_fee.basis,
                service_fee=(w.service_fee or none) + self.service_fee.fee,
                available_at=self.available_at, lot_ids=(*w.lot_ids, self.lot_id))
        c.invoices = {**c.invoices, d.week_start: w}
        c.disputes = {**c.disputes, self.dispute_id: dataclasses.replace(
            d, status=DisputeStatus.SETTLED)}
        if self.service_fee is not None:
            c.record_payment(self.timestamp, self.net, f"dispute {self.dispute_id}")

    def deadline_changes(self) -> list[DeadlineChange]:
        changes = [stopped(DISPUTE_RESPONSE, self.originator_id, self.dispute_id)]
        if self.review_restarts_until is not None:
            # money came back to a week whose review had nothing left: its clock runs again
            changes.append(started(REVIEW_END, self.originator_id, self.week_start.isoformat(),
                                   self.review_restarts_until))
        return changes
