"""Releasing escrow touches three consistency boundaries at once.

The service fee depends on the client-freelancer relationship's lifetime
billings; the net lands in the freelancer's pending lots; the gross leaves the
contract's escrow. These functions decide all three together so the
application can save them in one atomic unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from moneyed import Money

from domain.balances.freelancer_balance import FreelancerBalance, PendingLot
from domain.balances.relationship import Relationship
from domain.contracts.escrow import RefundTo
from domain.contracts.feedback import Feedback
from domain.contracts.fixed_price import FixedPriceContract
from domain.contracts.fixed_price_events import MilestoneReleased
from domain.contracts.milestone import EscrowMovement
from domain.contracts.terms import Party
from domain.errors import InsufficientEscrow, InvalidInput
from domain.fees.methods import PaymentMethod
from domain.fees.quotes import FeeQuote
from domain.fees.schedule import FeeSchedule
from domain.money import money, require_positive, require_same_currency, zero
from domain.periods import SECURITY_PERIOD


@dataclass
class Earner:
    """What every payment to a freelancer touches besides its contract."""

    relationship: Relationship
    balance: FreelancerBalance


@dataclass
class Parties(Earner):
    """The aggregates a fixed-price release decides together."""

    contract: FixedPriceContract


def top_tier_threshold(fees: FeeSchedule, currency: str) -> Money:
    """Lifetime billings above which the tiered era charged its lowest rate."""
    bounds = [bound for bound, _ in fees.tiers if bound is not None]
    return money(max(bounds), currency)


def service_fee_on(p: Parties | Earner, gross: Money, at: datetime, fees: FeeSchedule,
                   contract_rate: object) -> FeeQuote:
    """The service fee on a payment, by the era's rule and the relationship's billings."""
    return fees.service_fee(
        gross, at, prior_billings=p.relationship.lifetime_billings,
        top_tier_since=p.relationship.top_tier_since,
        contract_rate=contract_rate,  # type: ignore[arg-type]
    )


def credit_earnings(p: Parties | Earner, quote: FeeQuote, *, lot_id: str, contract_id: str,
                    ref: str, at: datetime, fees: FeeSchedule) -> datetime:
    """Bills the relationship and puts the net in a pending lot; answers when it matures."""
    available_at = at + SECURITY_PERIOD
    p.relationship.record_billing(quote.basis, at, f"payment {lot_id}",
                                  top_tier_threshold(fees, quote.basis.currency.code))
    p.balance.add_pending(PendingLot(lot_id, quote.net, available_at, contract_id, ref),
                          released_by_event=lot_id, at=at)
    return available_at


def release_to_freelancer(
    p: Parties,
    *,
    milestone_id: str,
    gross: Money,
    reason: str,
    at: datetime,
    actor: str,
    fees: FeeSchedule,
    allow_closed: bool = False,
) -> MilestoneReleased:
    c = p.contract
    quote = service_fee_on(p, gross, at, fees, c.service_fee_rate)
    lot_id = f"{c.id}:{c.version + 1}"
    released = c.release(
        milestone_id=milestone_id, gross=gross, service_fee=quote,
        available_at=at + SECURITY_PERIOD, lot_id=lot_id, reason=reason, at=at, actor=actor,
        allow_closed=allow_closed,
    )
    credit_earnings(p, quote, lot_id=lot_id, contract_id=str(c.id), ref=milestone_id, at=at,
                    fees=fees)
    return released


def approve_milestone(
    p: Parties,
    *,
    milestone_id: str,
    amount: Money | None,
    method: PaymentMethod,
    at: datetime,
    actor: str,
    fees: FeeSchedule,
) -> MilestoneReleased:
    """The client approves: all of the escrow, part of it, or more (charged first)."""
    m = p.contract.check_releasable(milestone_id)
    gross = m.escrow if amount is None else amount
    require_positive(gross, "approved amount")
    require_same_currency(gross, m.escrow)
    if gross > m.escrow:
        p.contract.top_up_for_release(
            milestone_id=milestone_id, amount=gross, method=method, at=at, actor=actor, fees=fees
        )
    return release_to_freelancer(
        p, milestone_id=milestone_id, gross=gross, reason="approved by the client",
        at=at, actor=actor, fees=fees,
    )


PaymentOnEnd = Money | Literal["all", "none"] | None


def payment_on_end(by: Party, pay: PaymentOnEnd, currency: str) -> Money | None:
    """What a party's choice of payment means: ``None`` is the party's default.

    A client pays all of the escrow by default, ``"none"`` pays nothing, an
    amount pays that. A freelancer pays nothing from escrow: ``"all"`` or an
    amount from one is refused rather than silently ignored.
    """
    if pay is None:
        return None
    if pay == "none":
        return zero(currency)
    if pay == "all":
        if by is Party.FREELANCER:
            raise InvalidInput("a freelancer ending a contract pays nothing from escrow; "
                               "omit 'pay' or send 'none'")
        return None
    if isinstance(pay, Money):
        return pay
    raise InvalidInput(f"'pay' must be 'all', 'none' or an amount, got {pay!r}")


def end_contract(
    p: Parties,
    *,
    by: Party,
    pay: Money | None,
    refund_request_id: str,
    at: datetime,
    actor: str,
    fees: FeeSchedule,
    feedback: Feedback | None,
    refund_to: RefundTo = RefundTo.PAYMENT_METHOD,
) -> str | None:
    """Ends a contract; returns the refund request id when one was opened.

    The client chooses what to pay from escrow (``None`` = all of it); the rest
    becomes an escrow refund request for the freelancer to answer. A freelancer
    ending pays nothing: escrow goes back to the client at once. ``refund_to``
    says where refunded money goes: the payment method, or kept as client credit.
    """
    c = p.contract
    if by is Party.FREELANCER:
        if pay is not None and pay.amount != 0:
            raise InvalidInput("a freelancer ending a contract pays nothing from escrow")
        c.end(by=by, at=at, actor=actor, feedback=feedback, refund_to=refund_to)
        return None
    for part in plan_payment_on_end(c, pay):
        release_to_freelancer(
            p, milestone_id=part.milestone_id, gross=part.amount,
            reason="paid by the client on ending the contract",
            at=at, actor=actor, fees=fees, allow_closed=True,
        )
    if c.escrow_balance().amount > 0:
        c.request_escrow_refund(request_id=refund_request_id, at=at, actor=actor,
                                refund_to=refund_to, feedback=feedback)
        return refund_request_id
    c.end(by=by, at=at, actor=actor, feedback=feedback, refund_to=refund_to)
    return None


def plan_payment_on_end(c: FixedPriceContract, pay: Money | None) -> list[EscrowMovement]:
    """Which milestones pay ``pay`` (None = all escrow), oldest escrow first."""
    c.require_active()
    held = c.escrow_balance()
    target = held if pay is None else pay
    require_same_currency(target, held)
    if target.amount < 0:
        raise InvalidInput("payment on ending a contract cannot be negative")
    if target > held:
        raise InsufficientEscrow(
            f"cannot pay {target.amount} on ending: only {held.amount} {c.currency} "
            "is in escrow"
        )
    plan: list[EscrowMovement] = []
    left = target
    for m in c.milestones.values():
        if left.amount == 0:
            break
        if m.escrow.amount > 0:
            take = min(m.escrow, left)
            plan.append(EscrowMovement(m.milestone_id, take))
            left = left - take
    return plan
