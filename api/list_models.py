"""Response bodies of the lists (contracts, milestones, payments) and the revenue report.

Money is ``{"amount": "500.00", "currency": "USD"}``; revenue lines carry their
currency once and amounts as decimal strings. Times are ISO 8601 UTC.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.models import DateTimeString, MoneyOut, ReadOut

ContractState = Literal["active", "ending", "ended"]
MilestoneState = Literal["created", "funded", "submitted", "changes_requested", "released",
                         "refunded", "disputed"]
PaymentState = Literal["charged", "partially_refunded", "refunded", "charged_back"]

NEXT_CURSOR = Field(description="Pass as `cursor` for the next page; null on the last page.")


class ContractListItem(BaseModel):
    contract_id: str
    kind: Literal["fixed_price", "hourly"]
    client_id: str
    freelancer_id: str
    job_id: str | None
    title: str | None = Field(description="Contracts carry no title yet: null.")
    currency: str
    state: ContractState = Field(description="`ending`: the client ended it with escrow left "
                                 "and a refund request awaits the freelancer.")
    opened_at: DateTimeString
    updated_at: DateTimeString = Field(description="The contract's last event.")
    ended_at: DateTimeString | None


class ContractsPageOut(ReadOut):
    contracts: list[ContractListItem] = Field(description="Newest first (by opening time).")
    next_cursor: str | None = NEXT_CURSOR


class MilestoneListItem(BaseModel):
    milestone_id: str
    contract_id: str
    title: str
    amount: MoneyOut
    escrow: MoneyOut = Field(description="What escrow holds for it now (outside disputes).")
    state: MilestoneState
    added_at: DateTimeString
    updated_at: DateTimeString


class MilestonesPageOut(ReadOut):
    milestones: list[MilestoneListItem] = Field(description="Newest first (by when added).")
    next_cursor: str | None = NEXT_CURSOR


class PaymentListItem(BaseModel):
    payment_id: str = Field(description="The id a processor's chargeback names.")
    contract_id: str
    kind: Literal["escrow_funding", "hourly_invoice", "bonus"]
    subject: str = Field(description="The milestone funded, the week invoiced (its Monday), "
                         "or the bonus.")
    amount: MoneyOut = Field(description="What the charge paid for, before the client's fees.")
    marketplace_fee: MoneyOut
    initiation_fee: MoneyOut
    total_charged: MoneyOut
    refunded: MoneyOut = Field(description="Of `amount`, what went back to the client (escrow "
                               "refunds oldest money first; an hourly week's own refunds).")
    payment_method: str
    state: PaymentState
    chargeback_id: str | None
    chargeback_status: Literal["open", "won", "lost"] | None
    charged_at: DateTimeString
    updated_at: DateTimeString


class PaymentsPageOut(ReadOut):
    payments: list[PaymentListItem] = Field(description="Newest first (by charge time).")
    next_cursor: str | None = NEXT_CURSOR


class RevenueTotalLine(BaseModel):
    currency: str
    gross: str = Field(description="Credited to revenue.", examples=["50.00"])
    reversed: str = Field(description="Debited back (a refunded marketplace fee, Connects "
                          "returned).", examples=["0.00"])
    net: str = Field(description="gross - reversed.", examples=["50.00"])


class RevenueFeeLine(RevenueTotalLine):
    kind: str = Field(description="The fee kind: `service_fee`, `marketplace_fee`, "
                      "`initiation_fee`, `withdrawal_fee`, `connects`, `connects_breakage`, "
                      "`membership`.")


class RevenueDayLine(RevenueFeeLine):
    day: str = Field(description="The UTC day (YYYY-MM-DD).")


class DeferredLine(BaseModel):
    kind: str = Field(description="`initiation_fee` (all contracts together) or `connects`.")
    currency: str
    opening: str = Field(description="The balance at the start of `from`.")
    added: str
    released: str = Field(description="Recognised as revenue or returned to the client.")
    closing: str = Field(description="The balance at the end of `to`.")


class RevenueReportOut(ReadOut):
    model_config = ConfigDict(populate_by_name=True)

    period_from: str = Field(alias="from", description="First day, included (UTC).")
    period_to: str = Field(alias="to", description="Last day, included (UTC).")
    fees: list[RevenueFeeLine] = Field(description="Per fee kind and currency over the period.")
    days: list[RevenueDayLine] = Field(description="Per day with any revenue posting.")
    totals: list[RevenueTotalLine] = Field(description="Every fee kind together, per currency.")
    deferred: list[DeferredLine]
