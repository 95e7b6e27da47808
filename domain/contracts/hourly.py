"""The hourly contract: time in billing weeks, the weekly limit, the Monday invoice, review.

Money enters *hourly in review* for a week when the week is invoiced (Monday
12:00), and leaves it when the review ends (to the freelancer, net of the
service fee) or a dispute's outcome refunds it. Public methods validate and
decide; the events (``hourly_events``) only assign state.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.domain import Aggregate
from moneyed import Money

from domain.bookkeeping import accounts
from domain.bookkeeping.accounts import Revenue
from domain.bookkeeping.postings import JournalEntry, Side, leg
from domain.contracts import billing_week as weeks
from domain.contracts import chargebacks, payments, terms
from domain.contracts import hourly_events as events
from domain.contracts.escrow import payment_account
from domain.contracts.feedback import Feedback, event_fields
from domain.contracts.hourly_week import (
    HourlyDispute,
    LimitChange,
    Payment,
    TimeEntry,
    WeekInvoice,
)
from domain.contracts.references import PAYMENT, reference
from domain.contracts.terms import ContractKind, ContractStatus, Party, check_parties
from domain.deadlines import Deadline, DeadlineKind
from domain.errors import (
    AmountTooLarge,
    ContractNotActive,
    InvalidInput,
    ManualTimeNotAllowed,
    RateBelowMinimum,
    TimeEntryNotFound,
    WeekClosed,
    WrongParty,
)
from domain.fees.methods import PaymentMethod
from domain.fees.quotes import FeeQuote
from domain.fees.schedule import FeeSchedule
from domain.money import require_same_currency, round_half_up, zero

MINIMUM_RATE = Decimal("3")
MAXIMUM_RATE = Decimal("1000000")
"""Our assumed ceiling (domain.md names none) on an hourly rate."""
HOURS_IN_WEEK = 168
MINUTES_IN_DAY = 24 * 60


def billable(rate: Money, minutes: int) -> Money:
    """rate x minutes / 60, rounded half-up to the cent once."""
    return round_half_up(Money(rate.amount * minutes / 60, rate.currency))


class HourlyContract(Aggregate):
    """An hourly contract between one client and one freelancer, billed every Monday."""

    KIND = ContractKind.HOURLY

    Opened = events.Opened
    TimeLogged = events.TimeLogged
    TimeEntryDeleted = events.TimeEntryDeleted
    WeeklyLimitChanged = events.WeeklyLimitChanged
    RateChanged = events.RateChanged
    Paused = events.Paused
    Resumed = events.Resumed
    WeekInvoiced = events.WeekInvoiced
    WeekClosedUnbilled = events.WeekClosedUnbilled
    WeekReleased = events.WeekReleased
    HourlyDisputeOpened = events.HourlyDisputeOpened
    HourlyDisputeDeclined = events.HourlyDisputeDeclined
    HourlyDisputeSettled = events.HourlyDisputeSettled
    BonusPaid = payments.BonusPaid
    ChargebackReceived = chargebacks.ChargebackReceived
    ChargebackDecided = chargebacks.ChargebackDecided
    ClientRefunded = payments.ClientRefunded
    Ended = terms.Ended

    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        client_id: str
        freelancer_id: str
        currency: str
        job_id: str | None
        service_fee_rate: Decimal | None
        opened_at: datetime
        hourly_rate: Money
        rates: tuple[tuple[datetime, Money], ...]
        limits: tuple[LimitChange, ...]
        manual_time_allowed: bool
        payment_method: str
        status: ContractStatus
        paused: bool
        entries: dict[str, TimeEntry]
        entry_weeks: dict[date, int]
        """Entries per week: which weeks have time, without scanning every entry."""
        invoices: dict[date, WeekInvoice]
        closed_unbilled: frozenset[date]
        disputes: dict[str, HourlyDispute]
        initiation_fee: FeeQuote | None
        payments: tuple[Payment, ...]
        refunds: tuple[Payment, ...]
        charges: dict[str, chargebacks.ChargeRecord]
        chargebacks: dict[str, chargebacks.Chargeback]
        ended_at: datetime | None
        ended_by: str | None

    # ---- queries ---------------------------------------------------------------

    def limit_at(self, at: datetime) -> int:
        """The weekly limit in force at ``at`` (the latest change effective by then)."""
        return [c for c in self.limits if c.effective_from <= at][-1].hours

    def limit_for_week(self, week_start: date) -> int:
        """The limit a week is billed at: the one in force when the week ends."""
        end = weeks.ends(week_start)
        return [c for c in self.limits if c.effective_from < end][-1].hours

    def rate_for_week(self, week_start: date) -> Money:
        """The rate a week is billed at: the one in force when the week ends (assumed)."""
        end = weeks.ends(week_start)
        return [rate for since, rate in self.rates if since < end][-1]

    def week_entries(self, week_start: date) -> list[TimeEntry]:
        return sorted((e for e in self.entries.values() if e.week_start == week_start),
                      key=lambda e: (e.worked_on, e.entry_id))

    def running_deadlines(self) -> list[Deadline]:
        subject = str(self.id)
        # entry_weeks, not a scan of every entry: a command's cost must not grow with history
        open_weeks = set(self.entry_weeks) - set(self.invoices)
        running = [Deadline(weeks.invoice_due(w), DeadlineKind.HOURLY_INVOICE, subject,
                            w.isoformat()) for w in open_weeks if not self._closed(w)]
        running += [Deadline(w.review_ends_at, DeadlineKind.HOURLY_REVIEW_END, subject,
                             w.week_start.isoformat())
                    for w in self.invoices.values() if w.released is None and w.held.amount > 0]
        running += [Deadline(d.respond_by, DeadlineKind.HOURLY_DISPUTE_RESPONSE, subject,
                             d.dispute_id) for d in self.disputes.values() if d.status == "open"]
        return running

    def _closed(self, week_start: date) -> bool:
        """Invoiced or closed unbilled: both leave no entry to bill again."""
        return week_start in self.invoices or week_start in self.closed_unbilled

    # ---- opening and terms -------------------------------------------------------

    @classmethod
    def open(
        cls, *, contract_id: UUID, client_id: str, freelancer_id: str, currency: str,
        job_id: str | None, service_fee_rate: Decimal | None, hourly_rate: Money,
        weekly_limit_hours: int, manual_time_allowed: bool, payment_method: PaymentMethod,
        at: datetime, actor: str, fees: FeeSchedule,
    ) -> HourlyContract:
        check_parties(client_id, freelancer_id)
        zero(currency)
        fees.require_supported_currency(currency)
        rate = fees.validate_contract_rate(service_fee_rate, at)
        _check_rate(hourly_rate, currency)
        _check_limit(weekly_limit_hours)
        if payment_method is PaymentMethod.CLIENT_CREDIT:
            # An automatic Monday charge that credit cannot cover would have nowhere to go
            # and would stop the freelancer's next week (assumed: cards and banks only).
            raise InvalidInput("an hourly contract is charged automatically every Monday: "
                               "pay by card or us_bank, not client_credit")
        return cls._create(
            cls.Opened, id=contract_id, timestamp=at, client_id=client_id,
            freelancer_id=freelancer_id, currency=currency, job_id=job_id,
            service_fee_rate=rate, hourly_rate=hourly_rate,
            weekly_limit_hours=weekly_limit_hours, manual_time_allowed=manual_time_allowed,
            payment_method=payment_method.value, actor=actor,
        )

    def change_weekly_limit(self, *, hours: int, at: datetime, actor: str) -> datetime:
        """An increase counts at once (hours already logged too); a decrease next Monday."""
        self.require_active()
        _check_limit(hours)
        if hours == self.limits[-1].hours:
            raise InvalidInput(f"the weekly limit is already {hours} hours")
        # back to the limit in force cancels a decrease still waiting for Monday
        effective = at if hours >= self.limit_at(at) else weeks.next_monday(at)
        self.trigger_event(self.WeeklyLimitChanged, timestamp=at, hours=hours,
                           effective_from=effective, actor=actor)
        return effective

    def change_rate(self, *, hourly_rate: Money, by: Party, at: datetime, actor: str) -> None:
        """Only the client raises the rate; only the freelancer lowers it."""
        self.require_active()
        _check_rate(hourly_rate, self.currency)
        if hourly_rate == self.hourly_rate:
            raise InvalidInput(f"the rate is already {hourly_rate.amount} {self.currency}/h")
        raising = hourly_rate > self.hourly_rate
        if raising and by is not Party.CLIENT:
            raise WrongParty("only the client can raise an hourly rate")
        if not raising and by is not Party.FREELANCER:
            raise WrongParty("only the freelancer can lower an hourly rate")
        self.trigger_event(self.RateChanged, timestamp=at, hourly_rate=hourly_rate,
                           by=by.value, actor=actor)

    def pause(self, *, at: datetime, actor: str, reason: str = "paused by the client") -> None:
        self.require_active()
        if self.paused:
            raise ContractNotActive(f"contract {self.id} is already paused")
        self.trigger_event(self.Paused, timestamp=at, reason=reason, actor=actor)

    def resume(self, *, at: datetime, actor: str) -> None:
        self.require_active()
        if not self.paused:
            raise ContractNotActive(f"contract {self.id} is not paused")
        if any(d.status != "settled" for d in self.disputes.values()):
            raise ContractNotActive("an hourly dispute is still open on this contract")
        self.trigger_event(self.Resumed, timestamp=at, actor=actor)

    def end(self, *, by: Party, at: datetime, actor: str, feedback: Feedback | None) -> None:
        """Ends the contract; minutes already logged in the open week are still invoiced."""
        self.require_active()
        self.trigger_event(self.Ended, timestamp=at, ended_by=by.value, actor=actor,
                           **event_fields(feedback))

    # ---- time ----------------------------------------------------------------------

    def log_time(self, *, entry_id: str, worked_on: date, minutes: int, manual: bool,
                 at: datetime, actor: str) -> None:
        self.require_active()
        if self.paused:
            raise ContractNotActive(f"contract {self.id} is paused: it takes no time")
        if manual and not self.manual_time_allowed:
            raise ManualTimeNotAllowed("this contract does not allow manual time")
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
            raise InvalidInput("minutes must be a whole number of at least 1")
        if worked_on > at.date():
            raise InvalidInput(f"time cannot be logged for {worked_on}, a day still to come")
        if worked_on < self.opened_at.date():
            raise InvalidInput(f"the contract opened on {self.opened_at.date()}, after {worked_on}")
        week = weeks.week_of(worked_on)
        self._require_open_week(week, at)
        day_total = sum(e.minutes for e in self.entries.values() if e.worked_on == worked_on)
        if day_total + minutes > MINUTES_IN_DAY:
            raise InvalidInput(f"{worked_on} would hold {day_total + minutes} minutes; "
                               f"a day has {MINUTES_IN_DAY}")
        self.trigger_event(self.TimeLogged, timestamp=at, entry_id=entry_id, week_start=week,
                           worked_on=worked_on, minutes=minutes, manual=manual, actor=actor)

    def delete_time_entry(self, *, entry_id: str, at: datetime, actor: str) -> None:
        entry = self.entries.get(entry_id)
        if entry is None:
            raise TimeEntryNotFound(f"time entry {entry_id} not found on contract {self.id}")
        self._require_open_week(entry.week_start, at)
        empty = not [e for e in self.week_entries(entry.week_start) if e.entry_id != entry_id]
        self.trigger_event(self.TimeEntryDeleted, timestamp=at, entry_id=entry_id,
                           week_start=entry.week_start, week_empty=empty, actor=actor)

    def _require_open_week(self, week: date, at: datetime) -> None:
        if at >= weeks.invoice_due(week) or self._closed(week):
            raise WeekClosed(f"the week of {week} closed at {weeks.invoice_due(week).isoformat()}:"
                             " its time can no longer change")

    # ---- the Monday invoice ----------------------------------------------------------

    def invoice_week(self, *, week_start: date, at: datetime, actor: str,
                     fees: FeeSchedule) -> None:
        """Bills rate x min(minutes, limit x 60); the client pays it plus its fees."""
        if self._closed(week_start):
            raise WeekClosed(f"the week of {week_start} is already invoiced")
        entries = self.week_entries(week_start)
        limit = self.limit_for_week(week_start)
        cap, billed, manual = limit * 60, 0, 0
        for e in entries:
            take = min(e.minutes, cap - billed)
            billed += take
            manual += take if e.manual else 0
        logged = sum(e.minutes for e in entries)
        rate = self.rate_for_week(week_start)
        amount = billable(rate, billed)
        if amount.amount == 0:
            self.trigger_event(self.WeekClosedUnbilled, timestamp=at, week_start=week_start,
                               minutes_logged=logged, limit_hours=limit, actor=actor)
            return
        method = PaymentMethod(self.payment_method)
        marketplace = fees.marketplace_fee(amount, at, method)
        initiation = fees.initiation_fee(amount, at) if self.initiation_fee is None else None
        charge = payments.charge_entry(
            f"invoice week {week_start} of hourly contract {self.id}",
            payment_account(self.client_id, method),
            [(accounts.hourly_review(self.id, week_start), amount)], marketplace, initiation)
        self.trigger_event(
            self.WeekInvoiced, timestamp=at, week_start=week_start, minutes_logged=logged,
            minutes_billed=billed, manual_minutes_billed=manual, limit_hours=limit,
            hourly_rate=rate, amount=amount, marketplace_fee=marketplace,
            initiation_fee=initiation, payment_method=method.value,
            review_ends_at=weeks.review_ends(week_start), entry=charge, actor=actor,
            payment_id=reference(PAYMENT, self.id, self.version + 1))

    def release_week(self, *, week_start: date, service_fee: FeeQuote, lot_id: str,
                     available_at: datetime, at: datetime, actor: str) -> None:
        """The review ended: what is still in review goes to the freelancer, net of fee."""
        w = self.invoices[week_start]
        if w.released is not None or w.held.amount == 0 or service_fee.basis != w.held:
            raise InvalidInput(f"nothing (or not {service_fee.basis.amount}) is in review "
                               f"for the week of {week_start}")
        entry = JournalEntry.of(f"review ended for week {week_start} of contract {self.id}", [
            leg(Side.DEBIT, accounts.hourly_review(self.id, week_start), w.held),
            leg(Side.CREDIT, accounts.freelancer_pending(self.freelancer_id), service_fee.net),
            leg(Side.CREDIT, accounts.revenue(Revenue.SERVICE_FEE), service_fee.fee),
        ])
        self.trigger_event(self.WeekReleased, timestamp=at, week_start=week_start,
                           gross=w.held, service_fee=service_fee, net=service_fee.net,
                           available_at=available_at, lot_id=lot_id, entry=entry, actor=actor)

    # ---- shared with every contract ---------------------------------------------------

    def require_active(self) -> None:
        if self.status is not ContractStatus.ACTIVE:
            raise ContractNotActive(f"contract {self.id} is {self.status.value}")

    def record_payment(self, at: datetime, net: Money, ref: str) -> None:
        """Called by events only: what the freelancer was paid, for the refund window."""
        self.payments = (*self.payments, Payment(at, net, ref))


def _check_rate(rate: Money, currency: str) -> None:
    require_same_currency(rate, zero(currency))
    if rate.amount < MINIMUM_RATE:
        raise RateBelowMinimum(f"an hourly rate must be at least {MINIMUM_RATE} {currency}/h, "
                               f"got {rate.amount}")
    if rate.amount > MAXIMUM_RATE:
        raise AmountTooLarge(f"an hourly rate may be at most {MAXIMUM_RATE:,} {currency}/h "
                             "(assumed limit)")
    if rate.amount != rate.amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP):
        raise InvalidInput("an hourly rate is whole cents")


def _check_limit(hours: int) -> None:
    if isinstance(hours, bool) or not isinstance(hours, int) or not 0 <= hours <= HOURS_IN_WEEK:
        raise InvalidInput(f"a weekly limit is a whole number of hours from 0 to {HOURS_IN_WEEK}")
