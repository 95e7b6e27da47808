"""What happened in a fixed-price dispute: its events, each a fact in the past tense.

Adopted by ``FixedPriceContract`` (the disputed escrow is the contract's), so
each is stored as ``FixedPriceContract.DisputeOpened`` and so on. Each
``apply`` only assigns state; ``deadline_changes`` stops the clock of the
stage left and starts the clock of the stage entered.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate
from moneyed import Money

from domain.bookkeeping.postings import JournalEntry
from domain.contracts import fixed_price_ending as ending
from domain.contracts.dispute import (
    DISPUTE_CLOCKS,
    DisputeOrigin,
    DisputeStage,
    FixedPriceDispute,
    Outcome,
    Resolution,
)
from domain.contracts.dormancy import restart_clocks, touch
from domain.contracts.milestone import EscrowMovement, MilestoneStatus
from domain.deadlines import DeadlineChange, DeadlineKind, started, stopped
from domain.fees.quotes import FeeQuote

if TYPE_CHECKING:
    from domain.contracts.fixed_price import FixedPriceContract


def _replace(c: FixedPriceContract, dispute_id: str, **changes: Any) -> None:
    c.disputes = {**c.disputes,
                  dispute_id: dataclasses.replace(c.disputes[dispute_id], **changes)}


def _clocks(c: FixedPriceContract, dispute_id: str, kind: DeadlineKind,
            due: datetime) -> tuple[tuple[DeadlineKind, datetime], ...]:
    return (*c.disputes[dispute_id].clocks, (kind, due))


def _stop_all(subject: object, dispute_id: str) -> list[DeadlineChange]:
    return [stopped(kind, subject, dispute_id) for kind in DISPUTE_CLOCKS]


class DisputeOpened(Aggregate.Event):
    """The freelancer disputed: the escrow named in ``amounts`` is frozen.

    ``request_id`` names the escrow refund request the escrow was taken from
    (a dispute of the request, or of one milestone of it); the review clocks
    of the milestones stop, and so does the request's clock when nothing of
    it is left to refund (``request_emptied``).
    """

    dispute_id: str
    origin: str
    request_id: str | None
    amounts: list[EscrowMovement]
    total: Money
    marketplace_fee_held: Money
    respond_by: datetime
    request_emptied: bool
    entry: JournalEntry
    actor: str

    def apply(self, c: FixedPriceContract) -> None:
        for moved in self.amounts:
            m = c.milestone(moved.milestone_id)
            c.set_milestone(moved.milestone_id, escrow=m.escrow - moved.amount,
                            fee_held=m.fee_held - moved.fee_or_zero,
                            status=MilestoneStatus.DISPUTED, review_due_at=None)
        if self.request_id is not None:
            ending.take_from_refund_request(c, self.request_id,
                                       {m.milestone_id for m in self.amounts})
        c.disputes = {**c.disputes, self.dispute_id: FixedPriceDispute(
            self.dispute_id, DisputeOrigin(self.origin), self.request_id, tuple(self.amounts),
            self.total, self.marketplace_fee_held, self.timestamp, self.actor,
            DisputeStage.AWAITING_RESPONSE, self.respond_by,
            clocks=((DeadlineKind.DISPUTE_RESPONSE, self.respond_by),))}
        touch(c, self.timestamp)

    def deadline_changes(self) -> list[DeadlineChange]:
        changes = [stopped(DeadlineKind.AUTO_RELEASE, self.originator_id, m.milestone_id)
                   for m in self.amounts]
        if self.request_id is not None and self.request_emptied:
            changes.append(stopped(DeadlineKind.REFUND_REQUEST_TIMEOUT, self.originator_id,
                                   self.request_id))
        changes.append(started(DeadlineKind.DISPUTE_RESPONSE, self.originator_id,
                               self.dispute_id, self.respond_by))
        # escrow under dispute is not dormant: the dispute's own clocks run instead
        return [*changes, *restart_clocks(self.originator_id, self.timestamp, False)]


class DisputeResponded(Aggregate.Event):
    """The client responded in time: mediation begins, a proposal due within 2 days."""

    dispute_id: str
    propose_by: datetime
    actor: str

    def apply(self, c: FixedPriceContract) -> None:
        _replace(c, self.dispute_id, stage=DisputeStage.MEDIATION, due_at=self.propose_by,
                 clocks=_clocks(c, self.dispute_id, DeadlineKind.MEDIATION_PROPOSAL,
                                self.propose_by))

    def deadline_changes(self) -> list[DeadlineChange]:
        return [stopped(DeadlineKind.DISPUTE_RESPONSE, self.originator_id, self.dispute_id),
                started(DeadlineKind.MEDIATION_PROPOSAL, self.originator_id, self.dispute_id,
                        self.propose_by)]


class MediationProposed(Aggregate.Event):
    """The mediator proposed a split: ``release`` to the freelancer, the rest refunded."""

    dispute_id: str
    release: Money
    refund: Money
    accept_by: datetime
    actor: str

    def apply(self, c: FixedPriceContract) -> None:
        _replace(c, self.dispute_id, stage=DisputeStage.PROPOSED, due_at=self.accept_by,
                 proposal=self.release, accepted_by=(),
                 clocks=_clocks(c, self.dispute_id, DeadlineKind.MEDIATION_ACCEPTANCE,
                                self.accept_by))

    def deadline_changes(self) -> list[DeadlineChange]:
        return [stopped(DeadlineKind.MEDIATION_PROPOSAL, self.originator_id, self.dispute_id),
                started(DeadlineKind.MEDIATION_ACCEPTANCE, self.originator_id,
                        self.dispute_id, self.accept_by)]


class MediationAccepted(Aggregate.Event):
    """One party accepted the proposal; both accepting settles the dispute."""

    dispute_id: str
    by: str
    actor: str

    def apply(self, c: FixedPriceContract) -> None:
        d = c.disputes[self.dispute_id]
        _replace(c, self.dispute_id, accepted_by=(*d.accepted_by, self.by))


class ArbitrationStarted(Aggregate.Event):
    """Mediation failed (declined, no proposal, or not accepted in time).

    Each party has until ``fees_due_by`` to agree and pay ``fee_per_party``.
    """

    dispute_id: str
    reason: str
    declined_by: str | None
    fees_due_by: datetime
    fee_per_party: Money
    fee_schedule: str
    actor: str

    def apply(self, c: FixedPriceContract) -> None:
        _replace(c, self.dispute_id, stage=DisputeStage.ARBITRATION, due_at=self.fees_due_by,
                 arbitration_reason=self.reason,
                 clocks=_clocks(c, self.dispute_id, DeadlineKind.ARBITRATION_FEE,
                                self.fees_due_by))

    def deadline_changes(self) -> list[DeadlineChange]:
        return [stopped(DeadlineKind.MEDIATION_PROPOSAL, self.originator_id, self.dispute_id),
                stopped(DeadlineKind.MEDIATION_ACCEPTANCE, self.originator_id,
                        self.dispute_id),
                started(DeadlineKind.ARBITRATION_FEE, self.originator_id, self.dispute_id,
                        self.fees_due_by)]


class ArbitrationFeePaid(Aggregate.Event):
    """A party paid its arbitration fee into *arbitration payable*: never returned."""

    dispute_id: str
    by: str
    fee: Money
    fee_schedule: str
    paid_from: str
    entry: JournalEntry
    actor: str

    def apply(self, c: FixedPriceContract) -> None:
        d = c.disputes[self.dispute_id]
        paid = (*d.fees_paid, self.by)
        if len(paid) == 2:
            _replace(c, self.dispute_id, fees_paid=paid, stage=DisputeStage.AWAITING_RULING,
                     due_at=None)
        else:
            _replace(c, self.dispute_id, fees_paid=paid)

    def deadline_changes(self) -> list[DeadlineChange]:
        # Once both paid the clock is moot: its firing finds the stage moved on.
        return []


class DisputeResolved(Aggregate.Event):
    """The outcome moved the disputed escrow: ``released`` to the freelancer (net of the
    service fee, pending 5 days), ``refunded`` to the client with its share of the
    marketplace fee; released + refunded = the escrow frozen, to the cent."""

    dispute_id: str
    outcome: str
    reason: str
    released: Money
    service_fee: FeeQuote | None
    net: Money
    refunded: Money
    marketplace_fee_refunded: Money
    refunded_to: str
    initiation_fee_recognised: Money | None
    available_at: datetime | None
    lot_id: str | None
    entry: JournalEntry
    actor: str
    dormancy_watched: bool | None = None

    def apply(self, c: FixedPriceContract) -> None:
        d = c.disputes[self.dispute_id]
        left = self.released
        for moved in d.amounts:
            part = min(moved.amount, left)
            left = left - part
            m = c.milestone(moved.milestone_id)
            c.set_milestone(moved.milestone_id, released=m.released + part,
                            status=MilestoneStatus.RELEASED if part.amount > 0
                            else MilestoneStatus.REFUNDED)
        _replace(c, self.dispute_id, stage=DisputeStage.RESOLVED, due_at=None,
                 outcome=Outcome(self.outcome), resolution=Resolution(
                     self.reason, self.released,
                     self.service_fee.fee if self.service_fee else self.net * 0, self.net,
                     self.refunded, self.marketplace_fee_refunded,
                     self.initiation_fee_recognised, self.available_at, self.timestamp))
        c.total_released = c.total_released + self.released
        c.marketplace_fee_refunded = c.marketplace_fee_refunded + self.marketplace_fee_refunded
        if self.released.amount > 0:
            c.record_payment(self.timestamp, self.net, f"dispute {self.dispute_id}")
        if self.initiation_fee_recognised is not None:
            c.initiation_fee_settled = True
        touch(c, self.timestamp)

    def deadline_changes(self) -> list[DeadlineChange]:
        return [*_stop_all(self.originator_id, self.dispute_id),
                *restart_clocks(self.originator_id, self.timestamp, self.dormancy_watched)]
