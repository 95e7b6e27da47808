"""Escrow going back to the client, and a fixed-price contract's last events.

Functions of ``FixedPriceContract``, kept apart so the aggregate reads in one
sitting: where money going back to the client goes (the first charge's
account, or client credit when the client chose it or after a chargeback),
the escrow refund itself, the end (returning the initiation fee when nothing
was ever released), and a dispute taking escrow out of a refund request. They
trigger the aggregate's own events.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING

from domain.bookkeeping import accounts
from domain.contracts import chargebacks, escrow
from domain.contracts.escrow import RefundTo
from domain.contracts.feedback import Feedback, event_fields
from domain.contracts.milestone import EscrowMovement
from domain.contracts.terms import Party
from domain.errors import DisputeOpen, EscrowError, InsufficientEscrow
from domain.fees.methods import PaymentMethod
from domain.money import zero

if TYPE_CHECKING:
    from domain.contracts.fixed_price import FixedPriceContract


def refund_choice(c: FixedPriceContract, refund_to: RefundTo | None = None) -> RefundTo:
    """The client's choice for money going back: given now, or the one it made on ending.

    A client ending a contract chooses once, on its escrow refund request; every
    refund of that ending (the request approved or lapsed, a dispute's refunded
    part, the returned initiation fee) follows that choice.
    """
    if refund_to is not None:
        return refund_to
    requests = list(c.refund_requests.values())
    return RefundTo(requests[-1].refund_to) if requests else RefundTo.PAYMENT_METHOD


def refund_account(c: FixedPriceContract, refund_to: RefundTo | None = None) -> str:
    """Where money going back to the client goes: the account of its first charge,
    or client credit when the client chose to keep it on the platform.

    After a chargeback not won on this contract, the client already took money
    back through its bank: a refund is kept as client credit (which a suspended
    client cannot spend) instead of being paid out a second time.
    """
    if any(cb.status is not chargebacks.ChargebackStatus.WON
           for cb in c.chargebacks.values()) \
            or refund_choice(c, refund_to) is RefundTo.CLIENT_CREDIT:
        return accounts.client_credit(c.client_id)
    return escrow.payment_account(c.client_id,
                                  PaymentMethod(c.first_charge_method or "card"))


def refund(
    c: FixedPriceContract, amounts: list[EscrowMovement], request_id: str | None, reason: str,
    at: datetime, actor: str, refund_to: RefundTo | None = None,
) -> None:
    for a in amounts:
        if a.amount > c.milestone(a.milestone_id).escrow:
            raise InsufficientEscrow(
                f"refund of {a.amount.amount} exceeds escrow of milestone {a.milestone_id}"
            )
    amounts = [
        EscrowMovement(a.milestone_id, a.amount,
                       escrow.fee_share(c.milestone(a.milestone_id), a.amount))
        for a in amounts
    ]
    choice = refund_choice(c, refund_to)
    account = refund_account(c, choice)
    policy = escrow.MARKETPLACE_FEE_REFUND_POLICY
    memo = f"refund escrow of contract {c.id} ({reason})"
    if choice is RefundTo.CLIENT_CREDIT:
        policy = f"{policy}; {escrow.CLIENT_CREDIT_REFUND_POLICY}"
        memo = f"{memo}: {escrow.CLIENT_CREDIT_REFUND_POLICY}"
    entry = escrow.refund_entry(memo, [(c.escrow_account(a.milestone_id), a) for a in amounts],
                                account)
    c.trigger_event(
        c.EscrowRefunded, timestamp=at, request_id=request_id, amounts=amounts,
        total=sum((a.amount for a in amounts), zero(c.currency)), refunded_to=account,
        marketplace_fee_refunded=sum((a.fee_or_zero for a in amounts), zero(c.currency)),
        marketplace_fee_policy=policy, reason=reason, refund_to=choice.value,
        entry=entry, actor=actor,
        dormancy_watched=c.watched_after(sum((a.amount for a in amounts),
                                                 zero(c.currency))),
    )


def end_by(c: FixedPriceContract, by: Party, *, at: datetime, actor: str,
           feedback: Feedback | None, refund_to: RefundTo | None) -> None:
    """A party ends the contract once escrow is settled (the caller paid what was chosen).

    A freelancer ending returns all escrow at once; a client ending with
    escrow left opens a refund request instead of ending.
    """
    c.require_active()
    if c.open_disputes():
        raise DisputeOpen(f"contract {c.id} has an open dispute: it ends with the "
                          "dispute's outcome")
    if by is Party.FREELANCER:
        amounts = c.remaining_escrow()
        if amounts:
            refund(c, amounts, None, "contract ended by the freelancer", at, actor, refund_to)
    elif c.escrow_balance().amount > 0:
        raise EscrowError("escrow is still held: request its refund before ending")
    end(c, by, actor, at, feedback, refund_to)


def end(c: FixedPriceContract, by: Party | str, actor: str, at: datetime,
        feedback: Feedback | None, refund_to: RefundTo | None = None) -> None:
    """The last event; the initiation fee goes back if nothing was ever released,
    where the client chose its refunds to go (``refund_to``, or its ending's choice)."""
    outstanding = escrow.initiation_fee_outstanding(c.initiation_fee,
                                                    c.initiation_fee_settled)
    if outstanding is not None and c.total_released.amount == 0:
        choice = refund_choice(c, refund_to)
        c.trigger_event(
            c.InitiationFeeReturned, timestamp=at, fee=outstanding,
            refunded_to=refund_account(c, choice), refund_to=choice.value,
            entry=escrow.initiation_fee_return_entry(
                f"return initiation fee of contract {c.id}: ended with nothing released",
                c.id, outstanding, refund_account(c, choice)),
            actor=actor,
        )
    c.trigger_event(c.Ended, timestamp=at, ended_by=str(by), actor=actor,
                    **event_fields(feedback))


def take_from_refund_request(c: FixedPriceContract, request_id: str,
                             milestone_ids: set[str]) -> None:
    """A dispute took these milestones' escrow out of the request (events only)."""
    r = c.refund_requests[request_id]
    left = tuple(a for a in r.amounts if a.milestone_id not in milestone_ids)
    c.refund_requests = {**c.refund_requests, request_id: dataclasses.replace(
        r, amounts=left, total=sum((a.amount for a in left), zero(c.currency)),
        status=r.status if left else "disputed")}
