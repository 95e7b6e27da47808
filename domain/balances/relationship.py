"""A client-freelancer relationship: the lifetime billings the tiered fee depends on.

The 2016-2023 service fee was marginal on lifetime billings *per relationship*,
and relationships already in the 5% tier kept it until 2023-12-31, so the fee of
any release depends on this aggregate's state. It is saved atomically with the
release that bills it, so two racing releases cannot both use stale billings.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate
from moneyed import Money

from domain.money import require_same_currency, zero


class Relationship(Aggregate):
    class Started(Aggregate.Created):
        client_id: str
        freelancer_id: str
        currency: str

        def apply(self, agg: Relationship) -> None:
            agg.client_id = self.client_id
            agg.freelancer_id = self.freelancer_id
            agg.currency = self.currency
            agg.lifetime_billings = zero(self.currency)
            agg.top_tier_since = None
            agg.contract_ids = ()

    class BillingRecorded(Aggregate.Event):
        """A payment counted toward lifetime billings (negative for a refund)."""

        amount: Money
        lifetime_billings: Money
        top_tier_since: datetime | None
        source: str

        def apply(self, agg: Relationship) -> None:
            agg.lifetime_billings = self.lifetime_billings
            agg.top_tier_since = self.top_tier_since

    class ContractJoined(Aggregate.Event):
        """A contract between the two was opened: its payments bill this relationship."""

        contract_id: str

        def apply(self, agg: Relationship) -> None:
            agg.contract_ids = (*agg.contract_ids, self.contract_id)

    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        client_id: str
        freelancer_id: str
        currency: str
        lifetime_billings: Money
        top_tier_since: datetime | None
        contract_ids: tuple[str, ...]

    @staticmethod
    def id_for(client_id: str, freelancer_id: str, currency: str) -> UUID:
        return _relationship_id(client_id, freelancer_id, currency)

    @classmethod
    def start(cls, client_id: str, freelancer_id: str, currency: str, at: datetime) -> Relationship:
        return cls._create(
            cls.Started,
            id=cls.id_for(client_id, freelancer_id, currency),
            timestamp=at,
            client_id=client_id,
            freelancer_id=freelancer_id,
            currency=currency,
        )

    def join(self, contract_id: str, at: datetime) -> None:
        """Remembers a contract of the pair, so a late command on one settles the others first.

        The tiered fee depends on the order payments reached the relationship;
        deadlines of every contract of the pair must fire in due order.
        """
        if contract_id not in self.contract_ids:
            self.trigger_event(self.ContractJoined, timestamp=at, contract_id=contract_id)

    def record_billing(
        self, amount: Money, at: datetime, source: str, top_tier_threshold: Money
    ) -> None:
        require_same_currency(amount, self.lifetime_billings)
        after = self.lifetime_billings + amount
        since = self.top_tier_since
        if since is None and after > top_tier_threshold:
            since = at
        self.trigger_event(
            self.BillingRecorded,
            timestamp=at,
            amount=amount,
            lifetime_billings=after,
            top_tier_since=since,
            source=source,
        )


@lru_cache(maxsize=65536)
def _relationship_id(client_id: str, freelancer_id: str, currency: str) -> UUID:
    """Remembered: a command on a contract asks it once per contract of the relationship
    (a busy pair has hundreds), and a UUID5 costs a SHA-1."""
    name = f"escrow-ledger:relationship:{client_id}:{freelancer_id}:{currency}"
    return uuid5(NAMESPACE_URL, name)
