"""Hourly contracts: time entries, weekly limit, rate, pause, hourly disputes, invoices.

One command per route, as for fixed-price contracts: each needs the
``commands`` scope and an ``Idempotency-Key`` header (DELETE too), takes an
optional ``If-Match`` contract version, and answers the ledger's response plus
``position``. A step of an hourly contract on a fixed-price one is 409
``wrong-contract-kind``; unknown contracts, time entries and disputes are 404.
The weekly invoice itself is no route: the ledger bills every Monday 12:00 UTC.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from api.deps import CommandDep, ReadCaller
from api.hourly_models import (
    AcceptHourlyDisputeIn,
    ChangeRateIn,
    ChangeWeeklyLimitIn,
    DeclineHourlyDisputeIn,
    DeleteTimeEntryIn,
    HourlyDisputeDeclinedOut,
    HourlyDisputeOpenedOut,
    HourlyDisputeSettledOut,
    InvoicesPageOut,
    LogTimeIn,
    OpenHourlyDisputeIn,
    PauseContractIn,
    PauseStateOut,
    RateChangedOut,
    ResolveHourlyDisputeIn,
    ResumeContractIn,
    TimeEntryDeletedOut,
    TimeLoggedOut,
    WeeklyLimitChangedOut,
)
from api.routes import COMMAND_PROBLEMS, located, problem_responses
from api.services import ServicesDep

router = APIRouter(prefix="/v1/contracts", tags=["hourly contracts"])

CONTRACT = "/{contract_id}"
DISPUTE = CONTRACT + "/hourly-disputes/{dispute_id}"


@router.post(CONTRACT + "/time-entries", status_code=201, response_model=TimeLoggedOut,
             responses=COMMAND_PROBLEMS)
def log_time(
    contract_id: str, body: LogTimeIn, command: CommandDep, response: Response
) -> dict[str, Any]:
    """The freelancer logs minutes worked on a day of a billing week still open.

    A week (Monday 00:00 to Sunday 23:59 UTC) takes time until Monday 11:59;
    after that it is 409 `week-closed`. Manual time on a contract that does not
    allow it is 409 `manual-time-not-allowed`; a paused or ended contract takes
    no time (409 `contract-not-active`); a day still to come is 422.
    """
    result = command.services.ledger.log_time(
        contract_id=contract_id,
        worked_on=body.worked_on,
        minutes=body.minutes,
        manual=body.manual,
        actor=command.actor(body.actor),
        expected_version=command.expected_version,
        idempotency_key=command.idempotency_key,
    )
    located(response, "contracts", result.response.get("contract_id", contract_id))
    return command.services.answer(result, response)


@router.delete(CONTRACT + "/time-entries/{entry_id}", response_model=TimeEntryDeletedOut,
               responses=COMMAND_PROBLEMS)
def delete_time_entry(
    contract_id: str,
    entry_id: str,
    command: CommandDep,
    response: Response,
    body: Annotated[DeleteTimeEntryIn | None, Body()] = None,
) -> dict[str, Any]:
    """Deletes a time entry of a week still open (until Monday 11:59 UTC after it)."""
    body = body or DeleteTimeEntryIn()
    result = command.services.ledger.delete_time_entry(
        contract_id=contract_id,
        entry_id=entry_id,
        actor=command.actor(body.actor),
        expected_version=command.expected_version,
        idempotency_key=command.idempotency_key,
    )
    return command.services.answer(result, response)


@router.post(CONTRACT + "/weekly-limit", response_model=WeeklyLimitChangedOut,
             responses=COMMAND_PROBLEMS)
def change_weekly_limit(
    contract_id: str, body: ChangeWeeklyLimitIn, command: CommandDep, response: Response
) -> dict[str, Any]:
    """Changes the weekly limit: an increase at once (hours already logged count), a
    decrease from the next Monday 00:00 UTC (`effective_from` says which)."""
    result = command.services.ledger.change_weekly_limit(
        contract_id=contract_id,
        hours=body.hours,
        actor=command.actor(body.actor),
        expected_version=command.expected_version,
        idempotency_key=command.idempotency_key,
    )
    return command.services.answer(result, response)


@router.post(CONTRACT + "/rate", response_model=RateChangedOut, responses=COMMAND_PROBLEMS)
def change_rate(
    contract_id: str, body: ChangeRateIn, command: CommandDep, response: Response
) -> dict[str, Any]:
    """Changes the hourly rate: only the client raises it, only the freelancer lowers it
    (409 `wrong-party` otherwise); below $3/h is 422 `rate-below-minimum`."""
    result = command.services.ledger.change_rate(
        contract_id=contract_id,
        hourly_rate=body.hourly_rate.to_money(),
        by=body.by,
        actor=command.actor(body.actor),
        expected_version=command.expected_version,
        idempotency_key=command.idempotency_key,
    )
    return command.services.answer(result, response)


@router.post(CONTRACT + "/pause", response_model=PauseStateOut, responses=COMMAND_PROBLEMS)
def pause_contract(
    contract_id: str,
    command: CommandDep,
    response: Response,
    body: Annotated[PauseContractIn | None, Body()] = None,
) -> dict[str, Any]:
    """Pauses an hourly contract: it takes no time until resumed."""
    body = body or PauseContractIn()
    result = command.services.ledger.pause_contract(
        contract_id=contract_id,
        actor=command.actor(body.actor),
        expected_version=command.expected_version,
        idempotency_key=command.idempotency_key,
    )
    return command.services.answer(result, response)


@router.post(CONTRACT + "/resume", response_model=PauseStateOut, responses=COMMAND_PROBLEMS)
def resume_contract(
    contract_id: str,
    command: CommandDep,
    response: Response,
    body: Annotated[ResumeContractIn | None, Body()] = None,
) -> dict[str, Any]:
    """Resumes a paused hourly contract; refused while an hourly dispute is undecided."""
    body = body or ResumeContractIn()
    result = command.services.ledger.resume_contract(
        contract_id=contract_id,
        actor=command.actor(body.actor),
        expected_version=command.expected_version,
        idempotency_key=command.idempotency_key,
    )
    return command.services.answer(result, response)


@router.post(CONTRACT + "/hourly-disputes", status_code=201,
             response_model=HourlyDisputeOpenedOut, responses=COMMAND_PROBLEMS)
def open_hourly_dispute(
    contract_id: str, body: OpenHourlyDisputeIn, command: CommandDep, response: Response
) -> dict[str, Any]:
    """The client disputes minutes of an invoiced week, before its review ends (Friday 23:59).

    The disputed money is frozen, the contract paused and its limit set to 0.
    The freelancer has 3 days to accept or decline; silence accepts. After the
    review window it is 409 `window-closed`.
    """
    result = command.services.ledger.open_hourly_dispute(
        contract_id=contract_id,
        week_start=body.week_start,
        minutes=body.minutes,
        actor=command.actor(body.actor),
        expected_version=command.expected_version,
        idempotency_key=command.idempotency_key,
    )
    located(response, "contracts", result.response.get("contract_id", contract_id))
    return command.services.answer(result, response)


@router.post(DISPUTE + "/accept", response_model=HourlyDisputeSettledOut,
             responses=COMMAND_PROBLEMS)
def accept_hourly_dispute(
    contract_id: str,
    dispute_id: str,
    command: CommandDep,
    response: Response,
    body: Annotated[AcceptHourlyDisputeIn | None, Body()] = None,
) -> dict[str, Any]:
    """The freelancer accepts: every disputed minute is refunded with its marketplace fee."""
    body = body or AcceptHourlyDisputeIn()
    result = command.services.ledger.settle_hourly_dispute(
        contract_id=contract_id,
        dispute_id=dispute_id,
        failed_minutes=None,
        actor=command.actor(body.actor),
        expected_version=command.expected_version,
        idempotency_key=command.idempotency_key,
    )
    return command.services.answer(result, response)


@router.post(DISPUTE + "/decline", response_model=HourlyDisputeDeclinedOut,
             responses=COMMAND_PROBLEMS)
def decline_hourly_dispute(
    contract_id: str,
    dispute_id: str,
    command: CommandDep,
    response: Response,
    body: Annotated[DeclineHourlyDisputeIn | None, Body()] = None,
) -> dict[str, Any]:
    """The freelancer declines: a review decides (`/resolve`); the money stays frozen."""
    body = body or DeclineHourlyDisputeIn()
    result = command.services.ledger.decline_hourly_dispute(
        contract_id=contract_id,
        dispute_id=dispute_id,
        actor=command.actor(body.actor),
        expected_version=command.expected_version,
        idempotency_key=command.idempotency_key,
    )
    return command.services.answer(result, response)


@router.post(DISPUTE + "/resolve", response_model=HourlyDisputeSettledOut,
             responses=COMMAND_PROBLEMS)
def resolve_hourly_dispute(
    contract_id: str,
    dispute_id: str,
    body: ResolveHourlyDisputeIn,
    command: CommandDep,
    response: Response,
) -> dict[str, Any]:
    """The review of a declined dispute: `failed_minutes` are refunded with their fees
    reversed (manual minutes always fail); the rest is paid on the normal schedule."""
    result = command.services.ledger.settle_hourly_dispute(
        contract_id=contract_id,
        dispute_id=dispute_id,
        failed_minutes=body.failed_minutes,
        actor=command.actor(body.actor),
        expected_version=command.expected_version,
        idempotency_key=command.idempotency_key,
    )
    return command.services.answer(result, response)


@router.get(CONTRACT + "/invoices", response_model=InvoicesPageOut,
            responses=problem_responses(401, 403, 404, 409, 422, 503))
def list_invoices(
    contract_id: str,
    services: ServicesDep,
    caller: ReadCaller,
    after: Annotated[date | None, Query(
        description="A `next_cursor` from the page before (a week's Monday).")] = None,
    limit: Annotated[int, Query(ge=1, le=520)] = 52,
) -> dict[str, Any]:
    """The weekly invoices of an hourly contract, oldest week first; cursor-paginated.

    A fixed-price contract has none: 409 `wrong-contract-kind`.

    Read from the log itself, so always current. Each week says what was logged,
    billed and disputed, where its money is (`in_review`, `disputed`, `pending`,
    `refunded`) and when its review ends and its money becomes available.
    """
    return services.ledger.invoices(contract_id, after=after, limit=limit)
