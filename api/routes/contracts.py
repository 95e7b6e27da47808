"""Contracts, milestones and escrow: one command per route, plus the contract view.

Every POST needs the ``commands`` scope and an ``Idempotency-Key`` header, and
answers the ledger's response plus ``position``. Path ids that are not known
(or not even UUIDs) are 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from api.deps import CommandDep, MinPosition, ReadCaller, require_in_log
from api.models import (
    AddMilestoneIn,
    ApproveMilestoneIn,
    ApproveRefundRequestIn,
    ChangesRequestedOut,
    ContractEndedOut,
    ContractOpenedOut,
    ContractView,
    EndContractIn,
    FundMilestoneIn,
    MilestoneAddedOut,
    MilestoneApprovedOut,
    MilestoneFundedOut,
    OpenContractIn,
    RefundRequestApprovedOut,
    RequestChangesIn,
    SubmitWorkIn,
    WorkSubmittedOut,
)
from api.routes import COMMAND_PROBLEMS, READ_PROBLEMS, located
from api.services import ServicesDep

router = APIRouter(prefix="/v1/contracts", tags=["contracts"])

MILESTONE = "/{contract_id}/milestones/{milestone_id}"


@router.post("", status_code=201, response_model=ContractOpenedOut, responses=COMMAND_PROBLEMS)
def open_contract(body: OpenContractIn, command: CommandDep, response: Response) -> dict[str, Any]:
    """Opens a fixed-price or hourly contract between a client and a freelancer, in one currency."""
    result = command.services.ledger.open_contract(
        kind=body.kind,
        client_id=body.client_id,
        freelancer_id=body.freelancer_id,
        currency=body.currency,
        job_id=body.job_id,
        service_fee_rate=body.fee_rate(),
        hourly_rate=None if body.hourly_rate is None else body.hourly_rate.to_money(),
        weekly_limit_hours=body.weekly_limit_hours,
        manual_time_allowed=body.manual_time_allowed,
        payment_method=body.payment_method,
        actor=command.actor(body.actor),
        idempotency_key=command.idempotency_key,
    )
    located(response, "contracts", result.response["contract_id"])
    return command.services.answer(result, response)


@router.post("/{contract_id}/milestones", status_code=201, response_model=MilestoneAddedOut,
             responses=COMMAND_PROBLEMS)
def add_milestone(
    contract_id: str, body: AddMilestoneIn, command: CommandDep, response: Response
) -> dict[str, Any]:
    """Adds a milestone (at least $5) to an active contract; it is not funded yet."""
    result = command.services.ledger.add_milestone(
        contract_id=contract_id,
        title=body.title,
        amount=body.amount.to_money(),
        actor=command.actor(body.actor),
        expected_version=command.expected_version,
        idempotency_key=command.idempotency_key,
    )
    located(response, "contracts", result.response.get("contract_id", contract_id))
    return command.services.answer(result, response)


@router.post(MILESTONE + "/fund", response_model=MilestoneFundedOut, responses=COMMAND_PROBLEMS)
def fund_milestone(
    contract_id: str,
    milestone_id: str,
    command: CommandDep,
    response: Response,
    body: Annotated[FundMilestoneIn | None, Body()] = None,
) -> dict[str, Any]:
    """Charges the client the milestone's amount into escrow, with the client's fees on top."""
    body = body or FundMilestoneIn()
    result = command.services.ledger.fund_milestone(
        contract_id=contract_id,
        milestone_id=milestone_id,
        payment_method=body.payment_method,
        actor=command.actor(body.actor),
        expected_version=command.expected_version,
        idempotency_key=command.idempotency_key,
    )
    return command.services.answer(result, response)


@router.post(MILESTONE + "/submit", response_model=WorkSubmittedOut, responses=COMMAND_PROBLEMS)
def submit_work(
    contract_id: str,
    milestone_id: str,
    command: CommandDep,
    response: Response,
    body: Annotated[SubmitWorkIn | None, Body()] = None,
) -> dict[str, Any]:
    """The freelancer submits work on a funded milestone; the client's review period starts."""
    body = body or SubmitWorkIn()
    result = command.services.ledger.submit_work(
        contract_id=contract_id,
        milestone_id=milestone_id,
        actor=command.actor(body.actor),
        expected_version=command.expected_version,
        idempotency_key=command.idempotency_key,
    )
    return command.services.answer(result, response)


@router.post(MILESTONE + "/request-changes", response_model=ChangesRequestedOut,
             responses=COMMAND_PROBLEMS)
def request_changes(
    contract_id: str,
    milestone_id: str,
    command: CommandDep,
    response: Response,
    body: Annotated[RequestChangesIn | None, Body()] = None,
) -> dict[str, Any]:
    """The client asks for changes to submitted work."""
    body = body or RequestChangesIn()
    result = command.services.ledger.request_changes(
        contract_id=contract_id,
        milestone_id=milestone_id,
        note=body.note,
        actor=command.actor(body.actor),
        expected_version=command.expected_version,
        idempotency_key=command.idempotency_key,
    )
    return command.services.answer(result, response)


@router.post(MILESTONE + "/approve", response_model=MilestoneApprovedOut,
             responses=COMMAND_PROBLEMS)
def approve_milestone(
    contract_id: str,
    milestone_id: str,
    command: CommandDep,
    response: Response,
    body: Annotated[ApproveMilestoneIn | None, Body()] = None,
) -> dict[str, Any]:
    """The client releases escrow to the freelancer (all of it by default), net of service fee.

    An amount above the escrow is charged to the client first (`payment_method`).
    """
    body = body or ApproveMilestoneIn()
    result = command.services.ledger.approve_milestone(
        contract_id=contract_id,
        milestone_id=milestone_id,
        amount=None if body.amount is None else body.amount.to_money(),
        payment_method=body.payment_method,
        actor=command.actor(body.actor),
        expected_version=command.expected_version,
        idempotency_key=command.idempotency_key,
    )
    return command.services.answer(result, response)


@router.post("/{contract_id}/end", response_model=ContractEndedOut, responses=COMMAND_PROBLEMS)
def end_contract(
    contract_id: str, body: EndContractIn, command: CommandDep, response: Response
) -> dict[str, Any]:
    """Ends a contract.

    A client pays what it chooses from escrow (`all` by default); whatever is left
    becomes an escrow refund request for the freelancer to approve. A freelancer
    ending pays nothing: the escrow goes back to the client at once.
    """
    ledger = command.services.ledger
    result = ledger.end_contract(
        contract_id=contract_id,
        by=body.by,
        pay=body.payment(),
        feedback=body.given_feedback(),
        refund_to=body.refund_to,
        actor=command.actor(body.actor),
        expected_version=command.expected_version,
        idempotency_key=command.idempotency_key,
    )
    return command.services.answer(result, response)


@router.post("/{contract_id}/refund-requests/{request_id}/approve",
             response_model=RefundRequestApprovedOut, responses=COMMAND_PROBLEMS)
def approve_refund_request(
    contract_id: str,
    request_id: str,
    command: CommandDep,
    response: Response,
    body: Annotated[ApproveRefundRequestIn | None, Body()] = None,
) -> dict[str, Any]:
    """The freelancer approves the escrow refund request; the contract ends."""
    body = body or ApproveRefundRequestIn()
    result = command.services.ledger.approve_refund_request(
        contract_id=contract_id,
        request_id=request_id,
        actor=command.actor(body.actor),
        expected_version=command.expected_version,
        idempotency_key=command.idempotency_key,
    )
    return command.services.answer(result, response)


@router.get("/{contract_id}", response_model=ContractView, responses=READ_PROBLEMS)
def get_contract(
    contract_id: str, services: ServicesDep, caller: ReadCaller, response: Response,
    min_position: MinPosition = None,
) -> dict[str, Any]:
    """The contract with its escrow balance, overall and per milestone.

    Read from the log itself, so it is always current: any `min_position` a
    command returned is already satisfied. The `ETag` is the contract's version,
    to send back as `If-Match` with a command decided on this read.
    """
    require_in_log(services, min_position)
    view = services.ledger.contract_view(contract_id)
    response.headers["ETag"] = f'"{view["version"]}"'
    return view
