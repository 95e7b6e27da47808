"""Bodies and answers of the payouts routes: withdrawals and holds."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.models import (
    CommandIn,
    CommandOut,
    CurrencyCode,
    DateTimeString,
    DecimalString,
    MoneyOut,
    MultiLine,
    ReadOut,
    Reference,
)

Method = Literal["us_bank", "local_bank", "usd_wire", "wire", "instant_debit_card"]


class WithdrawalIn(CommandIn):
    amount: DecimalString = Field(examples=["100.00"], description="What reaches the "
                                  "freelancer's account; the method's fee is on top of it.")
    currency: CurrencyCode = "USD"
    method: Method = Field(description="`us_bank` free; `local_bank` $0.99 (minimum $5.00); "
                           "`usd_wire` (or `wire`) $50.00; `instant_debit_card` $2.00.")


class WithdrawalSentIn(CommandIn):
    processor_reference: Reference | None = Field(default=None,
                                                 description="The processor's payout id.")


class WithdrawalReturnedIn(CommandIn):
    reason: MultiLine = Field(default="", max_length=500)


class HoldIn(CommandIn):
    reason: Literal["chargeback", "compliance", "manual"]
    note: MultiLine = Field(default="", max_length=500)


class HoldReleaseIn(CommandIn):
    note: MultiLine = Field(default="", max_length=500)


class WithdrawalBalance(BaseModel):
    available: MoneyOut
    in_flight: MoneyOut


class WithdrawalFields(BaseModel):
    withdrawal_id: str = Field(description="Stable; the processor's reports carry it.")
    freelancer_id: str
    method: str
    state: str = Field(description="`requested`, `sent`, `settled`, `failed` or `cancelled`.")
    amount: MoneyOut
    fee: MoneyOut = Field(description="Kept as revenue even if the withdrawal fails.")
    total: MoneyOut = Field(description="Amount + fee: what left the available balance.")
    fee_schedule: str
    requested_at: DateTimeString
    updated_at: DateTimeString
    processor_reference: str | None
    failure_reason: str | None
    balance: WithdrawalBalance = Field(description="The freelancer's balance in this "
                                       "currency after this step (as of the log position).")


class WithdrawalOut(WithdrawalFields, CommandOut):
    pass


class WithdrawalView(WithdrawalFields, ReadOut):
    pass


class HoldFields(BaseModel):
    hold_id: str
    freelancer_id: str
    reason: str
    note: str
    active: bool
    placed_at: DateTimeString
    placed_by: str
    released_at: DateTimeString | None
    released_by: str | None
    withdrawals_blocked_by: list[str] = Field(description="Every hold still blocking the "
                                              "freelancer's withdrawals after this step.")


class HoldOut(HoldFields, CommandOut):
    pass


class HoldView(HoldFields, ReadOut):
    pass


class WithdrawalRow(BaseModel):
    withdrawal_id: str
    method: str
    state: str
    amount: MoneyOut
    fee: MoneyOut
    requested_at: DateTimeString
    sent_at: DateTimeString | None
    settled_at: DateTimeString | None
    returned_at: DateTimeString | None = Field(description="When it failed or was cancelled.")
    updated_at: DateTimeString
    failure_reason: str | None


class StateTotal(BaseModel):
    state: str
    count: int
    amount: MoneyOut
    fees: MoneyOut


class WithdrawalListOut(ReadOut):
    freelancer_id: str
    withdrawals: list[WithdrawalRow] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null "
                                    "at the end.")
    totals: list[StateTotal] = Field(description="Every withdrawal of the freelancer (not "
                                     "only this page), per state and currency.")
