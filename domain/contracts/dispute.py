"""A fixed-price dispute, as plain values: its stage, what it froze, and its outcome.

A dispute freezes escrow in *escrow under dispute* and walks through stages,
each with one running clock: the client's response (5 days), a mediation
proposal (2 days), both parties' acceptance (2 days), the arbitration fees
(7 days), then an arbitrator's ruling. Only its outcome moves the money.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from moneyed import Money

from domain.contracts.milestone import EscrowMovement
from domain.deadlines import DeadlineKind


class DisputeStage(StrEnum):
    AWAITING_RESPONSE = "awaiting_response"
    MEDIATION = "mediation"
    PROPOSED = "proposed"
    ARBITRATION = "arbitration"
    AWAITING_RULING = "awaiting_ruling"
    RESOLVED = "resolved"


STAGE_CLOCK: dict[DisputeStage, DeadlineKind] = {
    DisputeStage.AWAITING_RESPONSE: DeadlineKind.DISPUTE_RESPONSE,
    DisputeStage.MEDIATION: DeadlineKind.MEDIATION_PROPOSAL,
    DisputeStage.PROPOSED: DeadlineKind.MEDIATION_ACCEPTANCE,
    DisputeStage.ARBITRATION: DeadlineKind.ARBITRATION_FEE,
}
"""The one clock each stage runs; awaiting a ruling and resolved run none."""

DISPUTE_CLOCKS = tuple(STAGE_CLOCK.values())


class DisputeOrigin(StrEnum):
    REFUND_REQUEST = "refund_request"
    MILESTONE = "milestone"
    DORMANCY = "dormancy"


class Outcome(StrEnum):
    """Which rule decided where the disputed escrow went."""

    CLIENT_SILENT = "client_silent"
    MEDIATION_ACCEPTED = "mediation_accepted"
    ARBITRATION_UNPAID = "arbitration_unpaid"
    ONLY_FREELANCER_PAID = "only_freelancer_paid"
    ONLY_CLIENT_PAID = "only_client_paid"
    ARBITRATION_RULING = "arbitration_ruling"


OUTCOME_REASONS: dict[Outcome, str] = {
    Outcome.CLIENT_SILENT: "the client did not respond within 5 days: escrow released",
    Outcome.MEDIATION_ACCEPTED: "both parties accepted the mediator's proposal",
    Outcome.ARBITRATION_UNPAID: "neither party paid the arbitration fee within 7 days: "
                                "escrow refunded to the client",
    Outcome.ONLY_FREELANCER_PAID: "only the freelancer paid the arbitration fee: escrow "
                                  "released to the freelancer",
    Outcome.ONLY_CLIENT_PAID: "only the client paid the arbitration fee: escrow refunded "
                              "to the client",
    Outcome.ARBITRATION_RULING: "the arbitrator's binding ruling",
}


@dataclass(frozen=True)
class Resolution:
    """The outcome's figures: released = service fee + net; released + refunded = frozen."""

    reason: str
    released: Money
    service_fee: Money
    net: Money
    refunded: Money
    marketplace_fee_refunded: Money
    initiation_fee_recognised: Money | None
    available_at: datetime | None
    resolved_at: datetime


@dataclass(frozen=True)
class FixedPriceDispute:
    dispute_id: str
    origin: DisputeOrigin
    request_id: str | None
    amounts: tuple[EscrowMovement, ...]
    """What was frozen, per milestone, with the marketplace fee paid on it."""
    total: Money
    fee_held: Money
    opened_at: datetime
    opened_by: str
    stage: DisputeStage
    due_at: datetime | None
    """When the stage's clock runs out (None awaiting a ruling, and once resolved)."""
    clocks: tuple[tuple[DeadlineKind, datetime], ...] = ()
    """Every stage clock this dispute started, in order, with its due time."""
    proposal: Money | None = None
    accepted_by: tuple[str, ...] = ()
    fees_paid: tuple[str, ...] = ()
    arbitration_reason: str | None = None
    outcome: Outcome | None = None
    resolution: Resolution | None = None


    @property
    def is_open(self) -> bool:
        return self.stage is not DisputeStage.RESOLVED

    @property
    def clock(self) -> DeadlineKind | None:
        return STAGE_CLOCK.get(self.stage)
