"""The fixed-price contract: milestones, escrow per milestone, and how a contract ends.

Escrow is a liability we hold for the client until it is released to the
freelancer or refunded, so it lives here, per milestone, where "never negative"
and "no release beyond escrow" are checked before any event exists. Public
methods validate and decide; the events (``fixed_price_events``) only assign
state. What each movement posts is ``escrow``'s business, shared with every
kind of contract.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from moneyed import Money

from domain.bookkeeping import accounts
from domain.contracts import chargebacks, dispute_events, dormancy, escrow, payments, terms
from domain.contracts import fixed_price_ending as ending
from domain.contracts import fixed_price_events as events
from domain.contracts.dispute import FixedPriceDispute
from domain.contracts.feedback import Feedback, event_fields
from domain.contracts.hourly_week import Payment
from domain.contracts.milestone import EscrowMovement, Milestone, MilestoneStatus
from domain.contracts.references import PAYMENT, reference
from domain.contracts.refund_request import RefundRequest
from domain.contracts.terms import (
    MAXIMUM_MILESTONE,
    MINIMUM_MILESTONE,
    ContractKind,
    ContractStatus,
    Party,
    check_parties,
)
from domain.deadlines import Deadline, DeadlineKind
from domain.errors import (
    AmountTooLarge,
    ContractNotActive,
    EscrowError,
    InsufficientEscrow,
    InvalidInput,
    MilestoneBelowMinimum,
    MilestoneNotFound,
    MilestoneStateError,
    NotFunded,
    RefundRequestNotFound,
    RefundRequestStateError,
)
from domain.fees.methods import PaymentMethod
from domain.fees.quotes import FeeQuote
from domain.fees.schedule import FeeSchedule
from domain.money import require_positive, require_same_currency, zero
from domain.periods import REFUND_REQUEST_RESPONSE, REVIEW_PERIOD

RELEASABLE = (MilestoneStatus.FUNDED, MilestoneStatus.SUBMITTED, MilestoneStatus.CHANGES_REQUESTED)


class FixedPriceContract(Aggregate):
    """A fixed-price contract between one client and one freelancer, in one currency."""

    KIND = ContractKind.FIXED_PRICE

    Opened = events.Opened
    MilestoneAdded = events.MilestoneAdded
    MilestoneFunded = events.MilestoneFunded
    WorkSubmitted = events.WorkSubmitted
    ChangesRequested = events.ChangesRequested
    MilestoneReleased = events.MilestoneReleased
    EscrowRefundRequested = events.EscrowRefundRequested
    EscrowRefunded = events.EscrowRefunded
    InitiationFeeReturned = events.InitiationFeeReturned
    BonusPaid = payments.BonusPaid
    ClientRefunded = payments.ClientRefunded
    Ended = terms.Ended
    DisputeOpened = dispute_events.DisputeOpened
    DisputeResponded = dispute_events.DisputeResponded
    MediationProposed = dispute_events.MediationProposed
    MediationAccepted = dispute_events.MediationAccepted
    ArbitrationStarted = dispute_events.ArbitrationStarted
    ArbitrationFeePaid = dispute_events.ArbitrationFeePaid
    DisputeResolved = dispute_events.DisputeResolved
    DormancyNoticeRecorded = dormancy.DormancyNoticeRecorded
    WentDormant = dormancy.WentDormant
    DormantClientSilent = dormancy.DormantClientSilent
    DormantReleaseRequested = dormancy.DormantReleaseRequested
    ChargebackReceived = chargebacks.ChargebackReceived
    ChargebackDecided = chargebacks.ChargebackDecided

    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        client_id: str
        freelancer_id: str
        currency: str
        job_id: str | None
        service_fee_rate: Decimal | None
        opened_at: datetime
        status: ContractStatus
        milestones: dict[str, Milestone]
        refund_requests: dict[str, RefundRequest]
        disputes: dict[str, FixedPriceDispute]
        last_activity_at: datetime
        dormancy_notices: tuple[int, ...]
        dormancy: dormancy.Dormancy | None
        first_charge_method: str | None
        initiation_fee: FeeQuote | None
        initiation_fee_settled: bool
        total_released: Money
        marketplace_fee_charged: Money
        marketplace_fee_refunded: Money
        ended_at: datetime | None
        ended_by: str | None
        ending_feedback: Feedback | None
        payments: tuple[Payment, ...]
        refunds: tuple[Payment, ...]
        charges: dict[str, chargebacks.ChargeRecord]
        chargebacks: dict[str, chargebacks.Chargeback]

    # ---- queries -------------------------------------------------------------

    def milestone(self, milestone_id: str) -> Milestone:
        try:
            return self.milestones[milestone_id]
        except KeyError:
            raise MilestoneNotFound(
                f"milestone {milestone_id} not found on contract {self.id}"
            ) from None

    def escrow_balance(self) -> Money:
        return sum((m.escrow for m in self.milestones.values()), zero(self.currency))

    def carried_escrow(self) -> list[Milestone]:
        """Escrow left on closed milestones by partial releases, oldest first."""
        return [m for m in self.milestones.values()
                if m.status is MilestoneStatus.RELEASED and m.escrow.amount > 0]

    def remaining_escrow(self) -> list[EscrowMovement]:
        return [EscrowMovement(m.milestone_id, m.escrow)
                for m in self.milestones.values() if m.escrow.amount > 0]

    def refund_request(self, request_id: str) -> RefundRequest:
        try:
            return self.refund_requests[request_id]
        except KeyError:
            raise RefundRequestNotFound(
                f"refund request {request_id} not found on contract {self.id}"
            ) from None

    def escrow_account(self, milestone_id: str) -> str:
        return accounts.escrow(self.id, UUID(milestone_id))

    def open_disputes(self) -> list[FixedPriceDispute]:
        return [d for d in self.disputes.values() if d.is_open]

    def disputed_escrow(self) -> Money:
        return sum((d.total for d in self.open_disputes()), zero(self.currency))

    def running_deadlines(self) -> list[Deadline]:
        """Review clocks of submitted milestones, answers awaited on refund requests, and
        the clock of each open dispute's stage."""
        subject = str(self.id)
        running = [
            Deadline(m.review_due_at, DeadlineKind.AUTO_RELEASE, subject, m.milestone_id)
            for m in self.milestones.values()
            if self.status is ContractStatus.ACTIVE and m.status is MilestoneStatus.SUBMITTED
            and m.review_due_at is not None
        ]
        running += [
            Deadline(r.respond_by, DeadlineKind.REFUND_REQUEST_TIMEOUT, subject, r.request_id)
            for r in self.refund_requests.values() if r.status == "pending"
        ]
        running += [
            Deadline(d.due_at, d.clock, subject, d.dispute_id)
            for d in self.open_disputes() if d.clock is not None and d.due_at is not None
        ]
        running += [Deadline(due, kind, subject, ref)
                    for kind, ref, due in dormancy.running(self)]
        return running

    def review_lapsed(self, milestone_id: str, due: datetime) -> bool:
        """Whether ``due`` is still this milestone's review deadline, so silence approves it."""
        m = self.milestone(milestone_id)
        return (self.status is ContractStatus.ACTIVE and m.status is MilestoneStatus.SUBMITTED
                and m.review_due_at == due)

    def refund_request_lapsed(self, request_id: str, due: datetime) -> bool:
        """Whether the freelancer left this refund request unanswered until ``due``."""
        r = self.refund_request(request_id)
        return r.status == "pending" and r.respond_by == due

    # ---- opening and milestones ----------------------------------------------

    @classmethod
    def open(
        cls, *, contract_id: UUID, client_id: str, freelancer_id: str, currency: str,
        job_id: str | None, service_fee_rate: Decimal | None, at: datetime, actor: str,
        fees: FeeSchedule,
    ) -> FixedPriceContract:
        check_parties(client_id, freelancer_id)
        zero(currency)  # refuses an unknown currency
        fees.require_supported_currency(currency)
        rate = fees.validate_contract_rate(service_fee_rate, at)
        return cls._create(
            cls.Opened, id=contract_id, timestamp=at, client_id=client_id,
            freelancer_id=freelancer_id, currency=currency, job_id=job_id,
            service_fee_rate=rate, actor=actor,
        )

    def add_milestone(
        self, *, milestone_id: UUID, title: str, amount: Money, at: datetime, actor: str
    ) -> None:
        self.require_active()
        require_same_currency(amount, zero(self.currency))
        if amount.amount > MAXIMUM_MILESTONE:
            raise AmountTooLarge(
                f"a milestone may be at most {MAXIMUM_MILESTONE:,} {self.currency} (assumed limit)"
            )
        if amount.amount < MINIMUM_MILESTONE:
            raise MilestoneBelowMinimum(
                f"a milestone must be at least {MINIMUM_MILESTONE} {self.currency}, "
                f"got {amount.amount}"
            )
        if not title.strip():
            raise InvalidInput("milestone title must not be empty")
        self.trigger_event(self.MilestoneAdded, timestamp=at, milestone_id=str(milestone_id),
                           title=title, amount=amount, actor=actor,
                           dormancy_watched=self.watched_after(zero(self.currency)))

    def fund_milestone(
        self, *, milestone_id: str, method: PaymentMethod, at: datetime, actor: str,
        fees: FeeSchedule,
    ) -> None:
        """Funds the milestone's full amount: carried escrow first, the rest charged."""
        self.require_active()
        m = self.milestone(milestone_id)
        if m.status is not MilestoneStatus.CREATED:
            raise EscrowError(f"milestone {milestone_id} is already funded ({m.status.value})")
        carried: list[EscrowMovement] = []
        still_needed = m.amount
        for source in self.carried_escrow():
            if still_needed.amount == 0:
                break
            take = min(source.escrow, still_needed)
            carried.append(EscrowMovement(source.milestone_id, take,
                                          escrow.fee_share(source, take)))
            still_needed = still_needed - take
        self._record_funding(m, carried, still_needed, method, at, actor, fees, top_up=False)

    def top_up_for_release(
        self, *, milestone_id: str, amount: Money, method: PaymentMethod, at: datetime,
        actor: str, fees: FeeSchedule,
    ) -> None:
        """Charges the client what an approval asks beyond the milestone's escrow."""
        m = self.check_releasable(milestone_id)
        extra = amount - m.escrow
        if extra.amount <= 0:
            raise InvalidInput("a top-up needs an approval above the escrow held")
        self._record_funding(m, [], extra, method, at, actor, fees, top_up=True)

    def _record_funding(
        self, m: Milestone, carried: list[EscrowMovement], charge: Money, method: PaymentMethod,
        at: datetime, actor: str, fees: FeeSchedule, *, top_up: bool,
    ) -> None:
        paid: escrow.Charge | None = None
        if charge.amount > 0:
            paid = escrow.Charge(
                charge, fees.marketplace_fee(charge, at, method),
                fees.initiation_fee(charge, at) if self.initiation_fee is None else None,
            )
        payment_id = reference(PAYMENT, self.id, self.version + 1) if paid else None
        entry = escrow.funding_entry(
            f"fund milestone {m.milestone_id} of contract {self.id}", self.id,
            self.escrow_account(m.milestone_id),
            [(self.escrow_account(c.milestone_id), c.amount) for c in carried],
            paid, escrow.payment_account(self.client_id, method),
        )
        self.trigger_event(
            self.MilestoneFunded, timestamp=at, milestone_id=m.milestone_id,
            escrow_added=sum((c.amount for c in carried), charge), carried_in=carried,
            charged=charge, payment_method=method.value,
            marketplace_fee=paid.marketplace if paid else None,
            initiation_fee=paid.initiation if paid else None,
            entry=entry, actor=actor, top_up=top_up, payment_id=payment_id,
        )

    # ---- work and review -----------------------------------------------------

    def submit_work(self, *, milestone_id: str, at: datetime, actor: str) -> None:
        self.require_active()
        m = self.milestone(milestone_id)
        if m.status not in (MilestoneStatus.FUNDED, MilestoneStatus.CHANGES_REQUESTED):
            if m.status is MilestoneStatus.CREATED:
                raise NotFunded(f"milestone {milestone_id} has no escrow: fund it before work")
            raise MilestoneStateError(
                f"work cannot be submitted on a milestone that is {m.status.value}"
            )
        self.trigger_event(self.WorkSubmitted, timestamp=at, milestone_id=milestone_id,
                           review_due_at=at + REVIEW_PERIOD, actor=actor)

    def request_changes(self, *, milestone_id: str, note: str, at: datetime, actor: str) -> None:
        self.require_active()
        m = self.milestone(milestone_id)
        if m.status is not MilestoneStatus.SUBMITTED:
            raise MilestoneStateError(
                f"changes can be requested only on submitted work; milestone is {m.status.value}"
            )
        if m.review_due_at is not None and at >= m.review_due_at:
            raise MilestoneStateError(
                f"the review period ended at {m.review_due_at.isoformat()}: silence approved "
                "the work and its escrow is released"
            )
        self.trigger_event(self.ChangesRequested, timestamp=at, milestone_id=milestone_id,
                           note=note, actor=actor)

    def check_releasable(self, milestone_id: str) -> Milestone:
        self.require_active()
        m = self.milestone(milestone_id)
        if m.status not in RELEASABLE:
            if m.status is MilestoneStatus.CREATED:
                raise NotFunded(f"milestone {milestone_id} has nothing in escrow to release")
            raise MilestoneStateError(f"milestone {milestone_id} is already {m.status.value}")
        return m

    def release(
        self, *, milestone_id: str, gross: Money, service_fee: FeeQuote, available_at: datetime,
        lot_id: str, reason: str, at: datetime, actor: str, allow_closed: bool = False,
    ) -> events.MilestoneReleased:
        """Moves ``gross`` from the milestone's escrow to the freelancer, net of fee.

        The fee is decided by the caller (it depends on the relationship's billings);
        this method checks the escrow can pay it and writes the balanced entry.
        """
        if allow_closed:
            self.require_active()
            m = self.milestone(milestone_id)
        else:
            m = self.check_releasable(milestone_id)
        require_positive(gross, "release amount")
        require_same_currency(gross, m.escrow, service_fee.basis)
        if gross > m.escrow:
            raise InsufficientEscrow(
                f"release of {gross.amount} exceeds the {m.escrow.amount} {self.currency} "
                f"in escrow for milestone {milestone_id}"
            )
        if service_fee.basis != gross or service_fee.fee + service_fee.net != gross:
            raise InvalidInput("service fee quote does not match the release amount")
        recognise = escrow.initiation_fee_outstanding(self.initiation_fee,
                                                      self.initiation_fee_settled)
        entry = escrow.release_entry(
            f"release milestone {milestone_id} of contract {self.id} ({reason})",
            self.escrow_account(milestone_id), self.freelancer_id, service_fee, self.id,
            recognise,
        )
        self.trigger_event(
            self.MilestoneReleased, timestamp=at, milestone_id=milestone_id, gross=gross,
            service_fee=service_fee, net=service_fee.net, escrow_remaining=m.escrow - gross,
            marketplace_fee_retained=escrow.fee_share(m, gross),
            initiation_fee_recognised=recognise, available_at=available_at, lot_id=lot_id,
            reason=reason, entry=entry, actor=actor, dormancy_watched=self.watched_after(gross),
        )
        event = self.pending_events[-1]
        assert isinstance(event, self.MilestoneReleased)
        return event

    # ---- ending ----------------------------------------------------------------

    def request_escrow_refund(
        self, *, request_id: str, at: datetime, actor: str,
        refund_to: escrow.RefundTo = escrow.RefundTo.PAYMENT_METHOD,
        feedback: Feedback | None = None,
    ) -> None:
        """After the client's chosen payment, the rest of escrow awaits the freelancer;
        ``refund_to`` is where the client wants it once refunded. The client's
        ``feedback`` waits with it, for the ``Ended`` event once the contract ends."""
        amounts = self.remaining_escrow()
        total = sum((a.amount for a in amounts), zero(self.currency))
        if total.amount == 0:
            raise EscrowError("nothing left in escrow to refund")
        self.trigger_event(self.EscrowRefundRequested, timestamp=at, request_id=request_id,
                           amounts=amounts, total=total,
                           respond_by=at + REFUND_REQUEST_RESPONSE, actor=actor,
                           refund_to=refund_to.value, **event_fields(feedback))

    def approve_refund_request(
        self, *, request_id: str, at: datetime, actor: str,
        reason: str = "refund request approved by the freelancer",
    ) -> None:
        """The escrow goes back and the contract ends; ``reason`` says who decided."""
        r = self.refund_request(request_id)
        if r.status != "pending":
            raise RefundRequestStateError(f"refund request {request_id} is already {r.status}")
        if r.amounts:
            ending.refund(self, list(r.amounts), request_id, reason, at, actor,
                          escrow.RefundTo(r.refund_to))
        self.finish_ending(at=at, actor=actor)

    def finish_ending(self, *, at: datetime, actor: str) -> None:
        """Ends a contract the client is ending once no refund request or dispute is open."""
        if self.status is not ContractStatus.ENDING:
            return
        if self.open_disputes() or any(r.status == "pending"
                                       for r in self.refund_requests.values()):
            return
        ending.end(self, Party.CLIENT, actor, at, feedback=self.ending_feedback)

    def end(self, *, by: Party, at: datetime, actor: str, feedback: Feedback | None,
            refund_to: escrow.RefundTo | None = None) -> None:
        """Ends the contract once escrow is settled (``fixed_price_ending.end_by``)."""
        ending.end_by(self, by, at=at, actor=actor, feedback=feedback, refund_to=refund_to)

    def close_dormant(self, *, reason: str, at: datetime, actor: str) -> None:
        """Neither party acted on a dormant contract: its escrow goes back and it ends."""
        ending.refund(self, self.remaining_escrow(), None, reason, at, actor)
        ending.end(self, "dormancy", actor, at, feedback=None)

    def watched_after(self, leaving: Money) -> bool:
        """Whether the dormancy clocks run after ``leaving`` goes out of escrow."""
        return (self.status is ContractStatus.ACTIVE and not self.open_disputes()
                and (self.escrow_balance() - leaving).amount > 0)

    def require_active(self) -> None:
        if self.status is not ContractStatus.ACTIVE:
            raise ContractNotActive(f"contract {self.id} is {self.status.value}")

    def record_payment(self, at: datetime, net: Money, ref: str) -> None:
        """Called by events only: what the freelancer was paid, for the refund window."""
        self.payments = (*self.payments, Payment(at, net, ref))

    def set_milestone(self, milestone_id: str, **changes: Any) -> None:
        """Replaces one milestone's value; called by events only."""
        self.milestones = {
            **self.milestones,
            milestone_id: dataclasses.replace(self.milestones[milestone_id], **changes),
        }
