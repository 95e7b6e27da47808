"""Charges and chargebacks: every charge to a client has a payment id a processor can name.

A chargeback is the processor taking a client's payment back. The money has
already left *processor clearing*; what the ledger decides is who bears it.
A protected payment (escrow funding released through the rules, an hourly
invoice) is absorbed by the platform as *chargeback losses*. An unprotected
one (a bonus) is debited from the freelancer's available balance, which may
go negative, with a hold until it is whole again; the platform absorbs the
fees. A won chargeback reverses all of it; a lost one leaves it in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from eventsourcing.domain import Aggregate
from moneyed import Money

from domain.bookkeeping import accounts
from domain.bookkeeping.postings import JournalEntry, Side, leg
from domain.contracts.references import CHARGEBACK, PAYMENT, reference
from domain.errors import ChargebackNotFound, ChargebackStateError, PaymentNotFound


class ChargeKind(StrEnum):
    ESCROW_FUNDING = "escrow_funding"
    HOURLY_INVOICE = "hourly_invoice"
    BONUS = "bonus"


class ChargebackStatus(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


@dataclass(frozen=True)
class ChargeRecord:
    """One charge: what the client paid in all, and what of it the freelancer holds
    unprotected (``freelancer_share``, debited from them on a chargeback)."""

    payment_id: str
    at: datetime
    kind: ChargeKind
    total: Money
    freelancer_share: Money
    paid_from: str


@dataclass(frozen=True)
class Chargeback:
    chargeback_id: str
    payment_id: str
    amount: Money
    platform_loss: Money
    freelancer_debit: Money
    status: ChargebackStatus
    received_at: datetime
    decided_at: datetime | None = None


def payment_id_of(state: dict[str, Any], charged: bool) -> str | None:
    """The id a charge event has (or, stored before ids, gets on upcast): its position."""
    if not charged:
        return None
    return reference(PAYMENT, state["originator_id"], state["originator_version"])


def record_charge(c: Any, charge: ChargeRecord) -> None:
    """Called by charge events only."""
    c.charges = {**c.charges, charge.payment_id: charge}


def charge_of(c: Any, payment_id: str) -> ChargeRecord:
    try:
        found: ChargeRecord = c.charges[payment_id]
    except KeyError:
        raise PaymentNotFound(f"payment {payment_id} not found on contract {c.id}") from None
    return found


def chargeback_of(c: Any, chargeback_id: str) -> Chargeback:
    try:
        found: Chargeback = c.chargebacks[chargeback_id]
    except KeyError:
        raise ChargebackNotFound(f"chargeback {chargeback_id} not found") from None
    return found


class ChargebackReceived(Aggregate.Event):
    """The processor took a payment back: who bears it is in the entry."""

    chargeback_id: str
    payment_id: str
    amount: Money
    platform_loss: Money
    freelancer_debit: Money
    reason: str
    entry: JournalEntry
    actor: str

    def apply(self, c: Any) -> None:
        c.chargebacks = {**c.chargebacks, self.chargeback_id: Chargeback(
            self.chargeback_id, self.payment_id, self.amount, self.platform_loss,
            self.freelancer_debit, ChargebackStatus.OPEN, self.timestamp)}


class ChargebackDecided(Aggregate.Event):
    """Won (the processor returned the money: everything reversed) or lost (final)."""

    chargeback_id: str
    won: bool
    entry: JournalEntry | None
    actor: str

    def apply(self, c: Any) -> None:
        cb: Chargeback = c.chargebacks[self.chargeback_id]
        c.chargebacks = {**c.chargebacks, self.chargeback_id: Chargeback(
            cb.chargeback_id, cb.payment_id, cb.amount, cb.platform_loss, cb.freelancer_debit,
            ChargebackStatus.WON if self.won else ChargebackStatus.LOST, cb.received_at,
            self.timestamp)}


def receive(c: Any, *, payment_id: str, reason: str, at: datetime, actor: str) -> Chargeback:
    """Records a chargeback of the whole payment on the contract that charged it."""
    charge = charge_of(c, payment_id)
    if charge.paid_from != accounts.PROCESSOR_CLEARING:
        raise ChargebackStateError(f"payment {payment_id} was paid from {charge.paid_from}, "
                                   "not through the payment processor: it cannot be charged back")
    if any(cb.payment_id == payment_id for cb in c.chargebacks.values()):
        raise ChargebackStateError(f"payment {payment_id} already has a chargeback")
    chargeback_id = reference(CHARGEBACK, c.id, c.version + 1)
    debit = charge.freelancer_share
    loss = charge.total - debit
    entry = JournalEntry.of(f"chargeback {chargeback_id} of payment {payment_id}", [
        leg(Side.CREDIT, accounts.PROCESSOR_CLEARING, charge.total),
        leg(Side.DEBIT, accounts.CHARGEBACK_LOSSES, loss),
        leg(Side.DEBIT, accounts.freelancer_available(c.freelancer_id), debit),
    ])
    c.trigger_event(c.ChargebackReceived, timestamp=at, chargeback_id=chargeback_id,
                    payment_id=payment_id, amount=charge.total, platform_loss=loss,
                    freelancer_debit=debit, reason=reason, entry=entry, actor=actor)
    return chargeback_of(c, chargeback_id)


def decide(c: Any, *, chargeback_id: str, won: bool, at: datetime, actor: str) -> Chargeback:
    cb = chargeback_of(c, chargeback_id)
    if cb.status is not ChargebackStatus.OPEN:
        raise ChargebackStateError(f"chargeback {chargeback_id} was already {cb.status.value}")
    entry = None
    if won:
        entry = JournalEntry.of(f"chargeback {chargeback_id} won: payment {cb.payment_id} "
                                "returned by the processor", [
            leg(Side.DEBIT, accounts.PROCESSOR_CLEARING, cb.amount),
            leg(Side.CREDIT, accounts.CHARGEBACK_LOSSES, cb.platform_loss),
            leg(Side.CREDIT, accounts.freelancer_available(c.freelancer_id),
                cb.freelancer_debit),
        ])
    c.trigger_event(c.ChargebackDecided, timestamp=at, chargeback_id=chargeback_id, won=won,
                    entry=entry, actor=actor)
    return chargeback_of(c, chargeback_id)
