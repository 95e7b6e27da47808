"""Double entry: postings and the journal entries that must balance.

A ``JournalEntry`` cannot be constructed unbalanced, so an event that carries one
is balanced by construction. Debit and credit are two non-negative legs rather
than a signed amount, as in hordak: a negative posting would make the side of a
movement depend on its sign, which is where ledgers go wrong.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from moneyed import Money

from domain.bookkeeping.accounts import kind_of
from domain.errors import UnbalancedEntry
from domain.money import restore_money


class Side(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"


@dataclass(frozen=True)
class Posting:
    account: str
    side: Side
    amount: Money

    def __post_init__(self) -> None:
        kind_of(self.account)  # refuses accounts outside the chart
        if self.amount.amount <= 0:
            raise UnbalancedEntry(f"posting to {self.account} must be above zero: {self.amount!r}")

    @property
    def signed(self) -> Decimal:
        """Debits positive, credits negative: the zero-sum view of the books."""
        return self.amount.amount if self.side is Side.DEBIT else -self.amount.amount

    def to_dict(self) -> dict[str, str]:
        return {
            "account": self.account,
            "side": self.side.value,
            "amount": str(self.amount.amount),
            "currency": self.amount.currency.code,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Posting:
        """A stored posting, as recorded: today's chart of accounts does not re-judge it."""
        posting = object.__new__(cls)
        object.__setattr__(posting, "account", d["account"])
        object.__setattr__(posting, "side", Side(d["side"]))
        object.__setattr__(posting, "amount", restore_money(d["amount"], d["currency"]))
        return posting


def debit(account: str, amount: Money) -> Posting:
    return Posting(account, Side.DEBIT, amount)


def credit(account: str, amount: Money) -> Posting:
    return Posting(account, Side.CREDIT, amount)


@dataclass(frozen=True)
class JournalEntry:
    """One balanced movement of money; ``memo`` says why in a sentence."""

    postings: tuple[Posting, ...]
    memo: str

    def __post_init__(self) -> None:
        if not self.postings:
            raise UnbalancedEntry("a journal entry needs at least two postings")
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for p in self.postings:
            totals[p.amount.currency.code] += p.signed
        unbalanced = {c: t for c, t in totals.items() if t != 0}
        if unbalanced:
            raise UnbalancedEntry(f"entry {self.memo!r} does not balance: {unbalanced}")

    @classmethod
    def of(cls, memo: str, postings: Iterable[Posting | None]) -> JournalEntry:
        """Builds an entry, dropping absent legs (a zero fee posts nothing)."""
        return cls(tuple(p for p in postings if p is not None), memo)

    def to_dict(self) -> dict[str, Any]:
        return {"memo": self.memo, "postings": [p.to_dict() for p in self.postings]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> JournalEntry:
        return cls(tuple(Posting.from_dict(p) for p in d["postings"]), d["memo"])

    def amount_for(self, account: str) -> Decimal:
        """Net signed movement of one account in this entry."""
        return sum((p.signed for p in self.postings if p.account == account), Decimal(0))


def books_balance(net_by_currency: Mapping[str, Decimal]) -> bool:
    """Debits equal credits in every currency: the first invariant of the ledger."""
    return all(net == 0 for net in net_by_currency.values())


def leg(side: Side, account: str, amount: Money) -> Posting | None:
    """A posting, or nothing when the amount is zero (fees of $0 post nothing)."""
    if amount.amount == 0:
        return None
    return Posting(account, side, amount)
