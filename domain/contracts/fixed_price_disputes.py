"""Fixed-price disputes: what may be disputed, who may take each step, and the outcome.

Opening a dispute moves the escrow out of the milestones into *escrow under
dispute*, where no approval, refund or auto-release can reach it. Each later
step checks the stage, the party and the stage's window; only the outcome
(``resolve``) moves the money, and it moves all of it: the part released is
settled like any release (service fee, pending 5 days, the initiation fee
recognised), the part refunded goes back with its share of the marketplace fee.
"""

from __future__ import annotations

from datetime import datetime

from moneyed import Money

from domain.bookkeeping import accounts
from domain.bookkeeping.accounts import Revenue
from domain.bookkeeping.postings import JournalEntry, Side, leg
from domain.contracts import escrow
from domain.contracts import fixed_price_ending as ending
from domain.contracts.dispute import (
    OUTCOME_REASONS,
    DisputeOrigin,
    DisputeStage,
    FixedPriceDispute,
    Outcome,
)
from domain.contracts.dispute_events import DisputeResolved
from domain.contracts.fixed_price import FixedPriceContract
from domain.contracts.hourly_disputes import share
from domain.contracts.milestone import EscrowMovement, MilestoneStatus
from domain.contracts.references import DISPUTE, reference
from domain.contracts.settlement import Parties, credit_earnings, service_fee_on
from domain.contracts.terms import ContractStatus, Party
from domain.deadlines import DeadlineKind
from domain.errors import (
    DisputeNotFound,
    DisputeOpen,
    DisputeStateError,
    InsufficientEscrow,
    InvalidInput,
    MilestoneStateError,
    RefundRequestStateError,
    WindowClosed,
    WrongParty,
)
from domain.fees.schedule import FeeSchedule
from domain.money import require_same_currency, zero
from domain.periods import (
    ARBITRATION_FEE,
    DISPUTE_RESPONSE,
    MEDIATION_ACCEPTANCE,
    MEDIATION_PROPOSAL,
    SECURITY_PERIOD,
)

NO_PROPOSAL = "no mediation proposal within 2 days of the client's response"
NOT_ACCEPTED = "the mediation proposal was not accepted by both parties within 2 days"


def dispute_of(c: FixedPriceContract, dispute_id: str) -> FixedPriceDispute:
    try:
        return c.disputes[dispute_id]
    except KeyError:
        raise DisputeNotFound(f"dispute {dispute_id} not found on contract {c.id}") from None


def _at_stage(c: FixedPriceContract, dispute_id: str, stage: DisputeStage, at: datetime,
              step: str) -> FixedPriceDispute:
    d = dispute_of(c, dispute_id)
    if d.stage is not stage:
        raise DisputeStateError(f"dispute {dispute_id} is {d.stage.value}: {step} needs it "
                                f"{stage.value}")
    if d.due_at is not None and at >= d.due_at:
        raise WindowClosed(f"dispute {dispute_id}: the window for {step} closed at "
                           f"{d.due_at.isoformat()}")
    return d


def _require(by: Party, allowed: Party, step: str) -> None:
    if by is not allowed:
        raise WrongParty(f"only the {allowed.value} may {step}, not the {by.value}")


# ---- opening -------------------------------------------------------------------------


def open_on_refund_request(c: FixedPriceContract, *, request_id: str, at: datetime,
                           actor: str) -> str:
    """The freelancer disputes an escrow refund request within its 7 days: all of it."""
    r = c.refund_request(request_id)
    if r.status != "pending":
        raise RefundRequestStateError(f"refund request {request_id} is already {r.status}")
    if at >= r.respond_by:
        raise WindowClosed(f"refund request {request_id} could be disputed until "
                           f"{r.respond_by.isoformat()}")
    return _open(c, DisputeOrigin.REFUND_REQUEST, request_id,
                 [EscrowMovement(a.milestone_id, c.milestone(a.milestone_id).escrow)
                  for a in r.amounts], emptied=True, at=at, actor=actor)


def open_on_milestone(c: FixedPriceContract, *, milestone_id: str, at: datetime,
                      actor: str) -> str:
    """The freelancer disputes a milestone whose work the client will not release.

    On an active contract that is a milestone where changes were requested;
    on a contract the client is ending, a milestone of the pending refund
    request (the client chose to pay none or part of it): only that milestone's
    escrow leaves the request, whose own clock runs on for the rest.
    """
    m = c.milestone(milestone_id)
    if m.status is MilestoneStatus.DISPUTED:
        raise DisputeOpen(f"milestone {milestone_id} is already in dispute")
    if m.escrow.amount == 0:
        raise MilestoneStateError(f"milestone {milestone_id} has no escrow to dispute "
                                  f"({m.status.value})")
    if c.status is ContractStatus.ACTIVE:
        if m.status is not MilestoneStatus.CHANGES_REQUESTED:
            raise MilestoneStateError(
                f"milestone {milestone_id} is {m.status.value}: a milestone can be disputed "
                "after the client requested changes, or when the client ends the contract "
                "without paying it")
        return _open(c, DisputeOrigin.MILESTONE, None,
                     [EscrowMovement(milestone_id, m.escrow)], emptied=False, at=at,
                     actor=actor)
    pending = [r for r in c.refund_requests.values() if r.status == "pending"
               and any(a.milestone_id == milestone_id for a in r.amounts)]
    if not pending:
        c.require_active()
    r = pending[0]
    if at >= r.respond_by:
        raise WindowClosed(f"refund request {r.request_id} could be disputed until "
                           f"{r.respond_by.isoformat()}")
    return _open(c, DisputeOrigin.MILESTONE, r.request_id,
                 [EscrowMovement(milestone_id, m.escrow)],
                 emptied=all(a.milestone_id == milestone_id for a in r.amounts),
                 at=at, actor=actor)


def open_on_dormancy(c: FixedPriceContract, *, at: datetime, actor: str) -> str:
    """The client disputes a dormant contract's release request: all of its escrow."""
    return _open(c, DisputeOrigin.DORMANCY, None, c.remaining_escrow(), emptied=False, at=at,
                 actor=actor)


def _open(c: FixedPriceContract, origin: DisputeOrigin, request_id: str | None,
          amounts: list[EscrowMovement], *, emptied: bool, at: datetime, actor: str) -> str:
    amounts = [EscrowMovement(a.milestone_id, a.amount,
                              escrow.fee_share(c.milestone(a.milestone_id), a.amount))
               for a in amounts if a.amount.amount > 0]
    if not amounts:
        raise InsufficientEscrow("nothing is left in escrow to dispute")
    dispute_id = reference(DISPUTE, c.id, c.version + 1)
    total = sum((a.amount for a in amounts), zero(c.currency))
    entry = JournalEntry.of(f"dispute {dispute_id}: escrow of contract {c.id} frozen", [
        *(leg(Side.DEBIT, c.escrow_account(a.milestone_id), a.amount) for a in amounts),
        leg(Side.CREDIT, accounts.escrow_under_dispute(c.id), total),
    ])
    c.trigger_event(
        c.DisputeOpened, timestamp=at, dispute_id=dispute_id, origin=origin.value,
        request_id=request_id, amounts=amounts, total=total,
        marketplace_fee_held=sum((a.fee_or_zero for a in amounts), zero(c.currency)),
        respond_by=at + DISPUTE_RESPONSE, request_emptied=emptied, entry=entry, actor=actor)
    return dispute_id


# ---- mediation and arbitration -------------------------------------------------------


def respond(c: FixedPriceContract, *, dispute_id: str, by: Party, at: datetime,
            actor: str) -> None:
    _require(by, Party.CLIENT, "respond to a dispute")
    _at_stage(c, dispute_id, DisputeStage.AWAITING_RESPONSE, at, "the client's response")
    c.trigger_event(c.DisputeResponded, timestamp=at, dispute_id=dispute_id,
                    propose_by=at + MEDIATION_PROPOSAL, actor=actor)


def _split(d: FixedPriceDispute, release: Money) -> Money:
    require_same_currency(release, d.total)
    if release.amount < 0 or release > d.total:
        raise InvalidInput(f"the amount released must be between 0 and the "
                           f"{d.total.amount} {d.total.currency.code} in dispute, got "
                           f"{release.amount}")
    return d.total - release


def propose(c: FixedPriceContract, *, dispute_id: str, release: Money, at: datetime,
            actor: str) -> None:
    d = _at_stage(c, dispute_id, DisputeStage.MEDIATION, at, "a mediation proposal")
    refund = _split(d, release)
    c.trigger_event(c.MediationProposed, timestamp=at, dispute_id=dispute_id,
                    release=release, refund=refund, accept_by=at + MEDIATION_ACCEPTANCE,
                    actor=actor)


def accept(p: Parties, *, dispute_id: str, by: Party, at: datetime, actor: str,
           fees: FeeSchedule) -> DisputeResolved | None:
    """Records one party's acceptance; the second settles the dispute as proposed."""
    c = p.contract
    d = _at_stage(c, dispute_id, DisputeStage.PROPOSED, at, "accepting the proposal")
    if by.value in d.accepted_by:
        raise DisputeStateError(f"the {by.value} already accepted the proposal of dispute "
                                f"{dispute_id}")
    c.trigger_event(c.MediationAccepted, timestamp=at, dispute_id=dispute_id, by=by.value,
                    actor=actor)
    if len(d.accepted_by) + 1 < 2:
        return None
    assert d.proposal is not None
    return resolve(p, dispute_id=dispute_id, release=d.proposal,
                   outcome=Outcome.MEDIATION_ACCEPTED, at=at, actor=actor, fees=fees)


def decline(c: FixedPriceContract, *, dispute_id: str, by: Party, at: datetime, actor: str,
            fees: FeeSchedule) -> None:
    _at_stage(c, dispute_id, DisputeStage.PROPOSED, at, "declining the proposal")
    start_arbitration(c, dispute_id=dispute_id, reason=f"the {by.value} declined the "
                      "mediation proposal", declined_by=by, at=at, actor=actor, fees=fees)


def start_arbitration(c: FixedPriceContract, *, dispute_id: str, reason: str,
                      declined_by: Party | None, at: datetime, actor: str,
                      fees: FeeSchedule) -> None:
    c.trigger_event(c.ArbitrationStarted, timestamp=at, dispute_id=dispute_id, reason=reason,
                    declined_by=None if declined_by is None else declined_by.value,
                    fees_due_by=at + ARBITRATION_FEE,
                    fee_per_party=fees.arbitration_fee(c.currency),
                    fee_schedule=fees.version, actor=actor)


def pay_arbitration_fee(c: FixedPriceContract, *, dispute_id: str, by: Party, at: datetime,
                        actor: str, fees: FeeSchedule) -> Money:
    """The party agrees to arbitration and pays its fee (by card, through the processor)."""
    d = _at_stage(c, dispute_id, DisputeStage.ARBITRATION, at, "paying the arbitration fee")
    if by.value in d.fees_paid:
        raise DisputeStateError(f"the {by.value} already paid the arbitration fee of dispute "
                                f"{dispute_id}")
    fee = fees.arbitration_fee(c.currency)
    paid_from = accounts.PROCESSOR_CLEARING  # either party pays by card, through the processor
    entry = JournalEntry.of(f"arbitration fee of the {by.value} in dispute {dispute_id}", [
        leg(Side.DEBIT, paid_from, fee),
        leg(Side.CREDIT, accounts.ARBITRATION_PAYABLE, fee),
    ])
    c.trigger_event(c.ArbitrationFeePaid, timestamp=at, dispute_id=dispute_id, by=by.value,
                    fee=fee, fee_schedule=fees.version, paid_from=paid_from, entry=entry,
                    actor=actor)
    return fee


def rule(p: Parties, *, dispute_id: str, release: Money, at: datetime, actor: str,
         fees: FeeSchedule) -> DisputeResolved:
    """The arbitrator's ruling, binding once both parties paid."""
    _at_stage(p.contract, dispute_id, DisputeStage.AWAITING_RULING, at, "a ruling")
    return resolve(p, dispute_id=dispute_id, release=release,
                   outcome=Outcome.ARBITRATION_RULING, at=at, actor=actor, fees=fees)


# ---- the outcome ---------------------------------------------------------------------


def resolve(p: Parties, *, dispute_id: str, release: Money, outcome: Outcome, at: datetime,
            actor: str, fees: FeeSchedule) -> DisputeResolved:
    """Moves all the disputed escrow: ``release`` to the freelancer, the rest refunded."""
    c = p.contract
    d = dispute_of(c, dispute_id)
    if not d.is_open:
        raise DisputeStateError(f"dispute {dispute_id} is already resolved")
    refund = _split(d, release)
    fee_back = share(d.fee_held, refund, d.total) if refund.amount > 0 \
        else zero(c.currency)
    disputed = accounts.escrow_under_dispute(c.id)
    refund_to = ending.refund_account(c)
    quote = None
    recognise = None
    lot_id = None
    available_at = None
    if release.amount > 0:
        quote = service_fee_on(p, release, at, fees, c.service_fee_rate)
        recognise = escrow.initiation_fee_outstanding(c.initiation_fee,
                                                      c.initiation_fee_settled)
        lot_id = f"{c.id}:{c.version + 1}"
        available_at = at + SECURITY_PERIOD
    entry = JournalEntry.of(f"dispute {dispute_id} of contract {c.id} ({outcome.value})", [
        leg(Side.DEBIT, disputed, release),
        leg(Side.CREDIT, accounts.freelancer_pending(c.freelancer_id), quote.net)
        if quote else None,
        leg(Side.CREDIT, accounts.revenue(Revenue.SERVICE_FEE), quote.fee) if quote else None,
        leg(Side.DEBIT, accounts.deferred_initiation_fee(c.id), recognise)
        if recognise else None,
        leg(Side.CREDIT, accounts.revenue(Revenue.INITIATION_FEE), recognise)
        if recognise else None,
        leg(Side.DEBIT, disputed, refund),
        leg(Side.DEBIT, accounts.revenue(Revenue.MARKETPLACE_FEE), fee_back),
        leg(Side.CREDIT, refund_to, refund + fee_back),
    ])
    c.trigger_event(
        c.DisputeResolved, timestamp=at, dispute_id=dispute_id, outcome=outcome.value,
        reason=OUTCOME_REASONS[outcome], released=release, service_fee=quote,
        net=quote.net if quote else zero(c.currency), refunded=refund,
        marketplace_fee_refunded=fee_back, refunded_to=refund_to,
        initiation_fee_recognised=recognise, available_at=available_at, lot_id=lot_id,
        entry=entry, actor=actor,
        dormancy_watched=c.status is ContractStatus.ACTIVE and c.escrow_balance().amount > 0
        and len(c.open_disputes()) == 1)
    resolved = c.pending_events[-1]
    assert isinstance(resolved, DisputeResolved)
    if quote is not None and lot_id is not None:
        credit_earnings(p, quote, lot_id=lot_id, contract_id=str(c.id),
                        ref=f"dispute {dispute_id}", at=at, fees=fees)
    c.finish_ending(at=at, actor=actor)
    return resolved


# ---- clocks --------------------------------------------------------------------------


def clock_lapsed(c: FixedPriceContract, dispute_id: str, kind: DeadlineKind,
                 due: datetime) -> bool:
    """Whether ``due`` is still the running clock of this dispute's stage."""
    d = c.disputes.get(dispute_id)
    return d is not None and d.is_open and d.clock is kind and d.due_at == due


def on_lapse(p: Parties, *, dispute_id: str, kind: DeadlineKind, at: datetime, actor: str,
             fees: FeeSchedule) -> str:
    """What silence decides at the end of each stage; answers what it did."""
    c = p.contract
    d = dispute_of(c, dispute_id)
    if kind is DeadlineKind.DISPUTE_RESPONSE:
        resolve(p, dispute_id=dispute_id, release=d.total, outcome=Outcome.CLIENT_SILENT,
                at=at, actor=actor, fees=fees)
        return Outcome.CLIENT_SILENT.value
    if kind in (DeadlineKind.MEDIATION_PROPOSAL, DeadlineKind.MEDIATION_ACCEPTANCE):
        start_arbitration(c, dispute_id=dispute_id,
                          reason=NO_PROPOSAL if kind is DeadlineKind.MEDIATION_PROPOSAL
                          else NOT_ACCEPTED, declined_by=None, at=at, actor=actor, fees=fees)
        return "arbitration"
    paid = set(d.fees_paid)
    if paid == {Party.FREELANCER.value}:
        outcome, release = Outcome.ONLY_FREELANCER_PAID, d.total
    elif paid == {Party.CLIENT.value}:
        outcome, release = Outcome.ONLY_CLIENT_PAID, zero(c.currency)
    else:
        outcome, release = Outcome.ARBITRATION_UNPAID, zero(c.currency)
    resolve(p, dispute_id=dispute_id, release=release, outcome=outcome, at=at, actor=actor,
            fees=fees)
    return outcome.value
