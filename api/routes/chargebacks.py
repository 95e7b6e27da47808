"""Chargebacks on client payments: received (from the processor), then won or lost.

A payment id comes from the answer to the command that charged it
(`payment_id` on funding, bonuses and hourly invoices). POSTs need the
``commands`` scope and an ``Idempotency-Key``. Unknown payments are 404
``payment-not-found``; a payment charged back twice, or a chargeback decided
twice, is 409 ``chargeback-state``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel, Field

from api.deps import CommandDep, ReadCaller
from api.models import (
    CommandIn,
    ContractCommandOut,
    DateTimeString,
    MoneyOut,
    MultiLine,
    ReadOut,
)
from api.routes import COMMAND_PROBLEMS, READ_PROBLEMS, located
from api.services import ServicesDep

router = APIRouter(tags=["chargebacks"])


class ChargebackIn(CommandIn):
    reason: MultiLine = Field(default="", max_length=500,
                        description="The processor's reason code or note, kept on the event.")


class DecideChargebackIn(CommandIn):
    pass


class ChargebackFields(BaseModel):
    chargeback_id: str
    payment_id: str
    contract_id: str
    client_id: str
    freelancer_id: str
    status: str = Field(description="`open`, `won` or `lost`.")
    amount: MoneyOut = Field(description="All the client paid, fees included.")
    platform_loss: MoneyOut = Field(description="Borne by the platform (chargeback losses).")
    freelancer_debit: MoneyOut = Field(description="Debited from the freelancer's available "
                                       "balance (unprotected payments), which may go negative.")
    client_suspended: bool
    freelancer_holds: list[str] = Field(description="Chargebacks holding the freelancer's "
                                        "withdrawals.")
    received_at: DateTimeString
    decided_at: DateTimeString | None


class ChargebackOut(ChargebackFields, ContractCommandOut):
    pass


class ChargebackView(ChargebackFields, ReadOut):
    pass


@router.post("/v1/payments/{payment_id}/chargebacks", status_code=201,
             response_model=ChargebackOut, responses=COMMAND_PROBLEMS)
def receive_chargeback(payment_id: str, command: CommandDep, response: Response,
                       body: Annotated[ChargebackIn | None, Body()] = None) -> dict[str, Any]:
    """The processor charged a client payment back: the client is suspended.

    A protected payment (escrow funding, an hourly invoice) is the platform's
    loss; a bonus is debited from the freelancer's available balance with a
    hold until the balance is whole again.
    """
    result = command.services.ledger.receive_chargeback(
        payment_id=payment_id, reason=body.reason if body else "",
        actor=command.actor(body.actor if body else None),
        idempotency_key=command.idempotency_key)
    located(response, "chargebacks", result.response["chargeback_id"])
    return command.services.answer(result, response)


@router.post("/v1/chargebacks/{chargeback_id}/won", response_model=ChargebackOut,
             responses=COMMAND_PROBLEMS)
def chargeback_won(chargeback_id: str, command: CommandDep, response: Response,
                   body: Annotated[DecideChargebackIn | None, Body()] = None) -> dict[str, Any]:
    """We won: the processor returned the money; the loss, debit, hold and suspension reverse."""
    result = command.services.ledger.decide_chargeback(
        chargeback_id=chargeback_id, won=True,
        actor=command.actor(body.actor if body else None),
        idempotency_key=command.idempotency_key)
    return command.services.answer(result, response)


@router.post("/v1/chargebacks/{chargeback_id}/lost", response_model=ChargebackOut,
             responses=COMMAND_PROBLEMS)
def chargeback_lost(chargeback_id: str, command: CommandDep, response: Response,
                    body: Annotated[DecideChargebackIn | None, Body()] = None) -> dict[str, Any]:
    """We lost: the loss stands, the client stays suspended, the freelancer's hold stays
    until its available balance is whole again."""
    result = command.services.ledger.decide_chargeback(
        chargeback_id=chargeback_id, won=False,
        actor=command.actor(body.actor if body else None),
        idempotency_key=command.idempotency_key)
    return command.services.answer(result, response)


@router.get("/v1/chargebacks/{chargeback_id}", response_model=ChargebackView,
            responses=READ_PROBLEMS)
def get_chargeback(chargeback_id: str, services: ServicesDep,
                   caller: ReadCaller) -> dict[str, Any]:
    return services.ledger.chargeback_view(chargeback_id)
