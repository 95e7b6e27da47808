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
from domain.contracts import fixed_price_disputes
from domain.contracts.fixed_price import FixedPriceContract
from domain.contracts.hourly import HourlyContract
from domain.errors import (
    ContractNotFound,
    DisputeNotFound,
    FreelancerNotFound,
    WrongContractKind,
)
from domain.money import zero
from ledger import contract_views
from ledger.commands.contracts import contract_uuid
from ledger.commands.disputes import contract_of_dispute
from ledger.dispute_views import dispute_json
from ledger.engine import CommandEngine
from ledger.results import money_json


def balance_json(b: FreelancerBalance, code: str, *, on_hold: bool) -> dict[str, Any]:
    """``held`` is the part of available no withdrawal may take while a hold is on (holds
    are account-wide: all of it); ``withdrawable`` is the rest, before method fees."""
    available = b.available_in(code)
    held = max(available, zero(code)) if on_hold else zero(code)
    return {"currency": code, "pending": money_json(b.pending_in(code)),
            "available": money_json(available), "in_flight": money_json(b.in_flight_in(code)),
            "held": money_json(held),
            "withdrawable": money_json(max(available - held, zero(code)))}


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
        balance = self.find_freelancer_balance(c.freelancer_id)
        pending = {lot.lot_id for lot in balance.lots} if balance else set()
        return {
            "contract_id": str(c.id),
            "invoices": [contract_views.invoice_view(c.invoices[w], pending) for w in page],
            "next_cursor": page[-1].isoformat() if len(weeks) > limit else None,
            "position": position,
        }

    def require_freelancer(self, freelancer_id: str) -> None:
        """``FreelancerNotFound`` unless the freelancer ever had a balance here: one stored
        event read, not a replay of its history (a list's 404 needs no more)."""
        if not self.recorder.select_events(FreelancerBalance.id_for(freelancer_id), limit=1):
            raise FreelancerNotFound(f"freelancer {freelancer_id!r} has no balance here")

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
            return {**contract_views.hourly_view(found), "position": position}
        return {**contract_views.fixed_price_view(found), "position": position}

    def dispute_view(self, dispute_id: str) -> dict[str, Any]:
        """A fixed-price dispute as stored (its clocks fire through the scheduler)."""
        position = self.position()
        try:
            c = self.contract(contract_of_dispute(dispute_id))
        except ContractNotFound:
            raise DisputeNotFound(f"dispute {dispute_id} not found") from None
        return {**dispute_json(c, fixed_price_disputes.dispute_of(c, dispute_id)),
                "contract_version": c.version, "position": position}

    def freelancer_balances(self, freelancer_id: str) -> dict[str, Any]:
        """Pending, available, in flight and held money per currency, read from the log.

        Raises ``FreelancerNotFound`` when the freelancer has never had money here.
        """
        position = self.position()
        balance = self.find_freelancer_balance(freelancer_id)
        if balance is None:
            raise FreelancerNotFound(f"freelancer {freelancer_id!r} has no balance here")
        holds = balance.all_active_holds()
        return {
            "freelancer_id": freelancer_id,
            "balances": [balance_json(balance, code, on_hold=bool(holds))
                         for code in balance.currencies()],
            "holds": holds,
            "position": position,
        }

