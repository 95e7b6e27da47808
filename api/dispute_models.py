"""Request and response bodies of fixed-price disputes.

Same rules as ``api.models``: unknown fields are refused, money is
``{"amount": "600.00", "currency": "USD"}`` with a string amount, and the
models check shape only; which party may take which step is the ledger's rule.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.models import CommandIn, ContractCommandOut, DateTimeString, MoneyIn, MoneyOut, ReadOut
from domain.contracts.terms import Party


class OpenDisputeIn(CommandIn):
    pass


class PartyStepIn(CommandIn):
    by: Party = Field(description="The party taking this step: `client` or `freelancer`.")


class ReleaseIn(CommandIn):
    release: MoneyIn = Field(description="Released to the freelancer (net of the service "
                             "fee); the rest of the disputed escrow is refunded to the client.")


class DisputeMilestoneView(BaseModel):
    milestone_id: str
    amount: MoneyOut


class DisputeClockView(BaseModel):
    kind: str = Field(examples=["dispute_response"])
    due_at: DateTimeString
    status: str = Field(description="`running` for the current stage's clock, else `stopped`.")


class ProposalView(BaseModel):
    release: MoneyOut
    refund: MoneyOut
    accepted_by: list[str]


class ArbitrationView(BaseModel):
    reason: str
    fees_paid_by: list[str]


class OutcomeView(BaseModel):
    kind: str = Field(examples=["mediation_accepted"])
    reason: str
    released: MoneyOut
    service_fee: MoneyOut
    net: MoneyOut = Field(description="Pending for 5 days, then available.")
    refunded: MoneyOut
    marketplace_fee_refunded: MoneyOut
    client_refund_total: MoneyOut
    initiation_fee_recognised: MoneyOut | None
    available_at: DateTimeString | None
    resolved_at: DateTimeString


class DisputeFields(BaseModel):
    dispute_id: str
    contract_id: str
    origin: str = Field(description="`refund_request` or `milestone`.")
    request_id: str | None
    stage: str = Field(description="awaiting_response, mediation, proposed, arbitration, "
                       "awaiting_ruling or resolved.")
    opened_at: DateTimeString
    opened_by: str
    amount: MoneyOut = Field(description="Escrow frozen under dispute.")
    marketplace_fee_held: MoneyOut
    milestones: list[DisputeMilestoneView]
    deadlines: list[DisputeClockView]
    proposal: ProposalView | None
    arbitration: ArbitrationView | None
    outcome: OutcomeView | None


class DisputeOut(DisputeFields, ContractCommandOut):
    pass


class DisputeView(DisputeFields, ReadOut):
    contract_version: int
