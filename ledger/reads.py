"""Answers read straight from the log: always current, and shaped for callers.

Entry points (the HTTP API, the CLI) use these instead of reaching into
aggregates, so they only translate and never decide. Reads never fire
deadlines: a balance read while the scheduler is late shows what the log
holds; balances as of a moment come from the journal view.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.balances.freelancer_balance import FreelancerBalance
from domain.contracts.fixed_price import FixedPriceContract
from domain.contracts.hourly import HourlyContract
from domain.contracts.milestone import Milestone
from domain.errors import ContractNotFound, FreelancerNotFound, WrongContractKind
from ledger import hourly_views
from ledger.commands.contracts import contract_uuid
from ledger.engine import CommandEngine
from ledger.results import money_json


class LogReads(CommandEngine):
    def contract(self, contract_id: UUID | str) -> FixedPriceContract:
        """The fixed-price contract as stored; ``ContractNotFound`` for unknown ids."""
        c = self.any_contract(contract_id)
        if not isinstance(c, FixedPriceContract):
            raise ContractNotFound(f"fixed-price contract {contract_id} not found")
        return c

    def any_contract(self, contract_id: UUID | str) -> FixedPriceContract | HourlyContract:
        """A contract of either kind as stored; ``ContractNotFound`` for unknown ids."""
        found = self.find(Aggregate, contract_uuid(contract_id))  # one load, either kind
        if isinstance(found, FixedPriceContract | HourlyContract):
            return found
        raise ContractNotFound(f"contract {contract_id} not found")

    def hourly_contract(self, contract_id: UUID | str) -> HourlyContract:
        c = self.any_contract(contract_id)
        if not isinstance(c, HourlyContract):
            raise WrongContractKind(f"contract {contract_id} is {c.KIND.value}, not hourly")
        return c

    def invoices(self, contract_id: str, *, after: date | None = None,
                 limit: int = 52) -> dict[str, Any]:
        """An hourly contract's weeks, oldest first, cursor-paginated by week."""
        position = self.position()
        c = self.hourly_contract(contract_id)
        weeks = sorted(w for w in c.invoices if after is None or w > after)
        page = weeks[:limit]
        return {
            "contract_id": str(c.id),
            "invoices": [hourly_views.invoice_view(c.invoices[w]) for w in page],
            "next_cursor": page[-1].isoformat() if len(weeks) > limit else None,
            "position": position,
        }

    def find_freelancer_balance(self, freelancer_id: str) -> FreelancerBalance | None:
        return self.find(FreelancerBalance, FreelancerBalance.id_for(freelancer_id))

    def contract_view(self, contract_id: str) -> dict[str, Any]:
        """The contract with its escrow, plus the log position it reflects at least.

        The position is read before the contract is loaded, so the view includes
        every event up to it.
        """
        position = self.position()
        found = self.any_contract(contract_id)
        if isinstance(found, HourlyContract):
            return {**hourly_views.contract_view(found), "position": position}
        c = found
        return {
            "contract_id": str(c.id),
            "kind": c.KIND.value,
            "client_id": c.client_id,
            "freelancer_id": c.freelancer_id,
            "currency": c.currency,
            "job_id": c.job_id,
            "status": c.status.value,
            "service_fee_rate": None if c.service_fee_rate is None else str(c.service_fee_rate),
            "opened_at": c.opened_at.isoformat(),
            "escrow_balance": money_json(c.escrow_balance()),
            "total_released": money_json(c.total_released),
            "milestones": [_milestone_view(m) for m in c.milestones.values()],
            "refund_requests": [
                {"request_id": r.request_id, "total": money_json(r.total),
                 "respond_by": r.respond_by.isoformat(), "status": r.status}
                for r in c.refund_requests.values()
            ],
            "version": c.version,
            "position": position,
        }

    def freelancer_balances(self, freelancer_id: str) -> dict[str, Any]:
        """Pending and available money per currency, read from the log.

        Raises ``FreelancerNotFound`` when the freelancer has never had money here.
        """
        position = self.position()
        balance = self.find_freelancer_balance(freelancer_id)
        if balance is None:
            raise FreelancerNotFound(f"freelancer {freelancer_id!r} has no balance here")
        return {
            "freelancer_id": freelancer_id,
            "balances": [
                {"currency": code, "pending": money_json(balance.pending_in(code)),
                 "available": money_json(balance.available_in(code))}
                for code in balance.currencies()
            ],
            "position": position,
        }


def _milestone_view(m: Milestone) -> dict[str, Any]:
    return {
        "milestone_id": m.milestone_id,
        "title": m.title,
        "amount": money_json(m.amount),
        "status": m.status.value,
        "escrow_balance": money_json(m.escrow),
        "released": money_json(m.released),
        "review_due_at": m.review_due_at.isoformat() if m.review_due_at else None,
    }
