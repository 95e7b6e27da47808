"""The fixed-price contract: milestones, escrow per milestone, and how a contract ends.

Escrow is a liability we hold for the client until it is released to the
freelancer or refunded, so it lives here, per milestone, where "never negative"
and "no release beyond escrow" can be checked before any event exists. Public
methods validate and decide; each event's ``apply`` only assigns state, so a
replay never re-runs a business rule written after the fact.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from moneyed import Money

from domain import accounts
from domain.accounts import Revenue
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
from domain.fee_schedule import FeeQuote, FeeSchedule, PaymentMethod
from domain.milestone import EscrowMovement, Milestone, MilestoneStatus, RefundRequest
from domain.money import (
    require_positive,
    require_same_currency,
    round_half_up,
    zero,
)
from domain.periods import REFUND_REQUEST_RESPONSE, REVIEW_PERIOD
from domain.postings import JournalEntry, Posting, Side, leg

MINIMUM_MILESTONE = Decimal("5")
MAXIMUM_MILESTONE = Decimal("1000000000")
"""Our assumed ceiling (domain.md names none): one billion per milestone."""
PARTY_ID = re.compile(accounts.PARTY_ID)


class ContractStatus(StrEnum):
    ACTIVE = "active"
    ENDING = "ending"  # ended by the client; an escrow refund request awaits the freelancer
    ENDED = "ended"


class Party(StrEnum):
    CLIENT = "client"
    FREELANCER = "freelancer"


class FixedPriceContract(Aggregate):
    """A fixed-price contract between one client and one freelancer, in one currency."""

    class Opened(Aggregate.Created):
        client_id: str
        freelancer_id: str
        currency: str
        job_id: str | None
        service_fee_rate: Decimal | None
        actor: str

        def apply(self, c: FixedPriceContract) -> None:
            c.client_id = self.client_id
            c.freelancer_id = self.freelancer_id
            c.currency = self.currency
            c.job_id = self.job_id
            c.service_fee_rate = self.service_fee_rate
            c.opened_at = self.timestamp
            c.status = ContractStatus.ACTIVE
            c.milestones = {}
            c.refund_requests = {}
            c.first_charge_method = None
            c.initiation_fee = None
            c.initiation_fee_settled = False
            c.total_released = zero(self.currency)
            c.marketplace_fee_charged = zero(self.currency)
            c.marketplace_fee_refunded = zero(self.currency)
            c.ended_at = None
            c.ended_by = None

    class MilestoneAdded(Aggregate.Event):
        milestone_id: str
        title: str
        amount: Money
        actor: str

        def apply(self, c: FixedPriceContract) -> None:
            c.milestones = {
                **c.milestones,
                self.milestone_id: Milestone(
                    self.milestone_id,
                    self.title,
                    self.amount,
                    MilestoneStatus.CREATED,
                    zero(c.currency),
                    zero(c.currency),
                    zero(c.currency),
                ),
            }

    class MilestoneFunded(Aggregate.Event):
        """Money entered escrow for a milestone: carried escrow first, then a charge.

        ``charged`` is what the client paid into escrow now (before fees);
        ``carried_in`` is escrow left over from earlier partial releases.
        """

        milestone_id: str
        escrow_added: Money
        carried_in: list[EscrowMovement]
        charged: Money
        payment_method: str
        marketplace_fee: FeeQuote | None
        initiation_fee: FeeQuote | None
        entry: JournalEntry | None
        actor: str
        top_up: bool

        def apply(self, c: FixedPriceContract) -> None:
            fee_in = zero(c.currency)
            for moved in self.carried_in:
                source = c.milestone(moved.milestone_id)
                c._set_milestone(moved.milestone_id, escrow=source.escrow - moved.amount,
                                 fee_held=source.fee_held - moved.fee_or_zero)
                fee_in = fee_in + moved.fee_or_zero
            if self.marketplace_fee is not None:
                fee_in = fee_in + self.marketplace_fee.fee
                c.marketplace_fee_charged = c.marketplace_fee_charged + self.marketplace_fee.fee
            m = c.milestone(self.milestone_id)
            status = m.status if self.top_up else MilestoneStatus.FUNDED
            c._set_milestone(self.milestone_id, escrow=m.escrow + self.escrow_added,
                             fee_held=m.fee_held + fee_in, status=status)
            if self.charged.amount > 0 and c.first_charge_method is None:
                c.first_charge_method = self.payment_method
            if self.initiation_fee is not None:
                c.initiation_fee = self.initiation_fee

    class WorkSubmitted(Aggregate.Event):
        milestone_id: str
        review_due_at: datetime
        actor: str

        def apply(self, c: FixedPriceContract) -> None:
            c._set_milestone(
                self.milestone_id,
                status=MilestoneStatus.SUBMITTED,
                review_due_at=self.review_due_at,
            )

    class ChangesRequested(Aggregate.Event):
        milestone_id: str
        note: str
        actor: str

        def apply(self, c: FixedPriceContract) -> None:
            c._set_milestone(
                self.milestone_id, status=MilestoneStatus.CHANGES_REQUESTED, review_due_at=None
            )

    class MilestoneReleased(Aggregate.Event):
        """Escrow went to the freelancer: gross = net + service fee, to the cent.

        ``reason`` says which rule released it (approval, end of contract);
        ``initiation_fee_recognised`` is set on the contract's first release.
        """

        milestone_id: str
        gross: Money
        service_fee: FeeQuote
        net: Money
        escrow_remaining: Money
        marketplace_fee_retained: Money
        initiation_fee_recognised: Money | None
        available_at: datetime
        lot_id: str
        reason: str
        entry: JournalEntry
        actor: str

        def apply(self, c: FixedPriceContract) -> None:
            m = c.milestone(self.milestone_id)
            c._set_milestone(
                self.milestone_id,
                escrow=m.escrow - self.gross,
                fee_held=m.fee_held - self.marketplace_fee_retained,
                released=m.released + self.gross,
                status=MilestoneStatus.RELEASED,
                review_due_at=None,
            )
            c.total_released = c.total_released + self.gross
            if self.initiation_fee_recognised is not None:
                c.initiation_fee_settled = True

    class EscrowRefundRequested(Aggregate.Event):
        """The client ended the contract; what was not paid awaits the freelancer's answer."""

        request_id: str
        amounts: list[EscrowMovement]
        total: Money
        respond_by: datetime
        actor: str

        def apply(self, c: FixedPriceContract) -> None:
            c.refund_requests = {
                **c.refund_requests,
                self.request_id: RefundRequest(
                    self.request_id, tuple(self.amounts), self.total, self.respond_by, "pending"
                ),
            }
            c.status = ContractStatus.ENDING

    class EscrowRefunded(Aggregate.Event):
        """Escrow went back to the client, with the marketplace fee on it (assumed policy)."""

        request_id: str | None
        amounts: list[EscrowMovement]
        total: Money
        refunded_to: str
        marketplace_fee_refunded: Money
        marketplace_fee_policy: str
        reason: str
        entry: JournalEntry
        actor: str

        def apply(self, c: FixedPriceContract) -> None:
            for moved in self.amounts:
                m = c.milestone(moved.milestone_id)
                remaining = m.escrow - moved.amount
                status = m.status
                if remaining.amount == 0 and m.status is not MilestoneStatus.RELEASED:
                    status = MilestoneStatus.REFUNDED
                c._set_milestone(moved.milestone_id, escrow=remaining, status=status,
                                 fee_held=m.fee_held - moved.fee_or_zero)
            c.marketplace_fee_refunded = c.marketplace_fee_refunded + self.marketplace_fee_refunded
            if self.request_id is not None:
                r = c.refund_requests[self.request_id]
                c.refund_requests = {
                    **c.refund_requests,
                    self.request_id: dataclasses.replace(r, status="approved"),
                }

    class InitiationFeeReturned(Aggregate.Event):
        """The contract ended with nothing released, so its initiation fee went back."""

        fee: Money
        refunded_to: str
        entry: JournalEntry
        actor: str

        def apply(self, c: FixedPriceContract) -> None:
            c.initiation_fee_settled = True

    class Ended(Aggregate.Event):
        ended_by: str
        actor: str
        feedback: str | None

        def apply(self, c: FixedPriceContract) -> None:
            c.status = ContractStatus.ENDED
            c.ended_at = self.timestamp
            c.ended_by = self.ended_by

    # ---- state ---------------------------------------------------------------

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
        first_charge_method: str | None
        initiation_fee: FeeQuote | None
        initiation_fee_settled: bool
        total_released: Money
        marketplace_fee_charged: Money
        marketplace_fee_refunded: Money
        ended_at: datetime | None
        ended_by: str | None

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
        return [
            m for m in self.milestones.values()
            if m.status is MilestoneStatus.RELEASED and m.escrow.amount > 0
        ]

    def refund_request(self, request_id: str) -> RefundRequest:
        try:
            return self.refund_requests[request_id]
        except KeyError:
            raise RefundRequestNotFound(
                f"refund request {request_id} not found on contract {self.id}"
            ) from None

    def escrow_account(self, milestone_id: str) -> str:
        return accounts.escrow(self.id, UUID(milestone_id))

    # ---- commands ------------------------------------------------------------

    @classmethod
    def open(
        cls,
        *,
        contract_id: UUID,
        client_id: str,
        freelancer_id: str,
        currency: str,
        job_id: str | None,
        service_fee_rate: Decimal | None,
        at: datetime,
        actor: str,
        fees: FeeSchedule,
    ) -> FixedPriceContract:
        for name, value in (("client_id", client_id), ("freelancer_id", freelancer_id)):
            if not isinstance(value, str) or not PARTY_ID.fullmatch(value):
                raise InvalidInput(
                    f"{name} must be 1-128 characters of letters, digits and _ . @ -, "
                    f"got {value!r}"
                )
        if client_id == freelancer_id:
            raise InvalidInput("a client cannot hire itself")
        zero(currency)  # refuses an unknown currency
        fees.require_supported_currency(currency)
        rate = fees.validate_contract_rate(service_fee_rate, at)
        return cls._create(
            cls.Opened,
            id=contract_id,
            timestamp=at,
            client_id=client_id,
            freelancer_id=freelancer_id,
            currency=currency,
            job_id=job_id,
            service_fee_rate=rate,
            actor=actor,
        )

    def add_milestone(
        self, *, milestone_id: UUID, title: str, amount: Money, at: datetime, actor: str
    ) -> None:
        self._require_active()
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
        self.trigger_event(
            self.MilestoneAdded,
            timestamp=at,
            milestone_id=str(milestone_id),
            title=title,
            amount=amount,
            actor=actor,
        )

    def fund_milestone(
        self, *, milestone_id: str, method: PaymentMethod, at: datetime, actor: str,
        fees: FeeSchedule,
    ) -> None:
        """Funds the milestone's full amount: carried escrow first, the rest charged."""
        self._require_active()
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
                                          self._fee_share(source, take)))
            still_needed = still_needed - take
        self._record_funding(m, carried, still_needed, method, at, actor, fees, top_up=False)

    def _record_funding(
        self,
        m: Milestone,
        carried: list[EscrowMovement],
        charge: Money,
        method: PaymentMethod,
        at: datetime,
        actor: str,
        fees: FeeSchedule,
        *,
        top_up: bool,
    ) -> None:
        escrow_to = self.escrow_account(m.milestone_id)
        postings: list[Posting | None] = []
        for moved in carried:
            postings.append(leg(Side.DEBIT, self.escrow_account(moved.milestone_id), moved.amount))
            postings.append(leg(Side.CREDIT, escrow_to, moved.amount))
        marketplace: FeeQuote | None = None
        initiation: FeeQuote | None = None
        if charge.amount > 0:
            marketplace = fees.marketplace_fee(charge, at, method)
            if self.initiation_fee is None:
                initiation = fees.initiation_fee(charge, at)
            initiation_amount = initiation.fee if initiation else zero(self.currency)
            total = marketplace.with_fee + initiation_amount
            payer = self._payment_account(method)
            postings += [
                leg(Side.DEBIT, payer, total),
                leg(Side.CREDIT, escrow_to, charge),
                leg(Side.CREDIT, accounts.revenue(Revenue.MARKETPLACE_FEE), marketplace.fee),
                leg(Side.CREDIT, accounts.deferred_initiation_fee(self.id), initiation_amount),
            ]
        legs = [p for p in postings if p is not None]
        entry = (
            JournalEntry.of(f"fund milestone {m.milestone_id} of contract {self.id}", legs)
            if legs else None
        )
        self.trigger_event(
            self.MilestoneFunded,
            timestamp=at,
            milestone_id=m.milestone_id,
            escrow_added=sum((c.amount for c in carried), charge),
            carried_in=carried,
            charged=charge,
            payment_method=method.value,
            marketplace_fee=marketplace,
            initiation_fee=initiation,
            entry=entry,
            actor=actor,
            top_up=top_up,
        )

    def _payment_account(self, method: PaymentMethod) -> str:
        if method is PaymentMethod.CLIENT_CREDIT:
            return accounts.client_credit(self.client_id)
        return accounts.PROCESSOR_CLEARING

    def submit_work(self, *, milestone_id: str, at: datetime, actor: str) -> None:
        self._require_active()
        m = self.milestone(milestone_id)
        if m.status not in (MilestoneStatus.FUNDED, MilestoneStatus.CHANGES_REQUESTED):
            if m.status is MilestoneStatus.CREATED:
                raise NotFunded(f"milestone {milestone_id} has no escrow: fund it before work")
            raise MilestoneStateError(
                f"work cannot be submitted on a milestone that is {m.status.value}"
            )
        self.trigger_event(
            self.WorkSubmitted,
            timestamp=at,
            milestone_id=milestone_id,
            review_due_at=at + REVIEW_PERIOD,
            actor=actor,
        )

    def request_changes(self, *, milestone_id: str, note: str, at: datetime, actor: str) -> None:
        self._require_active()
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
        self.trigger_event(
            self.ChangesRequested, timestamp=at, milestone_id=milestone_id, note=note, actor=actor
        )

    def check_releasable(self, milestone_id: str) -> Milestone:
        self._require_active()
        m = self.milestone(milestone_id)
        if m.status not in (
            MilestoneStatus.FUNDED, MilestoneStatus.SUBMITTED, MilestoneStatus.CHANGES_REQUESTED
        ):
            if m.status is MilestoneStatus.CREATED:
                raise NotFunded(f"milestone {milestone_id} has nothing in escrow to release")
            raise MilestoneStateError(f"milestone {milestone_id} is already {m.status.value}")
        return m

    def review_lapsed(self, milestone_id: str, due: datetime) -> bool:
        """Whether ``due`` is still this milestone's review deadline, so silence approves it."""
        m = self.milestone(milestone_id)
        return (
            self.status is ContractStatus.ACTIVE
            and m.status is MilestoneStatus.SUBMITTED
            and m.review_due_at == due
        )

    def refund_request_lapsed(self, request_id: str, due: datetime) -> bool:
        """Whether the freelancer left this refund request unanswered until ``due``."""
        r = self.refund_request(request_id)
        return r.status == "pending" and r.respond_by == due

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

    def release(
        self,
        *,
        milestone_id: str,
        gross: Money,
        service_fee: FeeQuote,
        available_at: datetime,
        lot_id: str,
        reason: str,
        at: datetime,
        actor: str,
        allow_closed: bool = False,
    ) -> MilestoneReleased:
        """Moves ``gross`` from the milestone's escrow to the freelancer, net of fee.

        The fee is decided by the caller (it depends on the relationship's billings);
        this method checks the escrow can pay it and writes the balanced entry.
        """
        if allow_closed:
            self._require_active()
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
        recognise = (
            self.initiation_fee.fee
            if self.initiation_fee is not None
            and not self.initiation_fee_settled
            and self.initiation_fee.fee.amount > 0
            else None
        )
        entry = JournalEntry.of(
            f"release milestone {milestone_id} of contract {self.id} ({reason})",
            [
                leg(Side.DEBIT, self.escrow_account(milestone_id), gross),
                leg(Side.CREDIT, accounts.freelancer_pending(self.freelancer_id), service_fee.net),
                leg(Side.CREDIT, accounts.revenue(Revenue.SERVICE_FEE), service_fee.fee),
                leg(Side.DEBIT, accounts.deferred_initiation_fee(self.id), recognise)
                if recognise else None,
                leg(Side.CREDIT, accounts.revenue(Revenue.INITIATION_FEE), recognise)
                if recognise else None,
            ],
        )
        self.trigger_event(
            self.MilestoneReleased,
            timestamp=at,
            milestone_id=milestone_id,
            gross=gross,
            service_fee=service_fee,
            net=service_fee.net,
            escrow_remaining=m.escrow - gross,
            marketplace_fee_retained=self._fee_share(m, gross),
            initiation_fee_recognised=recognise,
            available_at=available_at,
            lot_id=lot_id,
            reason=reason,
            entry=entry,
            actor=actor,
        )
        event = self.pending_events[-1]
        assert isinstance(event, self.MilestoneReleased)
        return event

    def plan_payment_on_end(self, pay: Money | None) -> list[EscrowMovement]:
        """Which milestones pay ``pay`` (None = all escrow), oldest escrow first."""
        self._require_active()
        held = self.escrow_balance()
        target = held if pay is None else pay
        require_same_currency(target, held)
        if target.amount < 0:
            raise InvalidInput("payment on ending a contract cannot be negative")
        if target > held:
            raise InsufficientEscrow(
                f"cannot pay {target.amount} on ending: only {held.amount} {self.currency} "
                "is in escrow"
            )
        plan: list[EscrowMovement] = []
        left = target
        for m in self.milestones.values():
            if left.amount == 0:
                break
            if m.escrow.amount > 0:
                take = min(m.escrow, left)
                plan.append(EscrowMovement(m.milestone_id, take))
                left = left - take
        return plan

    def remaining_escrow(self) -> list[EscrowMovement]:
        return [
            EscrowMovement(m.milestone_id, m.escrow)
            for m in self.milestones.values() if m.escrow.amount > 0
        ]

    def request_escrow_refund(self, *, request_id: str, at: datetime, actor: str) -> None:
        """After the client's chosen payment, the rest of escrow awaits the freelancer."""
        amounts = self.remaining_escrow()
        total = sum((a.amount for a in amounts), zero(self.currency))
        if total.amount == 0:
            raise EscrowError("nothing left in escrow to refund")
        self.trigger_event(
            self.EscrowRefundRequested,
            timestamp=at,
            request_id=request_id,
            amounts=amounts,
            total=total,
            respond_by=at + REFUND_REQUEST_RESPONSE,
            actor=actor,
        )

    def approve_refund_request(self, *, request_id: str, at: datetime, actor: str) -> None:
        r = self.refund_request(request_id)
        if r.status != "pending":
            raise RefundRequestStateError(f"refund request {request_id} is already {r.status}")
        self._refund(list(r.amounts), request_id, "refund request approved by the freelancer",
                     at, actor)
        self._end(Party.CLIENT, actor, at, feedback=None)

    def end(
        self, *, by: Party, at: datetime, actor: str, feedback: str | None
    ) -> None:
        """Ends the contract once escrow is settled (the caller paid what was chosen).

        A freelancer ending returns all escrow at once; a client ending with
        escrow left opens a refund request instead of ending.
        """
        self._require_active()
        if by is Party.FREELANCER:
            amounts = self.remaining_escrow()
            if amounts:
                self._refund(amounts, None, "contract ended by the freelancer", at, actor)
        elif self.escrow_balance().amount > 0:
            raise EscrowError("escrow is still held: request its refund before ending")
        self._end(by, actor, at, feedback)

    def _end(self, by: Party, actor: str, at: datetime, feedback: str | None) -> None:
        if self._initiation_fee_outstanding() and self.total_released.amount == 0:
            self._return_initiation_fee(at, actor)
        self.trigger_event(self.Ended, timestamp=at, ended_by=by.value, actor=actor,
                           feedback=feedback)

    def _initiation_fee_outstanding(self) -> bool:
        return (
            self.initiation_fee is not None
            and not self.initiation_fee_settled
            and self.initiation_fee.fee.amount > 0
        )

    def _return_initiation_fee(self, at: datetime, actor: str) -> None:
        assert self.initiation_fee is not None
        fee = self.initiation_fee.fee
        refund_to = self._payment_account(PaymentMethod(self.first_charge_method or "card"))
        entry = JournalEntry.of(
            f"return initiation fee of contract {self.id}: ended with nothing released",
            [
                leg(Side.DEBIT, accounts.deferred_initiation_fee(self.id), fee),
                leg(Side.CREDIT, refund_to, fee),
            ],
        )
        self.trigger_event(
            self.InitiationFeeReturned,
            timestamp=at,
            fee=fee,
            refunded_to=refund_to,
            entry=entry,
            actor=actor,
        )

    def _refund(
        self, amounts: list[EscrowMovement], request_id: str | None, reason: str,
        at: datetime, actor: str,
    ) -> None:
        total = sum((a.amount for a in amounts), zero(self.currency))
        for a in amounts:
            if a.amount > self.milestone(a.milestone_id).escrow:
                raise InsufficientEscrow(
                    f"refund of {a.amount.amount} exceeds escrow of milestone {a.milestone_id}"
                )
        amounts = [
            EscrowMovement(a.milestone_id, a.amount,
                           self._fee_share(self.milestone(a.milestone_id), a.amount))
            for a in amounts
        ]
        fee_back = sum((a.fee_or_zero for a in amounts), zero(self.currency))
        refund_to = self._payment_account(PaymentMethod(self.first_charge_method or "card"))
        entry = JournalEntry.of(
            f"refund escrow of contract {self.id} ({reason})",
            [
                *(leg(Side.DEBIT, self.escrow_account(a.milestone_id), a.amount) for a in amounts),
                leg(Side.DEBIT, accounts.revenue(Revenue.MARKETPLACE_FEE), fee_back),
                leg(Side.CREDIT, refund_to, total + fee_back),
            ],
        )
        self.trigger_event(
            self.EscrowRefunded,
            timestamp=at,
            request_id=request_id,
            amounts=amounts,
            total=total,
            refunded_to=refund_to,
            marketplace_fee_refunded=fee_back,
            marketplace_fee_policy=(
                "assumed: the marketplace fee paid on the refunded escrow is refunded, per "
                "milestone in proportion to its escrow (domain.md: not published)"
            ),
            reason=reason,
            entry=entry,
            actor=actor,
        )

    def _fee_share(self, m: Milestone, amount: Money) -> Money:
        """The marketplace fee that travels with ``amount`` of this milestone's escrow.

        In proportion to the escrow, rounded half-up, never more than the fee held;
        taking all the escrow takes all the fee, so shares never lose or invent a cent.
        """
        if m.escrow.amount == 0 or m.fee_held.amount == 0:
            return zero(self.currency)
        if amount >= m.escrow:
            return m.fee_held
        share = round_half_up(Money(m.fee_held.amount * amount.amount / m.escrow.amount,
                                    m.fee_held.currency))
        return min(share, m.fee_held)

    def _require_active(self) -> None:
        if self.status is not ContractStatus.ACTIVE:
            raise ContractNotActive(f"contract {self.id} is {self.status.value}")

    def _set_milestone(self, milestone_id: str, **changes: Any) -> None:
        self.milestones = {
            **self.milestones,
            milestone_id: dataclasses.replace(self.milestones[milestone_id], **changes),
        }

