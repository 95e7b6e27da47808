"""Bodies of the Job Success Score inputs read and of finance's client flags.

Times are ISO 8601 in UTC; money is ``{"amount": "500.00", "currency": "USD"}``;
weights are decimal strings (``"2.50"``). How each derived figure is counted is
``projections.jss_derived``'s docstring, repeated in the README.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.models import CommandIn, CommandOut, DateTimeString, MoneyOut, MultiLine, ReadOut


class ClientFlagIn(CommandIn):
    reason: MultiLine = Field(max_length=500, examples=["chargeback pattern"],
                        description="Why finance flags the client (not blank).")


class ClientUnflagIn(CommandIn):
    reason: MultiLine = Field(default="", max_length=500)


class ClientFlagOut(CommandOut):
    client_id: str
    flagged: bool
    reason: str | None = Field(description="The flag's reason while flagged.")


class JssFeedbackOut(BaseModel):
    by: str = Field(description="The party that ended the contract and gave it.")
    rating: int | None = Field(description="1-5 stars; null for a bare comment.")
    comment: str | None


class JssEarningOut(BaseModel):
    at: DateTimeString
    event_type: str = Field(examples=["FixedPriceContract.MilestoneReleased"])
    gross: MoneyOut = Field(description="What the client paid for the work (net + service fee).")
    net: MoneyOut = Field(description="What reached the freelancer's pending balance.")


class JssRefundOut(BaseModel):
    kind: str = Field(description="`escrow`, `dispute`, `hourly_dispute` (never reached the "
                      "freelancer), `by_freelancer` or `chargeback` (taken from earnings).")
    ref: str | None
    at: DateTimeString
    amount: MoneyOut
    reversed_at: DateTimeString | None = Field(description="A won chargeback's reversal.")


class JssDisputeOut(BaseModel):
    dispute_id: str
    kind: str = Field(description="`fixed_price` or `hourly`.")
    origin: str
    opened_at: DateTimeString
    amount: MoneyOut
    outcome: str | None = Field(description="Null while open at `as_of`.")
    resolved_at: DateTimeString | None
    released: MoneyOut | None
    refunded: MoneyOut | None


class JssWeightOut(BaseModel):
    band: str = Field(description="1, 1.25 or 1.5 by earnings; 0 without earnings.")
    three_month_steps: int = Field(description="Full 3-month periods between the first and "
                                   "last payment.")
    weight: str = Field(description="band + steps, at most 8.")


class JssContractOut(BaseModel):
    contract_id: str
    client_id: str
    kind: str
    job_id: str | None
    currency: str
    opened_at: DateTimeString
    ended_at: DateTimeString | None
    ended_by: str | None
    ended_with_work_paid: bool
    feedback: JssFeedbackOut | None
    client_flagged: bool
    client_flag_reason: str | None
    earnings: list[JssEarningOut]
    earnings_total: MoneyOut
    refunds: list[JssRefundOut]
    refunded_to_client: MoneyOut = Field(description="Every refund counted at `as_of`.")
    refunded_by_freelancer: MoneyOut
    net_earnings: MoneyOut = Field(description="earnings_total - refunded_by_freelancer.")
    disputes: list[JssDisputeOut]
    earnings_weight: JssWeightOut


class JssClientOut(BaseModel):
    client_id: str
    flagged: bool
    first_payment_at: DateTimeString
    last_payment_at: DateTimeString
    payment_span_days: int
    long_term: bool = Field(description="Payments span 90 days or more.")


class JssEligibilityOut(BaseModel):
    since: DateTimeString
    jobs: list[str] = Field(description="Contracts with a payment or an end since `since`.")
    clients: list[str]
    eligible: bool = Field(description="At least 2 jobs of at least 2 clients.")


class JssThresholdOut(BaseModel):
    threshold: MoneyOut
    met: bool


class JssTopRatedPlusOut(JssThresholdOut):
    large_contract_threshold: MoneyOut = Field(description="Assumed: $5,000.00 earned on one "
                                               "contract in the 12 months.")
    large_contracts: list[str]


class JssBadgesOut(BaseModel):
    since: DateTimeString
    earnings_12_months: MoneyOut = Field(description="Gross earnings since `since`, less "
                                         "refunds by the freelancer in them.")
    top_rated: JssThresholdOut
    top_rated_plus: JssTopRatedPlusOut


class JssInputsOut(ReadOut):
    freelancer_id: str
    as_of: DateTimeString
    contracts: list[JssContractOut]
    clients: list[JssClientOut]
    eligibility: JssEligibilityOut
    badges: JssBadgesOut
