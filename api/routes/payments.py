"""Money outside the usual flow, on a contract of either kind: bonuses and freelancer refunds.

Commands like every other: the ``commands`` scope, an ``Idempotency-Key``,
an optional ``If-Match`` contract version; each answers 201 with the id of the
payment it made.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from api.deps import CommandDep
from api.hourly_models import BonusPaidOut, ClientRefundedOut, PayBonusIn, RefundClientIn
from api.routes import COMMAND_PROBLEMS, located

router = APIRouter(prefix="/v1/contracts", tags=["payments"])


@router.post("/{contract_id}/bonuses", status_code=201, response_model=BonusPaidOut,
             responses=COMMAND_PROBLEMS)
def pay_bonus(
    contract_id: str, body: PayBonusIn, command: CommandDep, response: Response
) -> dict[str, Any]:
    """The client pays the freelancer a bonus, with the marketplace fee on top.

    Allowed while the contract is active or up to 365 days after it ended (409
    `window-closed` after). The initiation fee is charged too when it is the
    contract's first payment. The freelancer's net is pending 5 days.
    """
    result = command.services.ledger.pay_bonus(
        contract_id=contract_id,
        amount=body.amount.to_money(),
        payment_method=body.payment_method,
        actor=command.actor(body.actor),
        expected_version=command.expected_version,
        idempotency_key=command.idempotency_key,
    )
    located(response, "contracts", result.response.get("contract_id", contract_id))
    return command.services.answer(result, response)


@router.post("/{contract_id}/refunds", status_code=201, response_model=ClientRefundedOut,
             responses=COMMAND_PROBLEMS)
def refund_client(
    contract_id: str, body: RefundClientIn, command: CommandDep, response: Response
) -> dict[str, Any]:
    """The freelancer refunds the client, from available money first, then pending.

    At most the net paid on this contract in the last 180 days and the
    freelancer's available + pending (409 `insufficient-funds`); with nothing
    paid in the last 180 days it is 409 `window-closed`. Irreversible.
    """
    result = command.services.ledger.refund_client(
        contract_id=contract_id,
        amount=body.amount.to_money(),
        refund_to=body.refund_to,
        actor=command.actor(body.actor),
        expected_version=command.expected_version,
        idempotency_key=command.idempotency_key,
    )
    located(response, "contracts", result.response.get("contract_id", contract_id))
    return command.services.answer(result, response)
