"""Hourly disputes: the client contests invoiced minutes of a week still in review.

The disputed money leaves *hourly in review* for *escrow under dispute* and
the contract pauses with its limit at 0. The freelancer accepts (or stays
silent for 3 days): every disputed minute is refunded with the marketplace fee
on it, and no service fee is charged on it. Or it declines, and a review names
how many minutes fail protection (manual minutes always fail): those are
refunded the same way and the rest is paid on the normal schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from moneyed import Money

from domain.bookkeeping import accounts
from domain.bookkeeping.accounts import Revenue
from domain.bookkeeping.postings import JournalEntry, Side, leg
from domain.contracts.hourly import HourlyContract
from domain.contracts.hourly_week import DisputeStatus, HourlyDispute
from domain.errors import DisputeNotFound, DisputeStateError, InvalidInput, WindowClosed
from domain.fees.quotes import FeeQuote
from domain.money import round_half_up
from domain.periods import HOURLY_DISPUTE_RESPONSE

ACCEPTED = "accepted by the freelancer"
ACCEPTED_BY_SILENCE = "accepted by silence: the freelancer did not answer within 3 days"
RESOLVED = "resolved by review"


def share(part_of: Money, numerator: Money | int, denominator: Money | int) -> Money:
    """``part_of`` x numerator / denominator, rounded half-up; all of it for the whole."""
    num = numerator.amount if isinstance(numerator, Money) else numerator
    den = denominator.amount if isinstance(denominator, Money) else denominator
    if num == den:
        return part_of
    return round_half_up(Money(part_of.amount * num / den, part_of.currency))


def dispute(c: HourlyContract, dispute_id: str) -> HourlyDispute:
    try:
        return c.disputes[dispute_id]
    except KeyError:
        raise DisputeNotFound(f"hourly dispute {dispute_id} not found on contract {c.id}") \
            from None


def open_dispute(c: HourlyContract, *, dispute_id: str, week_start: date, minutes: int,
                 at: datetime, actor: str) -> None:
    w = c.invoices.get(week_start)
    if w is None:
        raise InvalidInput(f"the week of {week_start} was not invoiced on contract {c.id}")
    if at >= w.review_ends_at or w.released is not None:
        raise WindowClosed(f"the review of the week of {week_start} ended at "
                           f"{w.review_ends_at.isoformat()}")
    undisputed = w.minutes_billed - w.disputed_minutes
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
        raise InvalidInput("disputed minutes must be a whole number of at least 1")
    if minutes > undisputed:
        raise InvalidInput(f"only {undisputed} invoiced minutes of that week are not yet "
                           f"disputed; {minutes} cannot be")
    amount = share(w.held, minutes, undisputed)
    fee = share(w.fee_held, amount, w.held)
    manual_left = w.manual_minutes_billed - sum(
        d.manual_minutes for d in c.disputes.values() if d.week_start == week_start)
    entry = JournalEntry.of(f"hourly dispute {dispute_id} on week {week_start} of {c.id}", [
        leg(Side.DEBIT, accounts.hourly_review(c.id, week_start), amount),
        leg(Side.CREDIT, accounts.escrow_under_dispute(c.id), amount),
    ])
    c.trigger_event(c.HourlyDisputeOpened, timestamp=at, dispute_id=dispute_id,
                    week_start=week_start, minutes=minutes,
                    manual_minutes=min(minutes, manual_left), amount=amount,
                    marketplace_fee=fee, respond_by=at + HOURLY_DISPUTE_RESPONSE,
                    review_emptied=amount == w.held, entry=entry, actor=actor)


def decline(c: HourlyContract, *, dispute_id: str, at: datetime, actor: str) -> None:
    d = dispute(c, dispute_id)
    if d.status is not DisputeStatus.OPEN:
        raise DisputeStateError(f"hourly dispute {dispute_id} is {d.status.value}")
    c.trigger_event(c.HourlyDisputeDeclined, timestamp=at, dispute_id=dispute_id, actor=actor)


@dataclass(frozen=True)
class Split:
    """How a dispute's frozen money divides: refunded (with its fee) and the rest."""

    refund: Money
    fee_refund: Money
    rest: Money
    fee_rest: Money
    back_to_review: bool


def split(c: HourlyContract, dispute_id: str, failed_minutes: int, outcome: str,
          at: datetime) -> Split:
    """Checks the outcome may be recorded and divides the disputed money."""
    d = dispute(c, dispute_id)
    expected = DisputeStatus.DECLINED if outcome == RESOLVED else DisputeStatus.OPEN
    if d.status is not expected:
        raise DisputeStateError(f"hourly dispute {dispute_id} is {d.status.value}")
    if isinstance(failed_minutes, bool) or not isinstance(failed_minutes, int) \
            or not d.manual_minutes <= failed_minutes <= d.minutes:
        raise InvalidInput(f"failed minutes must be whole, at least the {d.manual_minutes} "
                           f"manual minutes (they always fail) and at most {d.minutes}")
    refund = share(d.amount, failed_minutes, d.minutes)
    fee_refund = share(d.marketplace_fee, refund, d.amount)
    w = c.invoices[d.week_start]
    return Split(refund, fee_refund, d.amount - refund, d.marketplace_fee - fee_refund,
                 at < w.review_ends_at and w.released is None)


def settle(c: HourlyContract, *, dispute_id: str, failed_minutes: int, outcome: str,
           parts: Split, refund_to: str, paid: FeeQuote | None, lot_id: str | None,
           available_at: datetime | None, at: datetime, actor: str) -> None:
    """Records the outcome; ``paid`` is the service fee on the rest when it is paid now."""
    d = dispute(c, dispute_id)
    w = c.invoices[d.week_start]
    disputed = accounts.escrow_under_dispute(c.id)
    rest_to_review = parts.rest if parts.back_to_review else parts.rest * 0
    entry = JournalEntry.of(f"hourly dispute {dispute_id} of {c.id} ({outcome})", [
        leg(Side.DEBIT, disputed, parts.refund),
        leg(Side.DEBIT, accounts.revenue(Revenue.MARKETPLACE_FEE), parts.fee_refund),
        leg(Side.CREDIT, refund_to, parts.refund + parts.fee_refund),
        leg(Side.DEBIT, disputed, rest_to_review),
        leg(Side.CREDIT, accounts.hourly_review(c.id, d.week_start), rest_to_review),
        leg(Side.DEBIT, disputed, paid.basis) if paid else None,
        leg(Side.CREDIT, accounts.freelancer_pending(c.freelancer_id), paid.net)
        if paid else None,
        leg(Side.CREDIT, accounts.revenue(Revenue.SERVICE_FEE), paid.fee) if paid else None,
    ])
    c.trigger_event(
        c.HourlyDisputeSettled, timestamp=at, dispute_id=dispute_id, outcome=outcome,
        failed_minutes=failed_minutes, refunded=parts.refund,
        marketplace_fee_refunded=parts.fee_refund, refunded_to=refund_to,
        returned_to_review=rest_to_review,
        fee_returned_to_review=parts.fee_rest if parts.back_to_review else parts.fee_rest * 0,
        service_fee=paid, net=paid.net if paid else parts.rest * 0, lot_id=lot_id,
        available_at=available_at, week_start=d.week_start,
        review_restarts_until=w.review_ends_at
        if rest_to_review.amount > 0 and w.held.amount == 0 else None,
        entry=entry, actor=actor)
