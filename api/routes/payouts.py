"""Withdrawals and holds: money leaving the platform, and what stops it.

A withdrawal is requested by (or for) the freelancer, then the payout service
reports it `sent`, then `settled`, or `failed`; it may be cancelled before it
is sent. Those POSTs need the ``commands`` scope; holds need ``finance``. Every
POST needs an ``Idempotency-Key``. Wrong-state steps are 409
``withdrawal-state``; a withdrawal under a hold is 409 ``withdrawals-on-hold``;
amount + fee above available is 409 ``insufficient-funds``; below a method's
minimum is 422 ``below-withdrawal-minimum``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from api.deps import CommandDep, FinanceCommandDep, MinPosition, ReadCaller
from api.payout_models import (
    HoldIn,
    HoldOut,
    HoldReleaseIn,
    HoldView,
    WithdrawalIn,
    WithdrawalListOut,
    WithdrawalOut,
    WithdrawalReturnedIn,
    WithdrawalSentIn,
    WithdrawalView,
)
from api.routes import COMMAND_PROBLEMS, READ_PROBLEMS, located
from api.services import ServicesDep
from domain.money import money_as_written

router = APIRouter(tags=["payouts"])

WITHDRAWAL = "/v1/withdrawals/{withdrawal_id}"
HOLD = "/v1/holds/{hold_id}"


@router.post("/v1/freelancers/{freelancer_id}/withdrawals", status_code=201,
             response_model=WithdrawalOut, responses=COMMAND_PROBLEMS)
def request_withdrawal(freelancer_id: str, body: WithdrawalIn, command: CommandDep,
                       response: Response) -> dict[str, Any]:
    """Moves amount + fee out of available: the amount is in flight, the fee is revenue.

    Refused under any hold, below the method's minimum, or when amount + fee is
    more than is available (pending money cannot be withdrawn).
    """
    result = command.services.ledger.request_withdrawal(
        freelancer_id=freelancer_id, amount=money_as_written(body.amount, body.currency),
        method=body.method, actor=command.actor(body.actor),
        idempotency_key=command.idempotency_key)
    located(response, "withdrawals", result.response["withdrawal_id"])
    return command.services.answer(result, response)


@router.post(WITHDRAWAL + "/sent", response_model=WithdrawalOut, responses=COMMAND_PROBLEMS)
def withdrawal_sent(withdrawal_id: str, command: CommandDep, response: Response,
                    body: Annotated[WithdrawalSentIn | None, Body()] = None) -> dict[str, Any]:
    """The payout left for the processor (only from `requested`); no money moves."""
    result = command.services.ledger.mark_withdrawal_sent(
        withdrawal_id=withdrawal_id, processor_reference=body.processor_reference if body
        else None, actor=command.actor(body.actor if body else None),
        idempotency_key=command.idempotency_key)
    return command.services.answer(result, response)


@router.post(WITHDRAWAL + "/settled", response_model=WithdrawalOut,
             responses=COMMAND_PROBLEMS)
def withdrawal_settled(withdrawal_id: str, command: CommandDep, response: Response,
                       body: Annotated[WithdrawalSentIn | None, Body()] = None
                       ) -> dict[str, Any]:
    """The money reached the freelancer (only from `sent`): in flight -> payouts clearing."""
    result = command.services.ledger.settle_withdrawal(
        withdrawal_id=withdrawal_id, actor=command.actor(body.actor if body else None),
        idempotency_key=command.idempotency_key)
    return command.services.answer(result, response)


@router.post(WITHDRAWAL + "/failed", response_model=WithdrawalOut, responses=COMMAND_PROBLEMS)
def withdrawal_failed(withdrawal_id: str, command: CommandDep, response: Response,
                      body: Annotated[WithdrawalReturnedIn | None, Body()] = None
                      ) -> dict[str, Any]:
    """The payout failed (from `requested` or `sent`): the amount is available again;
    the fee is not returned."""
    result = command.services.ledger.return_withdrawal(
        withdrawal_id=withdrawal_id, failed=True, reason=body.reason if body else "",
        actor=command.actor(body.actor if body else None),
        idempotency_key=command.idempotency_key)
    return command.services.answer(result, response)


@router.post(WITHDRAWAL + "/cancel", response_model=WithdrawalOut, responses=COMMAND_PROBLEMS)
def cancel_withdrawal(withdrawal_id: str, command: CommandDep, response: Response,
                      body: Annotated[WithdrawalReturnedIn | None, Body()] = None
                      ) -> dict[str, Any]:
    """Cancelled before it was sent: the amount is available again; the fee is not
    returned."""
    result = command.services.ledger.return_withdrawal(
        withdrawal_id=withdrawal_id, failed=False, reason=body.reason if body else "",
        actor=command.actor(body.actor if body else None),
        idempotency_key=command.idempotency_key)
    return command.services.answer(result, response)


@router.get(WITHDRAWAL, response_model=WithdrawalView, responses=READ_PROBLEMS)
def get_withdrawal(withdrawal_id: str, services: ServicesDep,
                   caller: ReadCaller) -> dict[str, Any]:
    """One withdrawal as the log holds it (always current)."""
    return services.ledger.withdrawal_view(withdrawal_id)


@router.get("/v1/freelancers/{freelancer_id}/withdrawals", response_model=WithdrawalListOut,
            responses=READ_PROBLEMS)
def list_withdrawals(
    freelancer_id: str, services: ServicesDep, caller: ReadCaller,
    state: Annotated[str | None, Query(description="`requested`, `sent`, `settled`, "
                                       "`failed` or `cancelled`.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the page before.")]
    = None,
    min_position: MinPosition = None,
) -> dict[str, Any]:
    """A freelancer's withdrawals, newest first, from the payouts view; 404 if the
    freelancer never had money here."""
    position = services.projection_position(min_position)
    services.ledger.require_freelancer(freelancer_id)
    queries = services.projector.payouts.queries
    page = queries.withdrawals(freelancer_id, state=state, limit=limit, cursor=cursor)
    return {"freelancer_id": freelancer_id, "withdrawals": page.rows,
            "next_cursor": page.next_cursor, "totals": queries.totals(freelancer_id),
            "position": position}


@router.post("/v1/freelancers/{freelancer_id}/holds", status_code=201, response_model=HoldOut,
             responses=COMMAND_PROBLEMS)
def place_hold(freelancer_id: str, body: HoldIn, command: FinanceCommandDep,
               response: Response) -> dict[str, Any]:
    """Blocks every withdrawal of the freelancer until released (scope `finance`)."""
    result = command.services.ledger.place_hold(
        freelancer_id=freelancer_id, reason=body.reason, note=body.note,
        actor=command.actor(body.actor), idempotency_key=command.idempotency_key)
    located(response, "holds", result.response["hold_id"])
    return command.services.answer(result, response)


@router.post(HOLD + "/release", response_model=HoldOut, responses=COMMAND_PROBLEMS)
def release_hold(hold_id: str, command: FinanceCommandDep, response: Response,
                 body: Annotated[HoldReleaseIn | None, Body()] = None) -> dict[str, Any]:
    """Lifts a hold finance placed (scope `finance`); a chargeback's hold is lifted by
    deciding the chargeback (409 `hold-state`)."""
    result = command.services.ledger.release_hold(
        hold_id=hold_id, note=body.note if body else "",
        actor=command.actor(body.actor if body else None),
        idempotency_key=command.idempotency_key)
    return command.services.answer(result, response)


@router.get(HOLD, response_model=HoldView, responses=READ_PROBLEMS)
def get_hold(hold_id: str, services: ServicesDep, caller: ReadCaller) -> dict[str, Any]:
    return services.ledger.hold_view(hold_id)
