"""The ledger application: every capability's commands on one command engine.

Adding a capability is its module under ``ledger/commands`` plus one line in
each list below: its commands in the bases, its deadline handlers in
``DEADLINES``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.balances.relationship import Relationship
from domain.contracts.fixed_price import FixedPriceContract
from domain.contracts.hourly import HourlyContract
from domain.deadlines import DeadlineKind
from ledger.commands import connects, disputes, dormancy, fixed_price, hourly, maturity
from ledger.commands.chargebacks import ChargebackCommands
from ledger.commands.client_flags import ClientFlagCommands
from ledger.commands.connects import ConnectsCommands
from ledger.commands.disputes import DisputeCommands
from ledger.commands.dormancy import DormancyCommands
from ledger.commands.extras import ExtraPaymentCommands
from ledger.commands.hourly import HourlyCommands
from ledger.commands.lifecycle import LifecycleCommands
from ledger.commands.maturity import MaturityCommands
from ledger.commands.payouts import PayoutCommands
from ledger.commands.reconciliation_runs import ReconciliationRunCommands
from ledger.connects_reads import ConnectsReads
from ledger.engine import CommandResult, Decide, Decision
from ledger.observability import observed
from ledger.reads import LogReads
from ledger.test_clock import TestClockCommands
from ledger.unit_of_work import Handler

__all__ = ["CommandResult", "Decision", "EscrowLedger"]


class EscrowLedger(
    LifecycleCommands,  # opening and ending either kind, and the fixed-price commands
    HourlyCommands,
    DisputeCommands,
    ChargebackCommands,
    ClientFlagCommands,
    DormancyCommands,
    ConnectsCommands,
    ConnectsReads,
    PayoutCommands,
    ReconciliationRunCommands,
    ExtraPaymentCommands,
    MaturityCommands,
    TestClockCommands,
    LogReads,
):
    """The system of record for contracts, escrow and freelancer balances."""

    name = "EscrowLedger"

    def execute(self, command: str, idempotency_key: str | None, request: dict[str, Any],
                decide: Decide, *, at: datetime | None = None) -> CommandResult:
        """Every command, counted and timed by name and outcome (``ledger.observability``)."""
        with observed(command) as note:
            result = super().execute(command, idempotency_key, request, decide, at=at)
            note.outcome = "replayed" if result.replayed else "accepted"
            note.position = result.position
            return result

    def companions(self, aggregate: Any) -> list[tuple[type[Any], UUID]]:
        """A contract's relationship, and a relationship's contracts: their payments share
        lifetime billings, so their deadlines fire in one due order (the tiered fee)."""
        if isinstance(aggregate, FixedPriceContract | HourlyContract):
            return [(Relationship, Relationship.id_for(
                aggregate.client_id, aggregate.freelancer_id, aggregate.currency))]
        if isinstance(aggregate, Relationship):
            return [(Aggregate, UUID(cid)) for cid in aggregate.contract_ids]
        return []

    DEADLINES: ClassVar[Mapping[DeadlineKind, Handler]] = {
        **fixed_price.DEADLINES,
        **disputes.DEADLINES,
        **dormancy.DEADLINES,
        **connects.DEADLINES,
        **hourly.DEADLINES,
        **maturity.DEADLINES,
    }
