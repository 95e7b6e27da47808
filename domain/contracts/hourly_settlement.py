"""Hourly money that reaches the freelancer: the end of a week's review, a dispute's outcome.

Like a fixed-price release, each decides the contract, the relationship's
billings (the service fee depends on them) and the freelancer's pending lots
together, so the application saves them in one atomic unit.
"""

from __future__ import annotations

from datetime import date, datetime

from domain.contracts import hourly_disputes
from domain.contracts.escrow import payment_account
from domain.contracts.hourly import HourlyContract
from domain.contracts.settlement import Earner, credit_earnings, service_fee_on
from domain.fees.methods import PaymentMethod
from domain.fees.schedule import FeeSchedule
from domain.periods import SECURITY_PERIOD


def end_review(c: HourlyContract, p: Earner, *, week_start: date, at: datetime, actor: str,
               fees: FeeSchedule) -> bool:
    """Pays what is still in review for the week; False when nothing is left to pay."""
    w = c.invoices[week_start]
    if w.released is not None or w.held.amount == 0:
        return False
    quote = service_fee_on(p, w.held, at, fees, c.service_fee_rate)
    lot_id = f"{c.id}:{c.version + 1}"
    c.release_week(week_start=week_start, service_fee=quote, lot_id=lot_id,
                   available_at=at + SECURITY_PERIOD, at=at, actor=actor)
    credit_earnings(p, quote, lot_id=lot_id, contract_id=str(c.id),
                    ref=f"week {week_start}", at=at, fees=fees)
    return True


def settle_dispute(c: HourlyContract, p: Earner, *, dispute_id: str, failed_minutes: int,
                   outcome: str, at: datetime, actor: str, fees: FeeSchedule) -> None:
    """Refunds the failed minutes with their fees; the rest back to review or paid now."""
    parts = hourly_disputes.split(c, dispute_id, failed_minutes, outcome, at)
    paid = lot_id = available_at = None
    if parts.rest.amount > 0 and not parts.back_to_review:
        paid = service_fee_on(p, parts.rest, at, fees, c.service_fee_rate)
        lot_id = f"{c.id}:{c.version + 1}"
        available_at = at + SECURITY_PERIOD
    hourly_disputes.settle(
        c, dispute_id=dispute_id, failed_minutes=failed_minutes, outcome=outcome, parts=parts,
        refund_to=payment_account(c.client_id, PaymentMethod(c.payment_method)), paid=paid,
        lot_id=lot_id, available_at=available_at, at=at, actor=actor)
    if paid is not None and lot_id is not None:
        credit_earnings(p, paid, lot_id=lot_id, contract_id=str(c.id),
                        ref=f"dispute {dispute_id}", at=at, fees=fees)
