"""Connects: a freelancer's purchases, grants, plan, spends, boosts, returns, and reads.

POSTs need the ``commands`` scope and an ``Idempotency-Key``. A spend beyond the
unexpired balance is 409 ``insufficient-connects``; paying from an available
balance that is too small is 409 ``insufficient-funds``; a return for any other
reason than a job cancelled before a contract or removed is 422; returning a
spend twice, outbidding a closed auction or a hired job is 409 ``spend-state``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from api.connects_models import (
    BoostIn,
    GrantIn,
    LotOut,
    MembershipIn,
    MembershipOut,
    OutbidIn,
    PurchaseIn,
    ReturnIn,
    SpendIn,
    SpendOut,
    StatementOut,
    WalletView,
)
from api.deps import CommandDep, ReadCaller
from api.models import LATEST_TIME
from api.routes import COMMAND_PROBLEMS, READ_PROBLEMS, located
from api.services import ServicesDep
from domain.errors import InvalidInput

router = APIRouter(prefix="/v1/freelancers/{freelancer_id}/connects", tags=["connects"])


@router.post("/purchases", status_code=201, response_model=LotOut, responses=COMMAND_PROBLEMS)
def purchase(freelancer_id: str, body: PurchaseIn, command: CommandDep,
             response: Response) -> dict[str, Any]:
    """Buys Connects at $0.15 each: a lot that expires a year later; the money is deferred."""
    result = command.services.ledger.purchase_connects(
        freelancer_id=freelancer_id, connects=body.connects,
        payment_method=body.payment_method, actor=command.actor(body.actor),
        idempotency_key=command.idempotency_key)
    located(response, "freelancers", freelancer_id, "connects")
    return command.services.answer(result, response)


@router.post("/grants", status_code=201, response_model=LotOut, responses=COMMAND_PROBLEMS)
def grant(freelancer_id: str, body: GrantIn, command: CommandDep,
          response: Response) -> dict[str, Any]:
    """Free Connects (unit price zero), expiring a year later."""
    result = command.services.ledger.grant_connects(
        freelancer_id=freelancer_id, connects=body.connects, reason=body.reason,
        actor=command.actor(body.actor), idempotency_key=command.idempotency_key)
    located(response, "freelancers", freelancer_id, "connects")
    return command.services.answer(result, response)


@router.post("/memberships", status_code=201, response_model=MembershipOut,
             responses=COMMAND_PROBLEMS)
def membership(freelancer_id: str, body: MembershipIn, command: CommandDep,
               response: Response) -> dict[str, Any]:
    """Starts a plan's month now and every month after: the grant, and Plus's charge."""
    result = command.services.ledger.start_membership(
        freelancer_id=freelancer_id, plan=body.plan, actor=command.actor(body.actor),
        idempotency_key=command.idempotency_key)
    located(response, "freelancers", freelancer_id, "connects")
    return command.services.answer(result, response)


@router.post("/spends", status_code=201, response_model=SpendOut, responses=COMMAND_PROBLEMS)
def spend(freelancer_id: str, body: SpendIn, command: CommandDep,
          response: Response) -> dict[str, Any]:
    """Spends Connects, oldest unexpired lot first; the paid share becomes revenue."""
    result = command.services.ledger.spend_connects(
        freelancer_id=freelancer_id, connects=body.connects, reason=body.reason,
        job_id=body.job_id, actor=command.actor(body.actor),
        idempotency_key=command.idempotency_key)
    located(response, "freelancers", freelancer_id, "connects")
    return command.services.answer(result, response)


@router.post("/boosts", status_code=201, response_model=SpendOut, responses=COMMAND_PROBLEMS)
def boost(freelancer_id: str, body: BoostIn, command: CommandDep,
          response: Response) -> dict[str, Any]:
    """A bid for a top place on the job, charged now on top of the proposal."""
    result = command.services.ledger.boost_proposal(
        freelancer_id=freelancer_id, job_id=body.job_id, connects=body.connects,
        job_posted_at=body.job_posted_at, actor=command.actor(body.actor),
        idempotency_key=command.idempotency_key)
    located(response, "freelancers", freelancer_id, "connects")
    return command.services.answer(result, response)


@router.post("/boosts/{boost_id}/outbid", response_model=SpendOut,
             responses=COMMAND_PROBLEMS)
def outbid(freelancer_id: str, boost_id: str, command: CommandDep, response: Response,
           body: Annotated[OutbidIn | None, Body()] = None) -> dict[str, Any]:
    """The boost was outbid while its auction was open: it comes back into its lots."""
    result = command.services.ledger.outbid_boost(
        freelancer_id=freelancer_id, boost_id=boost_id,
        actor=command.actor(body.actor if body else None),
        idempotency_key=command.idempotency_key)
    return command.services.answer(result, response)


@router.post("/returns", response_model=SpendOut, responses=COMMAND_PROBLEMS)
def return_connects(freelancer_id: str, body: ReturnIn, command: CommandDep,
                    response: Response) -> dict[str, Any]:
    """Returns a spend into its original lots, with their original expiry."""
    result = command.services.ledger.return_connects(
        freelancer_id=freelancer_id, spend_id=body.spend_id, reason=body.reason,
        actor=command.actor(body.actor), idempotency_key=command.idempotency_key)
    return command.services.answer(result, response)


@router.get("", response_model=WalletView, responses=READ_PROBLEMS)
def wallet(freelancer_id: str, services: ServicesDep, caller: ReadCaller,
           after: Annotated[int | None, Query(
               ge=0, le=2**63 - 1,  # a version the store can hold; more was an overflow, a 500
               description="The last history version seen: the page starts after it.")] = None,
           limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """Balance, lots, and the history (cursor: the last version seen)."""
    return services.ledger.connects_view(freelancer_id, after=after, limit=limit)


@router.get("/statement", response_model=StatementOut, responses=READ_PROBLEMS)
def statement(freelancer_id: str, services: ServicesDep, caller: ReadCaller,
              month: Annotated[str, Query(pattern=r"^[0-9]{4}-[0-9]{2}$",
                                          examples=["2026-03"])]) -> dict[str, Any]:
    """One month: opening and closing balance, bought, granted, spent by reason, returned,
    expired, and Connects spent on jobs that led to a contract or did not."""
    if int(month[:4]) >= LATEST_TIME.year:  # its end, the next month's start, must exist
        raise InvalidInput(f"month must be before {LATEST_TIME.year}, got {month!r}")
    return services.ledger.connects_statement(freelancer_id, month)
