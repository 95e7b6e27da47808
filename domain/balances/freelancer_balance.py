"""A freelancer's money on the platform: pending lots, available, in flight, and holds.

Pending and available must never go negative, so they are aggregate state
rather than sums computed elsewhere: a payout (later) and a maturity cannot both
spend the same dollars. Released earnings arrive as *lots*, each with the time
its security period ends, because maturity is per payment, not per freelancer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate
from moneyed import Money

from domain.balances import payouts
from domain.bookkeeping import accounts
from domain.bookkeeping.postings import JournalEntry, Side, credit, debit, leg
from domain.deadlines import Deadline, DeadlineChange, DeadlineKind, started, stopped
from domain.errors import InsufficientFunds
from domain.money import restore_money, zero

SECURITY_PERIOD = DeadlineKind.SECURITY_PERIOD


@dataclass(frozen=True)
class PendingLot:
    lot_id: str
    amount: Money
    available_at: datetime
    contract_id: str
    milestone_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "lot_id": self.lot_id,
            "amount": str(self.amount.amount),
            "currency": self.amount.currency.code,
            "available_at": self.available_at.isoformat(),
            "contract_id": self.contract_id,
            "milestone_id": self.milestone_id,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PendingLot:
        return cls(
            d["lot_id"],
            restore_money(d["amount"], d["currency"]),
            datetime.fromisoformat(d["available_at"]),
            d["contract_id"],
            d["milestone_id"],
        )


class FreelancerBalance(Aggregate):
    class Registered(Aggregate.Created):
        freelancer_id: str

        def apply(self, agg: FreelancerBalance) -> None:
            agg.freelancer_id = self.freelancer_id
            agg.lots = []
            agg.available = {}
            agg.holds = {}
            agg.in_flight = {}
            agg.withdrawals = {}
            agg.manual_holds = {}

    class EarningsPending(Aggregate.Event):
        """Released money entered the security period.

        The postings for it live on the contract's release event (one entry per
        movement); this event only records the lot so the invariant can be kept.
        """

        lot: PendingLot
        released_by_event: str

        def apply(self, agg: FreelancerBalance) -> None:
            agg.lots = [*agg.lots, self.lot]

        def deadline_changes(self) -> list[DeadlineChange]:
            return [started(SECURITY_PERIOD, self.originator_id, self.lot.lot_id,
                            self.lot.available_at)]

    class EarningsMatured(Aggregate.Event):
        """Lots whose security period ended became available."""

        lot_ids: list[str]
        amount: Money
        available_after: Money
        entry: JournalEntry

        def apply(self, agg: FreelancerBalance) -> None:
            matured = set(self.lot_ids)
            agg.lots = [lot for lot in agg.lots if lot.lot_id not in matured]
            code = self.available_after.currency.code
            agg.available = {**agg.available, code: self.available_after}

        def deadline_changes(self) -> list[DeadlineChange]:
            return [stopped(SECURITY_PERIOD, self.originator_id, lot_id)
                    for lot_id in self.lot_ids]

    class EarningsRefunded(Aggregate.Event):
        """The freelancer refunded a client: from available first, then pending lots."""

        refund_id: str
        amount: Money
        from_available: Money
        from_lots: dict[str, Money]
        lots_before: dict[str, Money]
        entry: JournalEntry

        def apply(self, agg: FreelancerBalance) -> None:
            code = self.amount.currency.code
            agg.available = {**agg.available, code: agg.available_in(code) - self.from_available}
            agg.lots = [
                lot if lot.lot_id not in self.from_lots
                else dataclasses.replace(lot, amount=lot.amount - self.from_lots[lot.lot_id])
                for lot in agg.lots
            ]
            agg.lots = [lot for lot in agg.lots if lot.amount.amount > 0]

        def deadline_changes(self) -> list[DeadlineChange]:
            emptied = [lot_id for lot_id, taken in self.from_lots.items()
                       if taken == self.lots_before.get(lot_id)]
            return [stopped(SECURITY_PERIOD, self.originator_id, lot_id) for lot_id in emptied]

    class AvailableSpent(Aggregate.Event):
        """The freelancer paid for something on the platform (Connects) from available
        money. The postings are on the event of what was bought."""

        ref: str
        amount: Money
        available_after: Money

        def apply(self, agg: FreelancerBalance) -> None:
            agg.available = {**agg.available, self.amount.currency.code: self.available_after}

    class ChargebackDebited(Aggregate.Event):
        """A chargeback took an unprotected payment back from the available balance (it
        may go negative) and placed a hold. The postings are on the contract's event."""

        chargeback_id: str
        amount: Money
        available_after: Money

        def apply(self, agg: FreelancerBalance) -> None:
            agg.available = {**agg.available, self.amount.currency.code: self.available_after}
            agg.holds = {**agg.holds, self.chargeback_id: "open"}

    class ChargebackSettled(Aggregate.Event):
        """Won: the debit is reversed and its hold lifted. Lost: the debit stands, and the
        hold stays until the available balance is whole again."""

        chargeback_id: str
        won: bool
        amount: Money
        available_after: Money

        def apply(self, agg: FreelancerBalance) -> None:
            agg.available = {**agg.available, self.amount.currency.code: self.available_after}
            holds = dict(agg.holds)
            if self.won:
                holds.pop(self.chargeback_id, None)
            else:
                holds[self.chargeback_id] = "lost"
            agg.holds = holds

    WithdrawalRequested = payouts.WithdrawalRequested
    WithdrawalSent = payouts.WithdrawalSent
    WithdrawalSettled = payouts.WithdrawalSettled
    WithdrawalReturned = payouts.WithdrawalReturned
    HoldPlaced = payouts.HoldPlaced
    HoldReleased = payouts.HoldReleased

    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        freelancer_id: str
        lots: list[PendingLot]
        available: dict[str, Money]
        holds: dict[str, str]
        """Chargebacks holding the account: ``open`` or ``lost``."""
        in_flight: dict[str, Money]
        withdrawals: dict[str, payouts.Withdrawal]
        manual_holds: dict[str, payouts.Hold]
        """Holds finance placed (compliance, manual, a chargeback's), by hold id."""

    @staticmethod
    def id_for(freelancer_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"escrow-ledger:freelancer:{freelancer_id}")

    @classmethod
    def register(cls, freelancer_id: str, at: datetime) -> FreelancerBalance:
        return cls._create(
            cls.Registered, id=cls.id_for(freelancer_id), timestamp=at, freelancer_id=freelancer_id
        )

    def pending_in(self, currency: str) -> Money:
        return sum((lot.amount for lot in self.lots if lot.amount.currency.code == currency),
                   zero(currency))

    def available_in(self, currency: str) -> Money:
        return self.available.get(currency, zero(currency))

    def in_flight_in(self, currency: str) -> Money:
        return self.in_flight.get(currency, zero(currency))

    def all_active_holds(self) -> list[str]:
        """Everything blocking withdrawals: chargebacks' holds, then finance's."""
        return [*self.active_holds(),
                *sorted(h for h, hold in self.manual_holds.items() if hold.active)]

    def active_holds(self) -> list[str]:
        """Chargebacks holding withdrawals: open ones, and lost ones until no balance is
        negative."""
        negative = any(a.amount < 0 for a in self.available.values())
        return sorted(cb for cb, status in self.holds.items()
                      if status == "open" or negative)

    def spend_available(self, *, ref: str, amount: Money, at: datetime) -> None:
        code = amount.currency.code
        if amount > self.available_in(code):
            raise InsufficientFunds(
                f"{self.freelancer_id} has {self.available_in(code).amount} {code} available; "
                f"{amount.amount} cannot be paid from it")
        self.trigger_event(self.AvailableSpent, timestamp=at, ref=ref, amount=amount,
                           available_after=self.available_in(code) - amount)

    def charge_back(self, *, chargeback_id: str, amount: Money, at: datetime) -> None:
        code = amount.currency.code
        self.trigger_event(self.ChargebackDebited, timestamp=at, chargeback_id=chargeback_id,
                           amount=amount, available_after=self.available_in(code) - amount)

    def settle_chargeback(self, *, chargeback_id: str, won: bool, amount: Money,
                          at: datetime) -> None:
        code = amount.currency.code
        after = self.available_in(code) + amount if won else self.available_in(code)
        self.trigger_event(self.ChargebackSettled, timestamp=at, chargeback_id=chargeback_id,
                           won=won, amount=amount, available_after=after)

    def currencies(self) -> list[str]:
        codes = ({lot.amount.currency.code for lot in self.lots} | set(self.available)
                 | set(self.in_flight))
        return sorted(codes)

    def add_pending(self, lot: PendingLot, released_by_event: str, at: datetime) -> None:
        self.trigger_event(
            self.EarningsPending, timestamp=at, lot=lot, released_by_event=released_by_event
        )

    def running_deadlines(self) -> list[Deadline]:
        """Each pending lot's security period."""
        return [Deadline(lot.available_at, SECURITY_PERIOD, str(self.id), lot.lot_id)
                for lot in self.lots]

    def refund(self, *, refund_id: str, amount: Money, refund_to: str, at: datetime) -> None:
        """Takes ``amount`` from available first, then the newest pending lots."""
        code = amount.currency.code
        # a balance a chargeback made negative has nothing to refund from
        spendable = max(self.available_in(code), zero(code))
        if amount > spendable + self.pending_in(code):
            raise InsufficientFunds(
                f"{self.freelancer_id} holds {self.available_in(code).amount} available and "
                f"{self.pending_in(code).amount} pending {code}; cannot refund {amount.amount}")
        from_available = min(amount, spendable)
        left = amount - from_available
        taken: dict[str, Money] = {}
        for lot in sorted((x for x in self.lots if x.amount.currency.code == code),
                          key=lambda x: x.available_at, reverse=True):
            if left.amount == 0:
                break
            take = min(lot.amount, left)
            taken[lot.lot_id] = take
            left = left - take
        entry = JournalEntry.of(f"refund {refund_id} by {self.freelancer_id} to the client", [
            leg(Side.DEBIT, accounts.freelancer_available(self.freelancer_id), from_available),
            leg(Side.DEBIT, accounts.freelancer_pending(self.freelancer_id),
                amount - from_available),
            leg(Side.CREDIT, refund_to, amount),
        ])
        self.trigger_event(self.EarningsRefunded, timestamp=at, refund_id=refund_id,
                           amount=amount, from_available=from_available, from_lots=taken,
                           lots_before={lot.lot_id: lot.amount for lot in self.lots
                                        if lot.lot_id in taken},
                           entry=entry)

    def due_lots(self, at: datetime) -> list[PendingLot]:
        return [lot for lot in self.lots if lot.available_at <= at]

    def mature(self, upto: datetime) -> list[Money]:
        """Moves every lot due by ``upto`` to available, one event per due time and currency.

        Each event takes effect at its lots' due time, not when this runs, so a
        late scheduler does not shift when money became available.
        """
        due = self.due_lots(upto)
        totals: list[Money] = []
        for when, code in sorted({(lot.available_at, lot.amount.currency.code) for lot in due}):
            lots = [lot for lot in due
                    if lot.available_at == when and lot.amount.currency.code == code]
            amount = sum((lot.amount for lot in lots), zero(code))
            entry = JournalEntry.of(
                f"security period ended for {len(lots)} payment(s) of {self.freelancer_id}",
                [
                    debit(accounts.freelancer_pending(self.freelancer_id), amount),
                    credit(accounts.freelancer_available(self.freelancer_id), amount),
                ],
            )
            self.trigger_event(
                self.EarningsMatured,
                timestamp=when,
                lot_ids=[lot.lot_id for lot in lots],
                amount=amount,
                available_after=self.available_in(code) + amount,
                entry=entry,
            )
            totals.append(amount)
        return totals
