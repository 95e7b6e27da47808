"""Read-side helpers: answers shaped for callers, built from the log or the journal view.

Entry points (the HTTP API, the CLI) use these instead of reaching into
aggregates, so they only translate and never decide. Each answer that can lag
behind the log says which position it reflects; answers read from the log
itself (contracts, freelancer balances) are always current.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from domain.accounts import kind_of
from domain.errors import FreelancerNotFound
from ledger.application import EscrowLedger, money_json
from projections.journal import JournalQueries

__all__ = [
    "account_balances",
    "backend_of",
    "contract_at_position",
    "freelancer_balances",
]


def backend_of(ledger: EscrowLedger) -> str:
    """``"sqlite"`` or ``"postgres"``: which store the ledger's log lives in."""
    if isinstance(ledger.recorder, SQLiteApplicationRecorder):
        return "sqlite"
    if isinstance(ledger.recorder, PostgresApplicationRecorder):
        return "postgres"
    return type(ledger.recorder).__name__


def contract_at_position(ledger: EscrowLedger, contract_id: str) -> dict[str, Any]:
    """The contract view plus the log position it reflects at least.

    The position is read before the contract is loaded, so the view includes
    every event up to it. Raises ``ContractNotFound`` for unknown or malformed ids.
    """
    position = ledger.position()
    return {**ledger.contract_view(contract_id), "position": position}


def freelancer_balances(ledger: EscrowLedger, freelancer_id: str) -> dict[str, Any]:
    """Pending and available money per currency, read from the log.

    Raises ``FreelancerNotFound`` when the freelancer has never had money here.
    """
    position = ledger.position()
    balance = ledger.find_freelancer_balance(freelancer_id)
    if balance is None:
        raise FreelancerNotFound(f"freelancer {freelancer_id!r} has no balance here")
    return {
        "freelancer_id": freelancer_id,
        "balances": [
            {
                "currency": code,
                "pending": money_json(balance.pending_in(code)),
                "available": money_json(balance.available_in(code)),
            }
            for code in balance.currencies()
        ],
        "position": position,
    }


def account_balances(
    queries: JournalQueries, account: str, *, as_of: datetime | None, position: int
) -> dict[str, Any]:
    """An account's balance per currency from the journal view.

    ``position`` is what the caller knows the view reflects at least (from a
    catch-up or wait just before). Raises ``AccountNotFound`` for ids outside
    the chart of accounts.
    """
    kind = kind_of(account)
    return {
        "account": account,
        "kind": kind.value,
        "as_of": None if as_of is None else as_of.isoformat(),
        "balances": [
            {
                "amount": str(b.balance),
                "currency": b.currency,
                "debits": str(b.debits),
                "credits": str(b.credits),
            }
            for b in queries.balance(account, as_of)
        ],
        "position": position,
    }
