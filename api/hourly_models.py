"""Request and response bodies of hourly contracts, bonuses and freelancer refunds.

Same rules as ``api.models``: request bodies refuse unknown fields, money is
``{"amount": "40.00", "currency": "USD"}`` with a string amount, and these
models only check shape (the ledger decides what is allowed). Counts of
minutes and hours are JSON integers (``"300"``, ``300.0`` or ``true`` are
refused); dates are ISO 8601 calendar dates (``"2026-03-02"``), in UTC.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field

from api.models import (
    ChargeOut,
    CommandIn,
    ContractCommandOut,
    DateTimeString,
    MoneyIn,
    MoneyOut,
    ReadOut,
)
from domain.contracts.escrow import RefundTo
from domain.contracts.terms import Party
from domain.fees.methods import PaymentMethod

_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _iso_date_string(value: Any) -> Any:
    """Only ``YYYY-MM-DD``: no timestamps, no datetimes quietly cut to their day."""
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("a date is a string YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_string),
                    Field(examples=["2026-03-02"], description="A UTC calendar date, YYYY-MM-DD.")]
Minutes = Annotated[int, Field(strict=True, ge=1, le=10080, examples=[300])]
WeeklyLimitHours = Annotated[
    int, Field(strict=True, ge=0, le=168, examples=[20],
               description="Whole hours per billing week; 0 bills nothing.")
]


# --- commands ------------------------------------------------------------------------


class LogTimeIn(CommandIn):
    worked_on: IsoDate = Field(description="The day worked (UTC); not a day still to come.")
    minutes: Minutes = Field(description="Whole minutes; a day holds at most 1440.")
    manual: bool = Field(default=False, strict=True,
                         description="Manual time: invoiced, not covered by Hourly Protection.")


class DeleteTimeEntryIn(CommandIn):
    pass


class ChangeWeeklyLimitIn(CommandIn):
    hours: WeeklyLimitHours = Field(
        description="An increase applies at once (hours already logged count); a decrease "
        "from the next Monday 00:00 UTC.")


class ChangeRateIn(CommandIn):
    hourly_rate: MoneyIn = Field(description="At least $3/h, in whole cents.")
    by: Party = Field(description="Only the client raises the rate; only the freelancer "
                      "lowers it.")


class PauseContractIn(CommandIn):
    pass


class ResumeContractIn(CommandIn):
    pass


class OpenHourlyDisputeIn(CommandIn):
    week_start: IsoDate = Field(description="The Monday of an invoiced week still in review.")
    minutes: Minutes = Field(description="At most the week's invoiced minutes not yet disputed.")


class AcceptHourlyDisputeIn(CommandIn):
    pass


class DeclineHourlyDisputeIn(CommandIn):
    pass


class ResolveHourlyDisputeIn(CommandIn):
    failed_minutes: int = Field(
        strict=True, ge=0, le=10080, examples=[120],
        description="Disputed minutes that fail Hourly Protection: refunded to the client with "
        "the fees on them reversed. At least the disputed manual minutes.")


class PayBonusIn(CommandIn):
    amount: MoneyIn
    payment_method: PaymentMethod = PaymentMethod.CARD


class RefundClientIn(CommandIn):
    amount: MoneyIn = Field(description="At most the net paid on the contract in the last "
                            "180 days, and the freelancer's available + pending.")
    refund_to: RefundTo = Field(
        default=RefundTo.PAYMENT_METHOD,
        description="`payment_method`: back where the client paid from; `client_credit`: "
        "kept on the platform as the client's credit, spendable on funding.")


# --- command answers -----------------------------------------------------------------


class TimeLoggedOut(ContractCommandOut):
    contract_id: str
    entry_id: str
    week_start: str = Field(description="The Monday of the billing week the entry counts in.")


class TimeEntryDeletedOut(ContractCommandOut):
    contract_id: str
    entry_id: str
    deleted: bool


class WeeklyLimitChangedOut(ContractCommandOut):
    contract_id: str
    weekly_limit_hours: int
    effective_from: DateTimeString


class RateChangedOut(ContractCommandOut):
    contract_id: str
    hourly_rate: MoneyOut


class PauseStateOut(ContractCommandOut):
    contract_id: str
    paused: bool


class HourlyDisputeOpenedOut(ContractCommandOut):
    contract_id: str
    dispute_id: str
    amount: MoneyOut = Field(description="The disputed money, frozen out of review.")
    marketplace_fee: MoneyOut = Field(description="The client's fee on it, returned with a "
                                      "refund of it.")
    respond_by: DateTimeString = Field(description="The freelancer's silence until then "
                                       "accepts the dispute.")


class HourlyDisputeDeclinedOut(ContractCommandOut):
    contract_id: str
    dispute_id: str
    status: str


class HourlyDisputeSettledOut(ContractCommandOut):
    contract_id: str
    dispute_id: str
    outcome: str
    failed_minutes: int
    refunded: MoneyOut
    marketplace_fee_refunded: MoneyOut


class BonusPaidOut(ContractCommandOut):
    contract_id: str
    bonus_id: str
    payment_id: str = Field(description="The charge's id, as chargebacks name it.")
    gross: MoneyOut
    marketplace_fee: MoneyOut
    initiation_fee: MoneyOut = Field(description="Charged only with the contract's first "
                                     "payment; zero otherwise.")
    service_fee: MoneyOut
    net: MoneyOut
    available_at: DateTimeString
    charge: ChargeOut | None = Field(default=None, description="What the client was "
                                     "charged: the bonus plus its fees.")


class ClientRefundedOut(ContractCommandOut):
    contract_id: str
    refund_id: str
    refunded: MoneyOut
    from_available: MoneyOut
    from_pending: MoneyOut
    refund_to: RefundTo = RefundTo.PAYMENT_METHOD
    refunded_to: str | None = Field(default=None, description="The account it went to: "
                                    "`processor:clearing` or `client:<id>:credit`.")


# --- reads ---------------------------------------------------------------------------


class InvoiceView(BaseModel):
    week_start: str
    minutes_logged: int
    minutes_billed: int = Field(description="Logged minutes up to the week's limit.")
    minutes_disputed: int
    amount: MoneyOut = Field(description="rate x minutes billed / 60, rounded half-up.")
    marketplace_fee: MoneyOut
    service_fee: MoneyOut = Field(description="Zero until the review ends.")
    in_review: MoneyOut = Field(description="Still held for the week's review.")
    released: MoneyOut
    refunded: MoneyOut
    status: Literal["in_review", "disputed", "pending", "available", "refunded"]
    review_ends_at: DateTimeString
    available_at: DateTimeString | None
    charge: ChargeOut | None = Field(default=None, description="What the week's Monday "
                                     "charge took from the client: amount plus fees.")


class InvoicesPageOut(ReadOut):
    contract_id: str
    invoices: list[InvoiceView]
    next_cursor: str | None = Field(description="Pass as `after` for the next page.")
