"""Withdrawals and holds: how money leaves the platform, and what stops it.

Adopted by ``FreelancerBalance`` (a withdrawal spends the available balance, so
it must be decided where that balance is kept: a withdrawal and a Connects
purchase cannot both spend the same dollars). Each step is an event with its
own postings:

- requested: available -> in flight (the amount) and -> withdrawal fee revenue (the fee);
- sent: no money moves, the processor took it (its reference is recorded);
- settled: in flight -> payouts clearing (the money left);
- failed (requested or sent) or cancelled (requested): in flight -> available; the
  fee stays revenue (domain.md: not refunded).

A hold blocks every withdrawal of the freelancer until it is released; holds a
chargeback placed are lifted by the chargeback's decision, the others by finance.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate
from moneyed import Money

from domain.bookkeeping import accounts
from domain.bookkeeping.postings import JournalEntry, Side, leg
from domain.contracts.references import HOLD, WITHDRAWAL, reference
from domain.errors import (
    HoldNotFound,
    HoldStateError,
    InsufficientFunds,
    UnknownHoldReason,
    WithdrawalNotFound,
    WithdrawalsOnHold,
    WithdrawalStateError,
)
from domain.fees.methods import WithdrawalMethod
from domain.fees.quotes import FeeQuote

if TYPE_CHECKING:
    from domain.balances.freelancer_balance import FreelancerBalance


class WithdrawalState(StrEnum):
    REQUESTED = "requested"
    SENT = "sent"
    SETTLED = "settled"
    FAILED = "failed"
    CANCELLED = "cancelled"


class HoldReason(StrEnum):
    CHARGEBACK = "chargeback"
    COMPLIANCE = "compliance"
    MANUAL = "manual"


@dataclass(frozen=True)
class Withdrawal:
    withdrawal_id: str
    method: WithdrawalMethod
    amount: Money
    fee: FeeQuote
    state: WithdrawalState
    requested_at: datetime
    updated_at: datetime
    processor_reference: str | None = None
    failure_reason: str | None = None

    @property
    def in_flight(self) -> bool:
        return self.state in (WithdrawalState.REQUESTED, WithdrawalState.SENT)


@dataclass(frozen=True)
class Hold:
    hold_id: str
    reason: HoldReason
    note: str
    placed_at: datetime
    placed_by: str
    released_at: datetime | None = None
    released_by: str | None = None

    @property
    def active(self) -> bool:
        return self.released_at is None


def _set(b: FreelancerBalance, w: Withdrawal, **changes: Any) -> None:
    b.withdrawals = {**b.withdrawals, w.withdrawal_id: dataclasses.replace(w, **changes)}


def _move(b: FreelancerBalance, code: str, *, available: Money, in_flight: Money) -> None:
    b.available = {**b.available, code: available}
    b.in_flight = {**b.in_flight, code: in_flight}


class WithdrawalRequested(Aggregate.Event):
    """The freelancer asked for ``amount`` by ``method``; ``fee`` is on top of it."""

    withdrawal_id: str
    freelancer_id: str
    method: str
    amount: Money
    fee: FeeQuote
    available_after: Money
    in_flight_after: Money
    entry: JournalEntry
    actor: str

    def apply(self, b: FreelancerBalance) -> None:
        code = self.amount.currency.code
        _move(b, code, available=self.available_after, in_flight=self.in_flight_after)
        b.withdrawals = {**b.withdrawals, self.withdrawal_id: Withdrawal(
            self.withdrawal_id, WithdrawalMethod(self.method), self.amount, self.fee,
            WithdrawalState.REQUESTED, self.timestamp, self.timestamp)}


class WithdrawalSent(Aggregate.Event):
    """The payout left for the processor; no money moves until it settles or fails."""

    withdrawal_id: str
    processor_reference: str | None
    actor: str

    def apply(self, b: FreelancerBalance) -> None:
        _set(b, b.withdrawals[self.withdrawal_id], state=WithdrawalState.SENT,
             updated_at=self.timestamp, processor_reference=self.processor_reference)


class WithdrawalSettled(Aggregate.Event):
    """The processor confirmed the money reached the freelancer's account."""

    withdrawal_id: str
    in_flight_after: Money
    entry: JournalEntry
    actor: str

    def apply(self, b: FreelancerBalance) -> None:
        w = b.withdrawals[self.withdrawal_id]
        b.in_flight = {**b.in_flight, w.amount.currency.code: self.in_flight_after}
        _set(b, w, state=WithdrawalState.SETTLED, updated_at=self.timestamp)


class WithdrawalReturned(Aggregate.Event):
    """The amount came back to available: the payout failed, or was cancelled before it
    was sent (``state``). The fee stays revenue."""

    withdrawal_id: str
    state: str
    reason: str
    available_after: Money
    in_flight_after: Money
    entry: JournalEntry
    actor: str

    def apply(self, b: FreelancerBalance) -> None:
        w = b.withdrawals[self.withdrawal_id]
        _move(b, w.amount.currency.code, available=self.available_after,
              in_flight=self.in_flight_after)
        _set(b, w, state=WithdrawalState(self.state), updated_at=self.timestamp,
             failure_reason=self.reason)


class HoldPlaced(Aggregate.Event):
    hold_id: str
    reason: str
    note: str
    actor: str

    def apply(self, b: FreelancerBalance) -> None:
        b.manual_holds = {**b.manual_holds, self.hold_id: Hold(
            self.hold_id, HoldReason(self.reason), self.note, self.timestamp, self.actor)}


class HoldReleased(Aggregate.Event):
    hold_id: str
    note: str
    actor: str

    def apply(self, b: FreelancerBalance) -> None:
        b.manual_holds = {**b.manual_holds, self.hold_id: dataclasses.replace(
            b.manual_holds[self.hold_id], released_at=self.timestamp, released_by=self.actor)}


def request(b: FreelancerBalance, *, amount: Money, method: WithdrawalMethod, fee: FeeQuote,
            at: datetime, actor: str) -> Withdrawal:
    """Refuses under any hold, and when amount + fee is more than is available."""
    holds = b.all_active_holds()
    if holds:
        raise WithdrawalsOnHold(
            f"{b.freelancer_id} cannot withdraw while held by {', '.join(holds)}")
    code = amount.currency.code
    available = b.available_in(code)
    total = amount + fee.fee
    if total > available:
        raise InsufficientFunds(
            f"{b.freelancer_id} has {available.amount} {code} available; a {method} "
            f"withdrawal of {amount.amount} costs {total.amount} with its "
            f"{fee.fee.amount} fee")
    withdrawal_id = reference(WITHDRAWAL, b.id, b.version + 1)
    entry = JournalEntry.of(f"withdrawal {withdrawal_id} of {b.freelancer_id} by {method}", [
        leg(Side.DEBIT, accounts.freelancer_available(b.freelancer_id), total),
        leg(Side.CREDIT, accounts.freelancer_in_flight(b.freelancer_id), amount),
        leg(Side.CREDIT, accounts.revenue(accounts.Revenue.WITHDRAWAL_FEE), fee.fee),
    ])
    b.trigger_event(b.WithdrawalRequested, timestamp=at, withdrawal_id=withdrawal_id,
                    freelancer_id=b.freelancer_id, method=method.value, amount=amount, fee=fee,
                    available_after=available - total,
                    in_flight_after=b.in_flight_in(code) + amount, entry=entry, actor=actor)
    return b.withdrawals[withdrawal_id]


def withdrawal_of(b: FreelancerBalance, withdrawal_id: str) -> Withdrawal:
    try:
        return b.withdrawals[withdrawal_id]
    except KeyError:
        raise WithdrawalNotFound(f"withdrawal {withdrawal_id!r} not found") from None


def _require(w: Withdrawal, step: str, *allowed: WithdrawalState) -> None:
    if w.state not in allowed:
        raise WithdrawalStateError(
            f"withdrawal {w.withdrawal_id} is {w.state.value}: it cannot be {step} "
            f"(only from {' or '.join(s.value for s in allowed)})")


def mark_sent(b: FreelancerBalance, withdrawal_id: str, *, processor_reference: str | None,
              at: datetime, actor: str) -> Withdrawal:
    w = withdrawal_of(b, withdrawal_id)
    _require(w, "sent", WithdrawalState.REQUESTED)
    b.trigger_event(b.WithdrawalSent, timestamp=at, withdrawal_id=withdrawal_id,
                    processor_reference=processor_reference, actor=actor)
    return b.withdrawals[withdrawal_id]


def settle(b: FreelancerBalance, withdrawal_id: str, *, at: datetime, actor: str) -> Withdrawal:
    w = withdrawal_of(b, withdrawal_id)
    _require(w, "settled", WithdrawalState.SENT)
    entry = JournalEntry.of(f"withdrawal {withdrawal_id} settled", [
        leg(Side.DEBIT, accounts.freelancer_in_flight(b.freelancer_id), w.amount),
        leg(Side.CREDIT, accounts.PAYOUTS_CLEARING, w.amount),
    ])
    b.trigger_event(b.WithdrawalSettled, timestamp=at, withdrawal_id=withdrawal_id,
                    in_flight_after=b.in_flight_in(w.amount.currency.code) - w.amount,
                    entry=entry, actor=actor)
    return b.withdrawals[withdrawal_id]


def give_back(b: FreelancerBalance, withdrawal_id: str, *, failed: bool, reason: str,
              at: datetime, actor: str) -> Withdrawal:
    """A failure (before or after it was sent) or a cancellation (before it was sent)."""
    w = withdrawal_of(b, withdrawal_id)
    if failed:
        _require(w, "failed", WithdrawalState.REQUESTED, WithdrawalState.SENT)
    else:
        _require(w, "cancelled", WithdrawalState.REQUESTED)
    state = WithdrawalState.FAILED if failed else WithdrawalState.CANCELLED
    code = w.amount.currency.code
    entry = JournalEntry.of(f"withdrawal {withdrawal_id} {state.value}: {reason}; "
                            "the amount is available again, the fee is kept", [
        leg(Side.DEBIT, accounts.freelancer_in_flight(b.freelancer_id), w.amount),
        leg(Side.CREDIT, accounts.freelancer_available(b.freelancer_id), w.amount),
    ])
    b.trigger_event(b.WithdrawalReturned, timestamp=at, withdrawal_id=withdrawal_id,
                    state=state.value, reason=reason,
                    available_after=b.available_in(code) + w.amount,
                    in_flight_after=b.in_flight_in(code) - w.amount, entry=entry, actor=actor)
    return b.withdrawals[withdrawal_id]


def place_hold(b: FreelancerBalance, *, reason: str, note: str, at: datetime,
               actor: str) -> Hold:
    try:
        why = HoldReason(reason)
    except ValueError:
        raise UnknownHoldReason(f"a hold's reason is one of {', '.join(HoldReason)}; "
                           f"got {reason!r}") from None
    hold_id = reference(HOLD, b.id, b.version + 1)
    b.trigger_event(b.HoldPlaced, timestamp=at, hold_id=hold_id, reason=why.value, note=note,
                    actor=actor)
    return b.manual_holds[hold_id]


def hold_of(b: FreelancerBalance, hold_id: str) -> Hold:
    try:
        return b.manual_holds[hold_id]
    except KeyError:
        raise HoldNotFound(f"hold {hold_id!r} not found") from None


def release_hold(b: FreelancerBalance, hold_id: str, *, note: str, at: datetime,
                 actor: str) -> Hold:
    hold = hold_of(b, hold_id)
    if not hold.active:
        raise HoldStateError(f"hold {hold_id} was already released at "
                             f"{hold.released_at.isoformat() if hold.released_at else '?'}")
    b.trigger_event(b.HoldReleased, timestamp=at, hold_id=hold_id, note=note, actor=actor)
    return b.manual_holds[hold_id]
