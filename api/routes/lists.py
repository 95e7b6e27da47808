"""Lists for the people who look things up, and finance's revenue report.

Both are projections of the log (``projections.contracts``,
``projections.revenue``): they trail it slightly, report the `position` they
reflect, and take `min_position` to read a command's own write. Lists are
newest first, `limit` 1-200, paged with the opaque `next_cursor`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from api.deps import FinanceCaller, MinPosition, ReadCaller
from api.list_models import (
    ContractsPageOut,
    ContractState,
    MilestonesPageOut,
    MilestoneState,
    PaymentsPageOut,
    PaymentState,
    RevenueReportOut,
)
from api.routes import PartyIdPath, problem_responses
from api.services import Services, ServicesDep
from domain.errors import ContractNotFound
from projections.contract_lists import ContractListQueries, ListPage
from projections.contracts import ContractsProjection
from projections.revenue import RevenueProjection, check_period

router = APIRouter(prefix="/v1", tags=["lists"])

LIST_PROBLEMS = problem_responses(401, 403, 404, 422, 503)
Limit = Annotated[int, Query(ge=1, le=200, description="Rows per page, 1-200.")]
Cursor = Annotated[str | None, Query(description="The `next_cursor` of the page before.")]


def _lists(services: Services) -> ContractListQueries:
    projection = services.projector.projections["contracts"]
    assert isinstance(projection, ContractsProjection)
    return projection.queries


def _answer(name: str, page: ListPage) -> dict[str, Any]:
    return {name: page.items, "next_cursor": page.next_cursor, "position": page.position}


def _canonical(contract_id: str) -> str:
    """The id as the views key it; not a UUID at all is 404 at once, as on the log.

    Why: PostgreSQL refuses a NUL in a text parameter with an error (a 500), where
    every other odd id is only a miss.
    """
    try:
        return str(UUID(contract_id))
    except ValueError:
        raise ContractNotFound(f"contract {contract_id!r} not found") from None


def _of_contract(services: Services, contract_id: str, position: int,
                 read: Callable[[], ListPage]) -> ListPage:
    """A contract's list; 404 only when the log itself has no such contract.

    A contract the view has not reached yet (no `min_position` given) answers
    an empty page at the position the view reflects.
    """
    try:
        return read()
    except ContractNotFound:
        services.ledger.any_contract(contract_id)
        return ListPage([], None, position)


@router.get("/clients/{client_id}/contracts", response_model=ContractsPageOut,
            responses=LIST_PROBLEMS)
def contracts_of_client(
    client_id: PartyIdPath, services: ServicesDep, caller: ReadCaller,
    state: Annotated[ContractState | None, Query(description="Only this state.")] = None,
    limit: Limit = 50, cursor: Cursor = None, min_position: MinPosition = None,
) -> dict[str, Any]:
    """The client's contracts, newest first; a client with none answers an empty list."""
    position = services.projection_position(min_position)
    return _answer("contracts", _lists(services).contracts_of_client(
        client_id, state=state, limit=limit, cursor=cursor, position=position))


@router.get("/freelancers/{freelancer_id}/contracts", response_model=ContractsPageOut,
            responses=LIST_PROBLEMS)
def contracts_of_freelancer(
    freelancer_id: PartyIdPath, services: ServicesDep, caller: ReadCaller,
    state: Annotated[ContractState | None, Query(description="Only this state.")] = None,
    limit: Limit = 50, cursor: Cursor = None, min_position: MinPosition = None,
) -> dict[str, Any]:
    """The freelancer's contracts, newest first; one with none answers an empty list."""
    position = services.projection_position(min_position)
    return _answer("contracts", _lists(services).contracts_of_freelancer(
        freelancer_id, state=state, limit=limit, cursor=cursor, position=position))


@router.get("/contracts/{contract_id}/milestones", response_model=MilestonesPageOut,
            responses=LIST_PROBLEMS)
def milestones_of(
    contract_id: str, services: ServicesDep, caller: ReadCaller,
    state: Annotated[MilestoneState | None, Query(description="Only this state.")] = None,
    limit: Limit = 50, cursor: Cursor = None, min_position: MinPosition = None,
) -> dict[str, Any]:
    """A contract's milestones, newest first, with their escrow; 404 for an unknown contract."""
    contract_id = _canonical(contract_id)
    position = services.projection_position(min_position)
    return _answer("milestones", _of_contract(
        services, contract_id, position, lambda: _lists(services).milestones_of(
            contract_id, state=state, limit=limit, cursor=cursor, position=position)))


@router.get("/contracts/{contract_id}/payments", response_model=PaymentsPageOut,
            responses=LIST_PROBLEMS)
def payments_of(
    contract_id: str, services: ServicesDep, caller: ReadCaller,
    state: Annotated[PaymentState | None, Query(description="Only this state.")] = None,
    limit: Limit = 50, cursor: Cursor = None, min_position: MinPosition = None,
) -> dict[str, Any]:
    """Every charge to the client on the contract, newest first; 404 for an unknown contract.

    Each with its `payment_id` (what a chargeback names), amount and fees, and
    what of it went back to the client: `partially_refunded` and `refunded` as
    escrow or invoiced money is refunded; `charged_back` while a chargeback is
    open or once it is lost.
    """
    contract_id = _canonical(contract_id)
    position = services.projection_position(min_position)
    return _answer("payments", _of_contract(
        services, contract_id, position, lambda: _lists(services).payments_of(
            contract_id, state=state, limit=limit, cursor=cursor, position=position)))


@router.get("/revenue", response_model=RevenueReportOut,
            responses=problem_responses(401, 403, 422, 503))
def revenue_report(
    services: ServicesDep, caller: FinanceCaller,
    period_from: Annotated[date, Query(alias="from", description="First UTC day, included.")],
    period_to: Annotated[date, Query(alias="to", description="Last UTC day, included.")],
    min_position: MinPosition = None,
) -> dict[str, Any]:
    """Platform revenue per fee kind and per day over [from, to], and the deferred balances.

    From the postings the events recorded: credits to a revenue account are
    `gross`, debits `reversed`. Deferred balances (initiation fees until first
    release, Connects until spent or expired) at the start and end of the period.
    At most 366 days; `from` after `to` is 422 `invalid-period`. Needs `finance`.
    """
    check_period(period_from, period_to)
    position = services.projection_position(min_position)
    projection = services.projector.projections["revenue"]
    assert isinstance(projection, RevenueProjection)
    return projection.queries.report(period_from, period_to, position=position)
