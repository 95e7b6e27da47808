"""An hourly contract's plain values: time entries, limits, a week's invoice, a dispute."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from moneyed import Money

from domain.money import restore_money


@dataclass(frozen=True)
class TimeEntry:
    entry_id: str
    week_start: date
    worked_on: date
    minutes: int
    manual: bool


@dataclass(frozen=True)
class LimitChange:
    """The weekly limit in whole hours, in force from ``effective_from``."""

    effective_from: datetime
    hours: int

    def to_dict(self) -> dict[str, Any]:
        return {"effective_from": self.effective_from.isoformat(), "hours": self.hours}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LimitChange:
        return cls(datetime.fromisoformat(d["effective_from"]), int(d["hours"]))


class WeekStatus(StrEnum):
    IN_REVIEW = "in_review"
    DISPUTED = "disputed"
    PENDING = "pending"
    """Paid to the freelancer; a read says ``available`` once its lots have matured."""
    REFUNDED = "refunded"


@dataclass(frozen=True)
class WeekInvoice:
    """What a week billed, and where its money is now."""

    week_start: date
    minutes_logged: int
    minutes_billed: int
    manual_minutes_billed: int
    amount: Money
    marketplace_fee: Money
    held: Money
    """Still in hourly review for this week (the invoice less what a dispute froze)."""
    fee_held: Money
    """Marketplace fee on ``held``: what a later refund of it returns."""
    review_ends_at: datetime
    status: WeekStatus
    disputed_minutes: int = 0
    refunded: Money | None = None
    service_fee: Money | None = None
    released: Money | None = None
    available_at: datetime | None = None
    lot_ids: tuple[str, ...] = ()
    """The freelancer's pending lots this week paid into: available once all matured."""
    payment_id: str | None = None
    initiation_fee: Money | None = None
    """Charged with the week when it was the contract's first payment."""
    payment_method: str | None = None


class DisputeStatus(StrEnum):
    OPEN = "open"
    DECLINED = "declined"
    SETTLED = "settled"


@dataclass(frozen=True)
class HourlyDispute:
    dispute_id: str
    week_start: date
    minutes: int
    amount: Money
    marketplace_fee: Money
    manual_minutes: int
    """Manual minutes among the disputed ones: they always fail protection."""
    respond_by: datetime
    status: DisputeStatus


@dataclass(frozen=True)
class Payment:
    """Money paid to the freelancer on a contract (net), for the 180-day refund window."""

    at: datetime
    net: Money
    ref: str

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "net": str(self.net.amount),
                "currency": self.net.currency.code, "ref": self.ref}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Payment:
        return cls(datetime.fromisoformat(d["at"]), restore_money(d["net"], d["currency"]),
                   d["ref"])
