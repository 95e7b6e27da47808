"""Request and response bodies of Connects. Counts are JSON integers (``16``, not
``"16"`` or ``16.0``); money is ``{"amount": "12.00", "currency": "USD"}``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.models import (
    CommandIn,
    CommandOut,
    DateTimeString,
    MoneyOut,
    ReadOut,
    ShortId,
    SingleLine,
    Timestamp,
)

Count = Annotated[int, Field(strict=True, ge=1, le=1_000_000, examples=[80])]


class PurchaseIn(CommandIn):
    connects: Count
    payment_method: Literal["card", "available_balance"] = Field(
        default="card", description="`available_balance` is refused if it would overdraw.")


class GrantIn(CommandIn):
    connects: Count
    reason: SingleLine = Field(min_length=1, max_length=200, examples=["welcome bonus"])


class MembershipIn(CommandIn):
    plan: Literal["basic", "plus"] = Field(description="basic: 10 Connects a month; plus: "
                                           "100 a month for $19.99 (assumed).")


class SpendIn(CommandIn):
    connects: Count = Field(description="A proposal costs 1 to 16.")
    reason: Literal["proposal", "availability_badge", "profile_boost"] = "proposal"
    job_id: ShortId | None = Field(default=None, description="Required for a proposal.")


class BoostIn(CommandIn):
    job_id: SingleLine = Field(min_length=1, max_length=200)
    connects: Count
    job_posted_at: Timestamp | None = Field(
        default=None, description="When the job was posted: its auction closes 7 days later "
        "(default: now).")


class OutbidIn(CommandIn):
    pass


class ReturnIn(CommandIn):
    spend_id: SingleLine = Field(min_length=1, max_length=200)
    reason: SingleLine = Field(max_length=200, description="`job_cancelled_before_contract` or "
                        "`job_removed_for_violation`; any other return is refused.")


class LotView(BaseModel):
    lot_id: str
    source: str
    issued_at: DateTimeString
    expires_at: DateTimeString
    unit_price: MoneyOut
    issued: int
    remaining: int
    expired: int


class LotOut(CommandOut):
    freelancer_id: str
    lot: LotView
    price: MoneyOut | None = None
    payment_method: str | None = None
    balance: int


class MembershipOut(CommandOut):
    freelancer_id: str
    plan: str
    charged: MoneyOut
    granted: int
    next_cycle_at: DateTimeString | None
    balance: int


class TakenView(BaseModel):
    lot_id: str
    connects: int


class SpendOut(CommandOut):
    freelancer_id: str
    spend_id: str
    boost_id: str | None = None
    reason: str
    job_id: str | None
    connects: int
    status: str
    taken: list[TakenView] = Field(description="Oldest lot first.")
    revenue: MoneyOut = Field(description="The paid share, at each lot's unit price.")
    auction_closes_at: DateTimeString | None
    returned: int | None = None
    balance: int


class WalletView(ReadOut):
    freelancer_id: str
    balance: int
    plan: str | None
    next_cycle_at: DateTimeString | None
    lots: list[LotView]
    history: list[dict[str, object]]
    next_cursor: int | None


class SpentOnJobs(BaseModel):
    jobs: int
    connects: int


class StatementOut(ReadOut):
    freelancer_id: str
    month: str
    opening_balance: int
    closing_balance: int
    bought: dict[str, object]
    granted: int
    membership_charged: MoneyOut
    spent: dict[str, object]
    returned: int
    expired: int
    spent_on_jobs: dict[str, SpentOnJobs]
