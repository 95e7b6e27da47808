"""A milestone's escrow and the movements out of it, as plain values.

Kept apart from the contract aggregate so its events and rules read in one
sitting; these values are what the events carry and what the contract holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from moneyed import Money

from domain.money import restore_money, zero


class MilestoneStatus(StrEnum):
    CREATED = "created"
    FUNDED = "funded"
    SUBMITTED = "submitted"
    CHANGES_REQUESTED = "changes_requested"
    RELEASED = "released"
    REFUNDED = "refunded"
    DISPUTED = "disputed"  # its escrow is frozen under a dispute until the outcome


@dataclass(frozen=True)
class Milestone:
    milestone_id: str
    title: str
    amount: Money
    status: MilestoneStatus
    escrow: Money
    released: Money
    fee_held: Money
    """Marketplace fee the client paid on the money now in this escrow: what a refund returns."""
    review_due_at: datetime | None = None


@dataclass(frozen=True)
class EscrowMovement:
    """An amount taken from one milestone's escrow, with the marketplace fee paid on it."""

    milestone_id: str
    amount: Money
    fee: Money | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "milestone_id": self.milestone_id,
            "amount": str(self.amount.amount),
            "currency": self.amount.currency.code,
            "fee": None if self.fee is None else str(self.fee.amount),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EscrowMovement:
        fee = d.get("fee")
        return cls(d["milestone_id"], restore_money(d["amount"], d["currency"]),
                   None if fee is None else restore_money(fee, d["currency"]))

    @property
    def fee_or_zero(self) -> Money:
        return self.fee if self.fee is not None else zero(self.amount.currency)
