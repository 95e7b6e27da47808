"""What happened on a fixed-price contract: its events, each a fact in the past tense.

Each ``apply`` only assigns state, so a replay never re-runs a rule written
after the fact. ``deadline_changes`` says which clocks an event starts or
stops, for the due-deadlines read model. The aggregate adopts these classes
as its nested events (``FixedPriceContract.Opened``), which is also their
stored topic.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate
from moneyed import Money

from domain.bookkeeping.postings import JournalEntry
from domain.contracts.chargebacks import ChargeKind, ChargeRecord, payment_id_of, record_charge
from domain.contracts.dormancy import restart_clocks, touch
from domain.contracts.escrow import payment_account
from domain.contracts.feedback import Feedback
from domain.contracts.milestone import EscrowMovement, Milestone, MilestoneStatus
from domain.contracts.refund_request import RefundRequest
from domain.contracts.terms import ContractStatus, adopt_opening_terms
from domain.deadlines import DeadlineChange, DeadlineKind, started, stopped
from domain.fees.methods import PaymentMethod
from domain.fees.quotes import FeeQuote
from domain.money import zero

if TYPE_CHECKING:
    from domain.contracts.fixed_price import FixedPriceContract

AUTO_RELEASE = DeadlineKind.AUTO_RELEASE
REFUND_TIMEOUT = DeadlineKind.REFUND_REQUEST_TIMEOUT


class Opened(Aggregate.Created):
    client_id: str
    freelancer_id: str
    currency: str
    job_id: str | None
    service_fee_rate: Decimal | None
    actor: str

    def apply(self, c: FixedPriceContract) -> None:
        adopt_opening_terms(c, self)
        c.milestones = {}
        c.refund_requests = {}
        c.disputes = {}
        touch(c, self.timestamp)
        c.first_charge_method = None
        c.initiation_fee_settled = False
        c.total_released = zero(self.currency)
        c.marketplace_fee_charged = zero(self.currency)
        c.marketplace_fee_refunded = zero(self.currency)


class MilestoneAdded(Aggregate.Event):
    milestone_id: str
    title: str
    amount: Money
    actor: str
    dormancy_watched: bool | None = None
    """Whether escrow is still held on the active contract after this (None: not
    recorded, on events stored before it was)."""

    def apply(self, c: FixedPriceContract) -> None:
        none = zero(c.currency)
        c.milestones = {
            **c.milestones,
            self.milestone_id: Milestone(self.milestone_id, self.title, self.amount,
                                         MilestoneStatus.CREATED, none, none, none),
        }
        touch(c, self.timestamp)

    def deadline_changes(self) -> list[DeadlineChange]:
        return restart_clocks(self.originator_id, self.timestamp, self.dormancy_watched)


class MilestoneFunded(Aggregate.Event):
    """Money entered escrow for a milestone: carried escrow first, then a charge.

    ``charged`` is what the client paid into escrow now (before fees);
    ``carried_in`` is escrow left over from earlier partial releases;
    ``payment_id`` names the charge (None when nothing was charged).
    Version 2 added ``payment_id``; version 1 events get theirs on upcast.
    """

    class_version = 2

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
    payment_id: str | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["payment_id"] = payment_id_of(state, state["charged"].amount > 0)

    def apply(self, c: FixedPriceContract) -> None:
        fee_in = zero(c.currency)
        for moved in self.carried_in:
            source = c.milestone(moved.milestone_id)
            c.set_milestone(moved.milestone_id, escrow=source.escrow - moved.amount,
                            fee_held=source.fee_held - moved.fee_or_zero)
            fee_in = fee_in + moved.fee_or_zero
        if self.marketplace_fee is not None:
            fee_in = fee_in + self.marketplace_fee.fee
            c.marketplace_fee_charged = c.marketplace_fee_charged + self.marketplace_fee.fee
        m = c.milestone(self.milestone_id)
        status = m.status if self.top_up else MilestoneStatus.FUNDED
        c.set_milestone(self.milestone_id, escrow=m.escrow + self.escrow_added,
                        fee_held=m.fee_held + fee_in, status=status)
        if self.charged.amount > 0 and c.first_charge_method is None:
            c.first_charge_method = self.payment_method
        if self.initiation_fee is not None:
            c.initiation_fee = self.initiation_fee
        if self.payment_id is not None:
            initiation = self.initiation_fee.fee if self.initiation_fee else zero(c.currency)
            marketplace = self.marketplace_fee.fee if self.marketplace_fee else zero(c.currency)
            record_charge(c, ChargeRecord(
                self.payment_id, self.timestamp, ChargeKind.ESCROW_FUNDING,
                self.charged + marketplace + initiation, zero(c.currency),
                payment_account(c.client_id, PaymentMethod(self.payment_method))))
        touch(c, self.timestamp)

    def deadline_changes(self) -> list[DeadlineChange]:
        return restart_clocks(self.originator_id, self.timestamp)


class WorkSubmitted(Aggregate.Event):
    milestone_id: str
    review_due_at: datetime
    actor: str

    def apply(self, c: FixedPriceContract) -> None:
        c.set_milestone(self.milestone_id, status=MilestoneStatus.SUBMITTED,
                        review_due_at=self.review_due_at)
        touch(c, self.timestamp)

    def deadline_changes(self) -> list[DeadlineChange]:
        return [*restart_clocks(self.originator_id, self.timestamp),
                started(AUTO_RELEASE, self.originator_id, self.milestone_id, self.review_due_at)]


class ChangesRequested(Aggregate.Event):
    milestone_id: str
    note: str
    actor: str

    def apply(self, c: FixedPriceContract) -> None:
        c.set_milestone(self.milestone_id, status=MilestoneStatus.CHANGES_REQUESTED,
                        review_due_at=None)
        touch(c, self.timestamp)

    def deadline_changes(self) -> list[DeadlineChange]:
        return [*restart_clocks(self.originator_id, self.timestamp),
                stopped(AUTO_RELEASE, self.originator_id, self.milestone_id)]


class MilestoneReleased(Aggregate.Event):
    """Escrow went to the freelancer: gross = net + service fee, to the cent.

    ``reason`` says which rule released it (approval, silence, end of contract);
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
    dormancy_watched: bool | None = None
    """Whether escrow is still held on the active contract after this (None: not
    recorded, on events stored before it was)."""

    def apply(self, c: FixedPriceContract) -> None:
        m = c.milestone(self.milestone_id)
        c.set_milestone(self.milestone_id, escrow=m.escrow - self.gross,
                        fee_held=m.fee_held - self.marketplace_fee_retained,
                        released=m.released + self.gross, status=MilestoneStatus.RELEASED,
                        review_due_at=None)
        c.total_released = c.total_released + self.gross
        c.record_payment(self.timestamp, self.net, f"milestone {self.milestone_id}")
        if self.initiation_fee_recognised is not None:
            c.initiation_fee_settled = True
        touch(c, self.timestamp)

    def deadline_changes(self) -> list[DeadlineChange]:
        return [*restart_clocks(self.originator_id, self.timestamp, self.dormancy_watched),
                stopped(AUTO_RELEASE, self.originator_id, self.milestone_id)]


class EscrowRefundRequested(Aggregate.Event):
    """The client ended the contract; what was not paid awaits the freelancer's answer.

    ``refund_to`` is where the client wants the refund: ``payment_method`` (the
    first charge's) or ``client_credit`` (kept on the platform). Version 2 added
    it; version 1 events get the only behaviour there was, ``payment_method``.
    ``feedback`` and ``feedback_rating`` are the client's public feedback, kept
    for the ``Ended`` event once the contract ends; version 3 added them (None
    before: the feedback of such an ending was not recorded).
    """

    class_version = 3

    request_id: str
    amounts: list[EscrowMovement]
    total: Money
    respond_by: datetime
    actor: str
    refund_to: str
    feedback: str | None
    feedback_rating: int | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["refund_to"] = "payment_method"

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        state["feedback"] = None
        state["feedback_rating"] = None

    def apply(self, c: FixedPriceContract) -> None:
        c.refund_requests = {
            **c.refund_requests,
            self.request_id: RefundRequest(self.request_id, tuple(self.amounts), self.total,
                                           self.respond_by, "pending", self.refund_to),
        }
        c.status = ContractStatus.ENDING
        c.ending_feedback = Feedback.recorded(self.feedback_rating, self.feedback)

    def deadline_changes(self) -> list[DeadlineChange]:
        # the contract is ending: every review clock on it stops
        return [
            *(stopped(AUTO_RELEASE, self.originator_id, a.milestone_id) for a in self.amounts),
            started(REFUND_TIMEOUT, self.originator_id, self.request_id, self.respond_by),
            *restart_clocks(self.originator_id, self.timestamp, False),  # no longer active
        ]


class EscrowRefunded(Aggregate.Event):
    """Escrow went back to the client, with the marketplace fee on it (assumed policy).

    ``refund_to`` is the client's choice (``payment_method`` or ``client_credit``);
    ``refunded_to`` the account the money went to (client credit after a chargeback
    not won, whatever the choice). Version 2 added ``refund_to``; version 1 events
    get ``payment_method``, the only choice there was.
    """

    class_version = 2

    request_id: str | None
    amounts: list[EscrowMovement]
    total: Money
    refunded_to: str
    marketplace_fee_refunded: Money
    marketplace_fee_policy: str
    reason: str
    entry: JournalEntry
    actor: str
    refund_to: str
    dormancy_watched: bool | None = None
    """Whether escrow is still held on the active contract after this (None: not
    recorded, on events stored before it was)."""

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["refund_to"] = "payment_method"

    def apply(self, c: FixedPriceContract) -> None:
        for moved in self.amounts:
            m = c.milestone(moved.milestone_id)
            remaining = m.escrow - moved.amount
            status = m.status
            if remaining.amount == 0 and m.status is not MilestoneStatus.RELEASED:
                status = MilestoneStatus.REFUNDED
            c.set_milestone(moved.milestone_id, escrow=remaining, status=status,
                            fee_held=m.fee_held - moved.fee_or_zero)
        c.marketplace_fee_refunded = c.marketplace_fee_refunded + self.marketplace_fee_refunded
        if self.request_id is not None:
            r = c.refund_requests[self.request_id]
            c.refund_requests = {
                **c.refund_requests,
                self.request_id: dataclasses.replace(r, status="approved"),
            }
        touch(c, self.timestamp)

    def deadline_changes(self) -> list[DeadlineChange]:
        # the contract ends here; every review clock on it stops
        changes = [stopped(AUTO_RELEASE, self.originator_id, a.milestone_id)
                   for a in self.amounts]
        if self.request_id is not None:
            changes.append(stopped(REFUND_TIMEOUT, self.originator_id, self.request_id))
        return [*changes,
                *restart_clocks(self.originator_id, self.timestamp, self.dormancy_watched)]


class InitiationFeeReturned(Aggregate.Event):
    """The contract ended with nothing released, so its initiation fee went back.

    Version 2 added ``refund_to``, the client's choice (see ``EscrowRefunded``).
    """

    class_version = 2

    fee: Money
    refunded_to: str
    entry: JournalEntry
    actor: str
    refund_to: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["refund_to"] = "payment_method"

    def apply(self, c: FixedPriceContract) -> None:
        c.initiation_fee_settled = True
