"""Reading the lists the ``contracts`` projection keeps: contracts, milestones, payments.

Newest first by (time, id), so the order is total and stable, with an opaque
cursor (``projections.paging``); each page says the view's position it reflects.
The rows are written by ``projections.contracts``; this module only reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.contracts.milestone import MilestoneStatus
from domain.contracts.terms import ContractStatus
from domain.deadlines import from_epoch_us
from domain.errors import ContractNotFound
from projections.journal import minor_json
from projections.paging import after_key, check_state, newest_first, page_limit
from projections.store import View

CONTRACT_STATES = tuple(s.value for s in ContractStatus)
MILESTONE_STATES = tuple(s.value for s in MilestoneStatus)
PAYMENT_STATES = ("charged", "partially_refunded", "refunded", "charged_back")


@dataclass(frozen=True)
class ListPage:
    """One page of a list, newest first; ``next_cursor`` None on the last page."""

    items: list[dict[str, Any]]
    next_cursor: str | None
    position: int


def _at(us: int | None) -> str | None:
    return None if us is None else from_epoch_us(us).isoformat()


def _money(minor: int, currency: str) -> dict[str, str]:
    return minor_json(minor, currency)


def contract_item(r: dict[str, Any]) -> dict[str, Any]:
    return {**{k: r[k] for k in ("contract_id", "kind", "client_id", "freelancer_id", "job_id",
                                 "title", "currency", "state")},
            "opened_at": _at(r["opened_us"]), "updated_at": _at(r["updated_us"]),
            "ended_at": _at(r["ended_us"])}


def milestone_item(r: dict[str, Any]) -> dict[str, Any]:
    c = r["currency"]
    return {"milestone_id": r["milestone_id"], "contract_id": r["contract_id"],
            "title": r["title"], "amount": _money(r["amount_minor"], c),
            "escrow": _money(r["escrow_minor"], c), "state": r["state"],
            "added_at": _at(r["added_us"]), "updated_at": _at(r["updated_us"])}


def payment_item(r: dict[str, Any]) -> dict[str, Any]:
    c = r["currency"]
    total = int(r["amount_minor"]) + int(r["marketplace_fee_minor"]) \
        + int(r["initiation_fee_minor"])
    return {"payment_id": r["payment_id"], "contract_id": r["contract_id"], "kind": r["kind"],
            "subject": r["subject"], "amount": _money(r["amount_minor"], c),
            "marketplace_fee": _money(r["marketplace_fee_minor"], c),
            "initiation_fee": _money(r["initiation_fee_minor"], c),
            "total_charged": _money(total, c), "refunded": _money(r["refunded_minor"], c),
            "payment_method": r["payment_method"], "state": r["state"],
            "chargeback_id": r["chargeback_id"], "chargeback_status": r["chargeback_status"],
            "charged_at": _at(r["effective_us"]), "updated_at": _at(r["updated_us"])}


@dataclass(frozen=True)
class _List:
    table: str
    time: str
    key: str
    states: tuple[str, ...]
    what: str
    shape: Any


CONTRACTS = _List("contracts", "opened_us", "contract_id", CONTRACT_STATES, "contract",
                  contract_item)
MILESTONES = _List("milestones", "added_us", "milestone_id", MILESTONE_STATES, "milestone",
                   milestone_item)
PAYMENTS = _List("payments", "effective_us", "payment_id", PAYMENT_STATES, "payment",
                 payment_item)


class ContractListQueries:
    """Cursor-paginated lists, newest first by (time, id); each page says its position.

    ``limit`` is 1-200, ``state`` one of the list's states, ``cursor`` a
    ``next_cursor`` the same list returned (``InvalidInput``, ``InvalidCursor``
    otherwise); ``position`` is what the caller knows the view reflects (default
    the view's own, read before the rows).
    """

    def __init__(self, view: View, name: str) -> None:
        self.view = view
        self.name = name

    def position(self) -> int:
        return self.view.max_tracking_id(self.name) or 0

    def contracts_of_client(self, client_id: str, state: str | None = None, limit: int = 50,
                            cursor: str | None = None, position: int | None = None) -> ListPage:
        return self._page(CONTRACTS, "client_id", client_id, state, limit, cursor, position)

    def contracts_of_freelancer(self, freelancer_id: str, state: str | None = None,
                                limit: int = 50, cursor: str | None = None,
                                position: int | None = None) -> ListPage:
        return self._page(CONTRACTS, "freelancer_id", freelancer_id, state, limit, cursor,
                          position)

    def milestones_of(self, contract_id: str, state: str | None = None, limit: int = 50,
                      cursor: str | None = None, position: int | None = None) -> ListPage:
        """``ContractNotFound`` when the view holds no such contract (yet)."""
        return self._page(MILESTONES, "contract_id", contract_id, state, limit, cursor,
                          position, of_contract=True)

    def payments_of(self, contract_id: str, state: str | None = None, limit: int = 50,
                    cursor: str | None = None, position: int | None = None) -> ListPage:
        """``ContractNotFound`` when the view holds no such contract (yet)."""
        return self._page(PAYMENTS, "contract_id", contract_id, state, limit, cursor,
                          position, of_contract=True)

    def _page(self, spec: _List, owner_column: str, owner: str, state: str | None, limit: int,
              cursor: str | None, position: int | None, *, of_contract: bool = False,
              ) -> ListPage:
        page_limit(limit)
        check_state(state, spec.states, spec.what)
        after = after_key(cursor)
        if position is None:
            position = self.position()
        if of_contract and not self.view.fetch(
                "SELECT contract_id FROM {contracts} WHERE contract_id = %s", [owner]):
            raise ContractNotFound(f"contract {owner} not found")
        where, params = [f"{owner_column} = %s"], [owner]
        if state is not None:
            where.append("state = %s")
            params.append(state)
        page = newest_first(self.view, spec.table, time=spec.time, key=spec.key, where=where,
                            params=params, limit=limit, after=after)
        return ListPage([spec.shape(r) for r in page.rows], page.next_cursor, position)

    def rows(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of every table, in key order (for rebuild checks and audits)."""
        keys = {"contracts": "contract_id", "milestones": "milestone_id",
                "payments": "payment_id", "parcels": "pool, payment_id, rank",
                "lines": "dispute_id, line"}
        return {table: self.view.fetch(f"SELECT * FROM {{{table}}} ORDER BY {key}")  # noqa: S608
                for table, key in keys.items()}
