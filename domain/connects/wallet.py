"""A freelancer's Connects: lots, spends, boosts, returns and expiry, in double entry.

Connects are a second unit of account (``CONNECTS``). Every lot issued, spent,
returned or expired posts units between ``connects:issued``, the freelancer's
``connects:wallet:<id>``, ``connects:spent`` and ``connects:expired``; a lot
bought with money also posts money: the price to *deferred Connects revenue*,
moved to *Connects revenue* as its Connects are spent (at the lot's unit
price) or to *breakage* when they expire. So deferred revenue is always the
unit price times the unspent paid Connects. Spending takes the oldest
unexpired lot first; a return goes back into the lots it came from, with their
original expiry. The wallet is one aggregate so no two spends can take the
same Connect.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate
from moneyed import Money

from domain.bookkeeping import accounts
from domain.bookkeeping.accounts import Revenue
from domain.bookkeeping.postings import JournalEntry, Posting, Side, leg
from domain.connects.rules import CONNECTS_LIFETIME, Plan, add_months
from domain.deadlines import Deadline, DeadlineChange, DeadlineKind, started, stopped
from domain.money import CONNECTS, money, zero

EXPIRY = DeadlineKind.CONNECTS_EXPIRY
MONTHLY = DeadlineKind.CONNECTS_MONTHLY
AUCTION = DeadlineKind.BOOST_AUCTION_CLOSE
MONTHLY_REF = "monthly"


def units(n: int) -> Money:
    return money(n, CONNECTS)


@dataclass(frozen=True)
class Lot:
    lot_id: str
    source: str  # purchase | grant | membership
    issued_at: datetime
    expires_at: datetime
    unit_price: Money
    issued: int
    remaining: int
    seq: int
    """The issuing event's version: lots issued at one moment are spent in issue order."""
    expired: int = 0

    @property
    def paid(self) -> bool:
        return self.unit_price.amount > 0


@dataclass(frozen=True)
class Spend:
    spend_id: str
    at: datetime
    reason: str
    job_id: str | None
    connects: int
    taken: tuple[tuple[str, int], ...]
    status: str = "spent"  # spent | returned | outbid | final (a boost whose auction closed)
    auction_closes_at: datetime | None = None


class ConnectsWallet(Aggregate):
    class Opened(Aggregate.Created):
        freelancer_id: str

        def apply(self, w: ConnectsWallet) -> None:
            w.freelancer_id = self.freelancer_id
            w.lots = {}
            w.spends = {}
            w.plan = None
            w.plan_started_at = None
            w.cycle = 0
            w.next_cycle_at = None

    class LotIssued(Aggregate.Event):
        """Connects bought (``price`` paid from ``paid_from``) or granted (price zero)."""

        lot_id: str
        source: str
        connects: int
        unit_price: Money
        price: Money
        paid_from: str | None
        expires_at: datetime
        entry: JournalEntry
        actor: str

        def apply(self, w: ConnectsWallet) -> None:
            w.lots = {**w.lots, self.lot_id: Lot(
                self.lot_id, self.source, self.timestamp, self.expires_at, self.unit_price,
                self.connects, self.connects, self.originator_version)}

        def deadline_changes(self) -> list[DeadlineChange]:
            return [started(EXPIRY, self.originator_id, self.lot_id, self.expires_at)]

    class MembershipRenewed(Aggregate.Event):
        """A month of a plan began: Freelancer Plus is charged; the month's grant follows.

        Months count from ``plan_started_at`` (``cycle`` 0 is the first), so a plan
        started on the 31st renews on each month's last day without drifting.
        """

        plan: str
        plan_started_at: datetime
        cycle: int
        charged: Money
        paid_from: str | None
        fee_schedule: str
        next_cycle_at: datetime
        entry: JournalEntry | None
        actor: str

        def apply(self, w: ConnectsWallet) -> None:
            w.plan = Plan(self.plan)
            w.plan_started_at = self.plan_started_at
            w.cycle = self.cycle
            w.next_cycle_at = self.next_cycle_at

        def deadline_changes(self) -> list[DeadlineChange]:
            return [started(MONTHLY, self.originator_id, MONTHLY_REF, self.next_cycle_at)]

    class ConnectsSpent(Aggregate.Event):
        """Connects spent, oldest lot first; ``revenue`` is the paid share recognised."""

        spend_id: str
        reason: str
        job_id: str | None
        connects: int
        taken: dict[str, int]
        revenue: Money
        auction_closes_at: datetime | None
        entry: JournalEntry
        actor: str

        def apply(self, w: ConnectsWallet) -> None:
            w.take(self.taken, -1)
            w.spends = {**w.spends, self.spend_id: Spend(
                self.spend_id, self.timestamp, self.reason, self.job_id, self.connects,
                tuple(self.taken.items()), auction_closes_at=self.auction_closes_at)}

        def deadline_changes(self) -> list[DeadlineChange]:
            if self.auction_closes_at is None:
                return []
            return [started(AUCTION, self.originator_id, self.spend_id, self.auction_closes_at)]

    class ConnectsReturned(Aggregate.Event):
        """A spend came back into the lots it was taken from, with their original expiry.

        Connects returned into a lot that already expired expire again at once
        (``expired_again``): their money goes from Connects revenue to breakage.
        """

        spend_id: str
        reason: str
        status: str
        taken: dict[str, int]
        revenue_reversed: Money
        expired_again: dict[str, int]
        entry: JournalEntry
        actor: str

        def apply(self, w: ConnectsWallet) -> None:
            w.take(self.taken, +1)
            w.take(self.expired_again, -1, expire=True)
            s = w.spends[self.spend_id]
            w.spends = {**w.spends, self.spend_id: dataclasses.replace(s, status=self.status)}

        def deadline_changes(self) -> list[DeadlineChange]:
            return [stopped(AUCTION, self.originator_id, self.spend_id)]

    class BoostAuctionClosed(Aggregate.Event):
        """The job's auction closed: the boost stands and can no longer be outbid."""

        spend_id: str
        actor: str

        def apply(self, w: ConnectsWallet) -> None:
            s = w.spends[self.spend_id]
            w.spends = {**w.spends, self.spend_id: dataclasses.replace(s, status="final")}

        def deadline_changes(self) -> list[DeadlineChange]:
            return [stopped(AUCTION, self.originator_id, self.spend_id)]

    class LotExpired(Aggregate.Event):
        """A year after issue: the lot's unspent Connects expired; their money is breakage."""

        lot_id: str
        connects: int
        breakage: Money
        entry: JournalEntry | None
        actor: str

        def apply(self, w: ConnectsWallet) -> None:
            w.take({self.lot_id: self.connects}, -1, expire=True)

        def deadline_changes(self) -> list[DeadlineChange]:
            return [stopped(EXPIRY, self.originator_id, self.lot_id)]

    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        freelancer_id: str
        lots: dict[str, Lot]
        spends: dict[str, Spend]
        plan: Plan | None
        plan_started_at: datetime | None
        cycle: int
        next_cycle_at: datetime | None

    @staticmethod
    def id_for(freelancer_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"escrow-ledger:connects-wallet:{freelancer_id}")

    @classmethod
    def open(cls, freelancer_id: str, at: datetime) -> ConnectsWallet:
        return cls._create(cls.Opened, id=cls.id_for(freelancer_id), timestamp=at,
                           freelancer_id=freelancer_id)

    # ---- queries ---------------------------------------------------------------------

    def balance(self) -> int:
        return sum(lot.remaining for lot in self.lots.values())

    def usable_lots(self, at: datetime) -> list[Lot]:
        """Unexpired lots with Connects left, oldest first."""
        return sorted((lot for lot in self.lots.values()
                       if lot.remaining > 0 and lot.expires_at > at),
                      key=lambda lot: (lot.issued_at, lot.seq))

    def running_deadlines(self) -> list[Deadline]:
        subject = str(self.id)
        running = [Deadline(lot.expires_at, EXPIRY, subject, lot.lot_id)
                   for lot in self.lots.values() if lot.remaining > 0]
        if self.next_cycle_at is not None:
            running.append(Deadline(self.next_cycle_at, MONTHLY, subject, MONTHLY_REF))
        running += [Deadline(s.auction_closes_at, AUCTION, subject, s.spend_id)
                    for s in self.spends.values()
                    if s.status == "spent" and s.auction_closes_at is not None]
        return running

    def take(self, counts: dict[str, int], sign: int, *, expire: bool = False) -> None:
        """Moves Connects out of (sign -1) or back into (+1) lots; called by events only."""
        lots = dict(self.lots)
        for lot_id, n in counts.items():
            lot = lots[lot_id]
            lots[lot_id] = dataclasses.replace(
                lot, remaining=lot.remaining + sign * n,
                expired=lot.expired + (n if expire else 0))
        self.lots = lots

    # ---- entries ------------------------------------------------------------------------

    def issue_entry(self, memo: str, connects: int, price: Money,
                    paid_from: str | None) -> JournalEntry:
        wallet = accounts.connects_wallet(self.freelancer_id)
        return JournalEntry.of(memo, [
            leg(Side.DEBIT, accounts.CONNECTS_ISSUED, units(connects)),
            leg(Side.CREDIT, wallet, units(connects)),
            leg(Side.DEBIT, paid_from, price) if paid_from else None,
            leg(Side.CREDIT, accounts.DEFERRED_CONNECTS, price) if paid_from else None,
        ])

    def spend_legs(self, taken: dict[str, int], *, back: bool) -> Iterable[Posting | None]:
        """Units wallet → spent and money deferred → revenue (reversed when ``back``)."""
        total = sum(taken.values())
        revenue = self.value_of(taken)
        out, into = (Side.DEBIT, Side.CREDIT) if not back else (Side.CREDIT, Side.DEBIT)
        return [
            leg(out, accounts.connects_wallet(self.freelancer_id), units(total)),
            leg(into, accounts.CONNECTS_SPENT, units(total)),
            leg(out, accounts.DEFERRED_CONNECTS, revenue),
            leg(into, accounts.revenue(Revenue.CONNECTS), revenue),
        ]

    def value_of(self, taken: dict[str, int]) -> Money:
        """What ``taken`` Connects cost, each at its own lot's unit price."""
        currency = next((lot.unit_price.currency.code for lot in self.lots.values()), "USD")
        return sum((self.lots[lot_id].unit_price * n for lot_id, n in taken.items()),
                   zero(currency))


def lot_expiry(issued_at: datetime) -> datetime:
    return add_months(issued_at, CONNECTS_LIFETIME)

