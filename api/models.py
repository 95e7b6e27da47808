"""Request and response bodies.

Money is ``{"amount": "500.00", "currency": "USD"}`` with the amount a JSON
*string*: a JSON number is refused (422) because a binary float cannot hold
cents exactly. Request bodies refuse unknown fields. These models only check
shape; the ledger decides what is allowed (minimums, precision, currencies).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from moneyed import Money
from pydantic import BaseModel, ConfigDict, Field

from api.input_models import (
    LATEST_TIME,
    MULTI_LINE,
    SINGLE_LINE,
    MultiLine,
    Reference,
    ShortId,
    SingleLine,
    Timestamp,
)
from domain.bookkeeping.accounts import PARTY_ID
from domain.contracts.escrow import RefundTo
from domain.contracts.feedback import Feedback
from domain.contracts.terms import Party
from domain.fees.methods import PaymentMethod
from domain.money import money_as_written

__all__ = ["LATEST_TIME", "MULTI_LINE", "SINGLE_LINE", "MultiLine", "Reference", "ShortId",
           "SingleLine", "Timestamp"]  # with the models below: one place to import from

DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"

DecimalString = Annotated[
    str,
    Field(pattern=DECIMAL_PATTERN, max_length=40,
          description="A decimal number as a JSON string, never a JSON number."),
]
CurrencyCode = Annotated[
    str, Field(max_length=8, description="ISO 4217 code: three upper-case letters the "
               "ledger knows (422 `unknown-currency` otherwise).", examples=["USD"],
               # documented, not enforced here: the ledger refuses it with its own slug
               json_schema_extra={"pattern": "^[A-Z]{3}$"})
]
DateTimeString = Annotated[str, Field(json_schema_extra={"format": "date-time"})]

Actor = Annotated[
    ShortId | None,
    Field(description="Who acts, for the audit trail. Default `api-key:<key fingerprint>`."),
]


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MoneyIn(RequestModel):
    amount: DecimalString = Field(examples=["500.00"])
    currency: CurrencyCode

    def to_money(self) -> Money:
        return money_as_written(self.amount, self.currency)


class MoneyOut(BaseModel):
    amount: str = Field(examples=["500.00"])
    currency: str = Field(examples=["USD"])


class Problem(BaseModel):
    """An RFC 9457 problem; ``type`` is ``https://escrow-ledger.dev/problems/<slug>``."""

    type: str = Field(examples=["https://escrow-ledger.dev/problems/insufficient-escrow"])
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None


# --- commands ------------------------------------------------------------------------


class CommandIn(RequestModel):
    actor: Actor = None


class OpenContractIn(CommandIn):
    kind: Literal["fixed_price", "hourly"] = Field(
        description="`fixed_price` (milestones funded into escrow) or `hourly` (billed every "
        "Monday 12:00 UTC for the week before; needs `hourly_rate` and `weekly_limit_hours`)."
    )
    client_id: str = Field(max_length=128, examples=["client-acme"],
                           description=f"Matches `{PARTY_ID}`: it becomes part of account ids.",
                           json_schema_extra={"pattern": f"^{PARTY_ID}$"})
    freelancer_id: str = Field(max_length=128, examples=["freelancer-ada"],
                               description=f"Matches `{PARTY_ID}`.",
                               json_schema_extra={"pattern": f"^{PARTY_ID}$"})
    currency: CurrencyCode
    job_id: ShortId | None = None
    service_fee_rate: DecimalString | None = Field(
        default=None, examples=["0.12"],
        description="Per-contract service fee rate as a fraction; default per schedule.",
    )
    hourly_rate: MoneyIn | None = Field(
        default=None, description="Hourly only: at least $3/h, in the contract's currency.")
    weekly_limit_hours: int | None = Field(
        default=None, strict=True, ge=0, le=168,
        description="Hourly only: whole hours billed per week at most; 0 bills nothing.")
    manual_time_allowed: bool | None = Field(
        default=None, strict=True,
        description="Hourly only: whether manual time may be logged (default no).")
    payment_method: PaymentMethod = Field(
        default=PaymentMethod.CARD,
        description="Hourly only: how the client pays the weekly invoices.")

    def fee_rate(self) -> Decimal | None:
        return None if self.service_fee_rate is None else Decimal(self.service_fee_rate)


class AddMilestoneIn(CommandIn):
    title: SingleLine = Field(max_length=500)
    amount: MoneyIn


class FundMilestoneIn(CommandIn):
    payment_method: PaymentMethod = PaymentMethod.CARD


class SubmitWorkIn(CommandIn):
    pass


class RequestChangesIn(CommandIn):
    note: MultiLine = Field(default="", max_length=5000)


class ApproveMilestoneIn(CommandIn):
    amount: MoneyIn | None = Field(
        default=None, description="Default: all of the milestone's escrow; more is charged first."
    )
    payment_method: PaymentMethod = PaymentMethod.CARD


class FeedbackIn(RequestModel):
    rating: int = Field(strict=True, examples=[5], description="Stars, 1 to 5.")
    comment: MultiLine | None = Field(default=None, examples=["Clear, fast, careful work."])


class EndContractIn(CommandIn):
    by: Party
    refund_to: RefundTo = Field(
        default=RefundTo.PAYMENT_METHOD,
        description="Fixed-price: where escrow going back to the client goes, with the "
        "marketplace fee on it and a returned initiation fee: `payment_method` (the card or "
        "bank it paid from) or `client_credit` (kept on the platform, spendable with "
        "`payment_method: client_credit`).")
    pay: Literal["all", "none"] | MoneyIn | None = Field(
        default=None,
        description="What the client pays from escrow on ending: `all`, `none` or an amount. "
        "Default: `all` for the client; a freelancer pays nothing.",
    )
    feedback: FeedbackIn | Annotated[MultiLine, Field(max_length=5000)] | None = Field(
        default=None,
        description="The ending party's public feedback: `{\"rating\": 1-5, \"comment\": "
        "\"...\"}` (comment optional, at most 2,000 characters; else 422 "
        "`invalid-feedback`). A bare string, as before ratings, is a comment without rating.",
    )

    def payment(self) -> Literal["all", "none"] | Money | None:
        return self.pay.to_money() if isinstance(self.pay, MoneyIn) else self.pay

    def given_feedback(self) -> Feedback | None:
        if isinstance(self.feedback, FeedbackIn):
            return Feedback.given(self.feedback.rating, self.feedback.comment)
        return None if self.feedback is None else Feedback.comment_only(self.feedback)


class ApproveRefundRequestIn(CommandIn):
    pass


class CommandOut(BaseModel):
    position: int = Field(description="The log position of this command's writes.")


class ContractCommandOut(CommandOut):
    contract_version: int = Field(
        description="The contract's version after this command: send it as `If-Match` with "
        "the next command to refuse acting on a contract that changed meanwhile."
    )


class ContractOpenedOut(ContractCommandOut):
    contract_id: str
    kind: str
    service_fee_rate: str | None


class MilestoneAddedOut(ContractCommandOut):
    contract_id: str
    milestone_id: str


class ChargeOut(BaseModel):
    """What a command charged the client: the amount plus its fees is the total charged."""

    payment_id: str = Field(description="The charge's id, as processor reports and "
                            "chargebacks name it.")
    amount: MoneyOut = Field(description="What goes to escrow, hourly review or the freelancer.")
    marketplace_fee: MoneyOut
    initiation_fee: MoneyOut = Field(description="Only with the contract's first payment.")
    total: MoneyOut = Field(description="What the card, bank account or credit was charged.")
    payment_method: PaymentMethod


class MilestoneFundedOut(ContractCommandOut):
    contract_id: str
    milestone_id: str
    escrow_added: MoneyOut
    carried_in: MoneyOut
    charged: MoneyOut
    marketplace_fee: MoneyOut
    initiation_fee: MoneyOut
    total_charged: MoneyOut
    payment_method: PaymentMethod
    payment_id: str | None = Field(
        description="The charge's id (`pay_<contract>_<version>`), as the payment processor's "
        "reports and chargebacks name it; null when carried escrow covered it all.")
    charge: ChargeOut | None = Field(
        default=None, description="What was charged; null when carried escrow covered it all.")


class WorkSubmittedOut(ContractCommandOut):
    contract_id: str
    milestone_id: str
    status: str
    review_due_at: DateTimeString | None


class ChangesRequestedOut(ContractCommandOut):
    contract_id: str
    milestone_id: str
    status: str


class MilestoneApprovedOut(ContractCommandOut):
    contract_id: str
    milestone_id: str
    gross: MoneyOut
    service_fee: MoneyOut
    service_fee_schedule: str
    net: MoneyOut
    escrow_remaining: MoneyOut
    available_at: DateTimeString
    charge: ChargeOut | None = Field(
        default=None, description="An approval above the escrow charges the difference "
        "first; null when the escrow covered it.")


class ContractEndedOut(ContractCommandOut):
    contract_id: str
    status: str
    paid_to_freelancer: MoneyOut
    refund_request_id: str | None
    refund_requested: MoneyOut


class RefundRequestApprovedOut(ContractCommandOut):
    contract_id: str
    request_id: str
    status: str
    refunded: MoneyOut
    marketplace_fee_refunded: MoneyOut
    refund_to: RefundTo | None = Field(default=None, description="The client's choice when "
                                       "it ended the contract.")
    refunded_to: str | None = Field(default=None, description="The account the refund went "
                                    "to: `processor:clearing` or `client:<id>:credit`.")


# --- reads ---------------------------------------------------------------------------


class ReadOut(BaseModel):
    position: int = Field(description="The answer reflects at least this log position.")


class MilestoneView(BaseModel):
    milestone_id: str
    title: str
    amount: MoneyOut
    status: str
    escrow_balance: MoneyOut
    released: MoneyOut
    review_due_at: DateTimeString | None


class RefundRequestView(BaseModel):
    request_id: str
    total: MoneyOut
    respond_by: DateTimeString
    status: str
    refund_to: RefundTo = RefundTo.PAYMENT_METHOD


class TimeEntryView(BaseModel):
    entry_id: str
    week_start: str
    worked_on: str
    minutes: int
    manual: bool


class HourlyDisputeView(BaseModel):
    dispute_id: str
    week_start: str
    minutes: int
    amount: MoneyOut
    respond_by: DateTimeString
    status: str


class HourlyTermsView(BaseModel):
    hourly_rate: MoneyOut
    weekly_limit_hours: int = Field(description="The latest limit set (see its effective_from).")
    weekly_limit_effective_from: DateTimeString
    manual_time_allowed: bool
    paused: bool
    time_entries: list[TimeEntryView]
    disputes: list[HourlyDisputeView]


class DisputeSummaryView(BaseModel):
    dispute_id: str
    stage: str
    amount: MoneyOut
    outcome: str | None


class DormancyView(BaseModel):
    last_activity_at: DateTimeString = Field(description="The last milestone activity: the "
                                             "90 days of dormancy count from here.")
    notices: list[int] = Field(description="Days (76, 83) whose dormancy notice was recorded.")
    stage: str | None = Field(description="null, or client_to_act, freelancer_to_request, "
                              "client_to_answer.")
    due_at: DateTimeString | None = Field(description="When the current stage's time ends.")


class ContractView(ReadOut):
    contract_id: str
    kind: str
    client_id: str
    freelancer_id: str
    currency: str
    job_id: str | None
    status: str
    service_fee_rate: str | None
    opened_at: DateTimeString
    escrow_balance: MoneyOut
    total_released: MoneyOut
    milestones: list[MilestoneView]
    refund_requests: list[RefundRequestView]
    escrow_under_dispute: MoneyOut | None = Field(
        default=None, description="Escrow frozen by open disputes (fixed-price only).")
    dormancy: DormancyView | None = Field(default=None, description="Fixed-price only.")
    disputes: list[DisputeSummaryView] = Field(
        default_factory=list, description="Fixed-price disputes; see `GET /v1/disputes/{id}`.")
    hourly: HourlyTermsView | None = Field(
        default=None, description="An hourly contract's terms, time and disputes; null for "
        "fixed-price.")
    version: int


class AccountBalanceLine(BaseModel):
    amount: str = Field(description="The balance on the account's normal side.")
    currency: str
    debits: str
    credits: str


class AccountBalanceOut(ReadOut):
    account: str
    kind: str
    as_of: DateTimeString | None
    balances: list[AccountBalanceLine]


class FreelancerBalanceLine(BaseModel):
    currency: str
    pending: MoneyOut = Field(description="Released, in the 5-day security period.")
    available: MoneyOut = Field(description="Matured; negative only after a chargeback.")
    in_flight: MoneyOut = Field(description="Withdrawals requested and not yet settled, "
                                "failed or cancelled.")
    held: MoneyOut = Field(description="The part of available a hold keeps from withdrawals "
                           "(all of it while any hold is on).")
    withdrawable: MoneyOut = Field(description="Available minus held, before the method fee.")


class FreelancerBalancesOut(ReadOut):
    freelancer_id: str
    balances: list[FreelancerBalanceLine]
    holds: list[str] = Field(default_factory=list, description="What holds withdrawals: "
                             "chargebacks (open ones, and lost ones until no balance is "
                             "negative), then finance's holds (`hold_...`).")


class TrialBalanceLine(BaseModel):
    currency: str
    net: str = Field(description="Debits minus credits over every account: zero when balanced.")


class TrialBalanceOut(ReadOut):
    balanced: bool
    currencies: list[TrialBalanceLine]


class BreakOut(BaseModel):
    account: str
    currency: str
    replayed: str
    projected: str


class ReplayCheckOut(ReadOut):
    ok: bool = Field(description="No break and a zero trial balance.")
    accounts: int
    breaks: list[BreakOut]
    trial_balance: list[TrialBalanceLine]


class HealthOut(BaseModel):
    status: Literal["ok", "degraded", "store_down"]
    backend: str
    log_position: int | None
    projection_position: int | None
    projector_error: str | None
