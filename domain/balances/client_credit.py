"""A client's credit on the platform: refunds kept here, spendable on funding.

Credit is a liability that may never go negative, so it is an aggregate. The
contract's events already carry the postings that move it; ``follow`` reads
those postings and refuses the whole command if the credit would go below zero,
so the contract and the credit are decided (and saved) together.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate
from moneyed import Money

from domain.bookkeeping import accounts
from domain.bookkeeping.postings import JournalEntry
from domain.errors import InsufficientFunds
from domain.money import money, zero


class ClientCredit(Aggregate):
    class Opened(Aggregate.Created):
        client_id: str

        def apply(self, agg: ClientCredit) -> None:
            agg.client_id = self.client_id
            agg.balances = {}

    class CreditMoved(Aggregate.Event):
        """The credit changed by ``amount`` (negative when spent) through ``source``.

        The postings live on the source event; this one keeps the balance.
        """

        amount: Money
        balance: Money
        source: str

        def apply(self, agg: ClientCredit) -> None:
            agg.balances = {**agg.balances, self.balance.currency.code: self.balance}

    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        client_id: str
        balances: dict[str, Money]

    @staticmethod
    def id_for(client_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"escrow-ledger:client-credit:{client_id}")

    @classmethod
    def open(cls, client_id: str, at: datetime) -> ClientCredit:
        return cls._create(cls.Opened, id=cls.id_for(client_id), timestamp=at,
                           client_id=client_id)

    def balance_in(self, currency: str) -> Money:
        return self.balances.get(currency, zero(currency))

    def follow(self, events: Iterable[Any], at: datetime) -> None:
        """Applies every movement of this client's credit found in ``events``' entries."""
        account = accounts.client_credit(self.client_id)
        for event in events:
            entry = getattr(event, "entry", None)
            if not isinstance(entry, JournalEntry):
                continue
            for code in sorted({p.amount.currency.code for p in entry.postings
                                if p.account == account}):
                # credit is a liability: credits raise it, debits spend it
                change = -sum(p.signed for p in entry.postings
                               if p.account == account and p.amount.currency.code == code)
                after = self.balance_in(code).amount + change
                if after < 0:
                    raise InsufficientFunds(
                        f"client {self.client_id} has {self.balance_in(code).amount} {code} "
                        f"of credit; {-change} is needed"
                    )
                self.trigger_event(
                    self.CreditMoved, timestamp=at, amount=money(change, code),
                    balance=money(after, code),
                    source=f"{event.originator_id}@{event.originator_version}",
                )
