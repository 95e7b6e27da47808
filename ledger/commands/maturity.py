"""The security period: released money becomes available five days later."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from domain.balances.freelancer_balance import FreelancerBalance
from domain.deadlines import Deadline, DeadlineKind
from domain.errors import FreelancerNotFound
from ledger.engine import CommandEngine, CommandResult, Decision
from ledger.results import money_json
from ledger.unit_of_work import Handler, UnitOfWork


def _matured(balance: FreelancerBalance) -> list[dict[str, str]]:
    """What this command (and any deadline fired on the way) made available."""
    return [money_json(e.amount) for e in balance.pending_events
            if isinstance(e, FreelancerBalance.EarningsMatured)]


def _security_period_ended(engine: CommandEngine, uow: UnitOfWork,
                           d: Deadline) -> dict[str, Any]:
    b = uow.get(FreelancerBalance, UUID(d.subject))
    if b is None:
        raise FreelancerNotFound(f"no freelancer balance {d.subject}")
    b.mature(d.due)
    return {"freelancer_id": b.freelancer_id, "matured": _matured(b)}


DEADLINES: dict[DeadlineKind, Handler] = {
    DeadlineKind.SECURITY_PERIOD: _security_period_ended,
}


class MaturityCommands(CommandEngine):
    def release_matured_earnings(
        self, *, freelancer_id: str, due_by: datetime | None = None, actor: str = "system",
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """Ends the security period of every lot due by ``due_by`` (default: now).

        Each maturity takes effect at its lots' due time, so balances as of a past
        moment are right even when this runs late.
        """
        request = {"freelancer_id": freelancer_id,
                   "due_by": None if due_by is None else due_by.isoformat()}

        def decide(uow: UnitOfWork) -> Decision:
            b = uow.get(FreelancerBalance, FreelancerBalance.id_for(freelancer_id))
            if b is None:
                return Decision({"freelancer_id": freelancer_id, "matured": []})
            b.mature(uow.at if due_by is None else min(due_by, uow.at))
            return Decision({"freelancer_id": freelancer_id, "matured": _matured(b)})

        return self.execute("release_matured_earnings", idempotency_key, request, decide)
