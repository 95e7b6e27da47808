"""Fixed-price disputes: opening one on a refund request or a milestone, then each step.

Every POST needs the ``commands`` scope and an ``Idempotency-Key`` and answers
the dispute as ``GET /v1/disputes/{dispute_id}`` shows it, plus ``position``
and ``contract_version``. A step out of its stage is 409 ``dispute-state``,
by the wrong party 409 ``wrong-party``, after its window 409
``window-closed``; unknown disputes are 404 ``dispute-not-found``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from api.deps import CommandDep, ReadCaller
from api.dispute_models import DisputeOut, DisputeView, OpenDisputeIn, PartyStepIn, ReleaseIn
from api.models import ContractCommandOut, DateTimeString
from api.routes import COMMAND_PROBLEMS, READ_PROBLEMS, located
from api.services import ServicesDep

router = APIRouter(tags=["disputes"])

DISPUTE = "/v1/disputes/{dispute_id}"
OptionalBody = Annotated[OpenDisputeIn | None, Body()]


@router.post("/v1/contracts/{contract_id}/refund-requests/{request_id}/dispute",
             status_code=201, response_model=DisputeOut, responses=COMMAND_PROBLEMS)
def dispute_refund_request(contract_id: str, request_id: str, command: CommandDep,
                           response: Response, body: OptionalBody = None) -> dict[str, Any]:
    """The freelancer disputes an escrow refund request within its 7 days.

    All of the request's escrow moves to *escrow under dispute*; the client has
    5 days to respond, or the escrow is released to the freelancer.
    """
    result = command.services.ledger.dispute_refund_request(
        contract_id=contract_id, request_id=request_id,
        actor=command.actor(body.actor if body else None),
        expected_version=command.expected_version, idempotency_key=command.idempotency_key)
    located(response, "disputes", result.response["dispute_id"])
    return command.services.answer(result, response)


@router.post("/v1/contracts/{contract_id}/milestones/{milestone_id}/dispute",
             status_code=201, response_model=DisputeOut, responses=COMMAND_PROBLEMS)
def dispute_milestone(contract_id: str, milestone_id: str, command: CommandDep,
                      response: Response, body: OptionalBody = None) -> dict[str, Any]:
    """The freelancer disputes a milestone the client will not release.

    Allowed after the client requested changes, or while the client ends the
    contract without paying the milestone (only its escrow leaves the refund
    request). Its escrow is frozen until the dispute's outcome.
    """
    result = command.services.ledger.dispute_milestone(
        contract_id=contract_id, milestone_id=milestone_id,
        actor=command.actor(body.actor if body else None),
        expected_version=command.expected_version, idempotency_key=command.idempotency_key)
    located(response, "disputes", result.response["dispute_id"])
    return command.services.answer(result, response)


class DormancyOut(ContractCommandOut):
    contract_id: str
    last_activity_at: DateTimeString
    notices: list[int]
    stage: str | None
    due_at: DateTimeString | None


@router.post("/v1/contracts/{contract_id}/dormancy/release-request", response_model=DormancyOut,
             responses=COMMAND_PROBLEMS)
def request_dormant_release(contract_id: str, command: CommandDep, response: Response,
                            body: OptionalBody = None) -> dict[str, Any]:
    """The freelancer requests release of a dormant contract's escrow (client silent 7 days).

    The client then has 14 days to approve (any milestone approval) or dispute; silence
    releases the escrow. 409 `dormancy-state` when the contract is not at that stage.
    """
    result = command.services.ledger.request_dormant_release(
        contract_id=contract_id, actor=command.actor(body.actor if body else None),
        expected_version=command.expected_version, idempotency_key=command.idempotency_key)
    return command.services.answer(result, response)


@router.post("/v1/contracts/{contract_id}/dormancy/dispute", status_code=201,
             response_model=DisputeOut, responses=COMMAND_PROBLEMS)
def dispute_dormant_release(contract_id: str, command: CommandDep, response: Response,
                            body: OptionalBody = None) -> dict[str, Any]:
    """The client disputes the freelancer's release request: all escrow goes to mediation."""
    result = command.services.ledger.dispute_dormant_release(
        contract_id=contract_id, actor=command.actor(body.actor if body else None),
        expected_version=command.expected_version, idempotency_key=command.idempotency_key)
    located(response, "disputes", result.response["dispute_id"])
    return command.services.answer(result, response)


@router.post(DISPUTE + "/respond", response_model=DisputeOut, responses=COMMAND_PROBLEMS)
def respond(dispute_id: str, body: PartyStepIn, command: CommandDep,
            response: Response) -> dict[str, Any]:
    """The client responds within 5 days: mediation starts (a proposal due in 2 days)."""
    result = command.services.ledger.respond_to_dispute(
        dispute_id=dispute_id, by=body.by, actor=command.actor(body.actor),
        idempotency_key=command.idempotency_key)
    return command.services.answer(result, response)


@router.post(DISPUTE + "/propose", response_model=DisputeOut, responses=COMMAND_PROBLEMS)
def propose(dispute_id: str, body: ReleaseIn, command: CommandDep,
            response: Response) -> dict[str, Any]:
    """The mediator proposes a split; both parties have 2 days to accept it."""
    result = command.services.ledger.propose_dispute_settlement(
        dispute_id=dispute_id, release=body.release.to_money(),
        actor=command.actor(body.actor), idempotency_key=command.idempotency_key)
    return command.services.answer(result, response)


@router.post(DISPUTE + "/accept", response_model=DisputeOut, responses=COMMAND_PROBLEMS)
def accept(dispute_id: str, body: PartyStepIn, command: CommandDep,
           response: Response) -> dict[str, Any]:
    """One party accepts the proposal; the second acceptance settles the dispute as proposed."""
    result = command.services.ledger.accept_dispute_proposal(
        dispute_id=dispute_id, by=body.by, actor=command.actor(body.actor),
        idempotency_key=command.idempotency_key)
    return command.services.answer(result, response)


@router.post(DISPUTE + "/decline", response_model=DisputeOut, responses=COMMAND_PROBLEMS)
def decline(dispute_id: str, body: PartyStepIn, command: CommandDep,
            response: Response) -> dict[str, Any]:
    """Either party declines the proposal: arbitration, with 7 days to pay its fee."""
    result = command.services.ledger.decline_dispute_proposal(
        dispute_id=dispute_id, by=body.by, actor=command.actor(body.actor),
        idempotency_key=command.idempotency_key)
    return command.services.answer(result, response)


@router.post(DISPUTE + "/arbitration-fee", response_model=DisputeOut,
             responses=COMMAND_PROBLEMS)
def pay_arbitration_fee(dispute_id: str, body: PartyStepIn, command: CommandDep,
                        response: Response) -> dict[str, Any]:
    """A party agrees to arbitration and pays its fee ($291 assumed); it is never returned."""
    result = command.services.ledger.pay_arbitration_fee(
        dispute_id=dispute_id, by=body.by, actor=command.actor(body.actor),
        idempotency_key=command.idempotency_key)
    return command.services.answer(result, response)


@router.post(DISPUTE + "/rule", response_model=DisputeOut, responses=COMMAND_PROBLEMS)
def rule(dispute_id: str, body: ReleaseIn, command: CommandDep,
         response: Response) -> dict[str, Any]:
    """The arbitrator's ruling, binding once both parties paid the fee."""
    result = command.services.ledger.rule_on_dispute(
        dispute_id=dispute_id, release=body.release.to_money(),
        actor=command.actor(body.actor), idempotency_key=command.idempotency_key)
    return command.services.answer(result, response)


@router.get(DISPUTE, response_model=DisputeView, responses=READ_PROBLEMS)
def get_dispute(dispute_id: str, services: ServicesDep, caller: ReadCaller,
                response: Response) -> dict[str, Any]:
    """The dispute: stage, escrow frozen, every clock with its due time, outcome figures."""
    view = services.ledger.dispute_view(dispute_id)
    response.headers["ETag"] = f'"{view["contract_version"]}"'
    return view
