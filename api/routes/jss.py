"""Job Success Score inputs per freelancer, and finance's flags on clients.

The read needs the ``read`` scope and comes from the ``jss`` projection: it
reports the `position` it reflects and honours `min_position`. Flagging and
unflagging a client need the ``finance`` scope and an ``Idempotency-Key``;
flagging a flagged client is 409 ``client-already-flagged``, unflagging one
that is not 409 ``client-not-flagged``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from api.deps import FinanceCommandDep, MinPosition, ReadCaller
from api.input_models import Timestamp
from api.jss_models import ClientFlagIn, ClientFlagOut, ClientUnflagIn, JssInputsOut
from api.routes import COMMAND_PROBLEMS, PartyIdPath, problem_responses
from api.services import Services, ServicesDep
from projections.jss import JssProjection, JssQueries

router = APIRouter(tags=["jss"])


def jss_queries(services: Services) -> JssQueries:
    projection = services.projector.projections["jss"]
    assert isinstance(projection, JssProjection)
    return projection.queries


@router.get("/v1/freelancers/{freelancer_id}/jss-inputs", response_model=JssInputsOut,
            responses=problem_responses(401, 403, 422, 503))
def get_jss_inputs(
    freelancer_id: PartyIdPath,
    services: ServicesDep,
    caller: ReadCaller,
    as_of: Annotated[
        Timestamp | None,
        Query(description="ISO 8601 with a time zone: count only what was effective up to "
              "and including this moment. Default: now (the ledger's clock)."),
    ] = None,
    min_position: MinPosition = None,
) -> dict[str, Any]:
    """Each contract's client, earnings with dates, end, feedback, refunds, disputes and
    whether the client is flagged; each job's earnings weight, long-term clients,
    eligibility and the badges' money thresholds.

    A freelancer without contracts answers empty lists (not 404).
    """
    position = services.projection_position(min_position)
    when = as_of if as_of is not None else services.ledger.clock.now()
    return jss_queries(services).freelancer_inputs(freelancer_id, as_of=when, position=position)


@router.post("/v1/clients/{client_id}/flag", response_model=ClientFlagOut,
             responses=COMMAND_PROBLEMS)
def flag_client(client_id: str, body: ClientFlagIn, command: FinanceCommandDep,
                response: Response) -> dict[str, Any]:
    """Finance flags a client (the JSS inputs report it); moves no money, blocks nothing."""
    result = command.services.ledger.flag_client(
        client_id=client_id, reason=body.reason, actor=command.actor(body.actor),
        idempotency_key=command.idempotency_key)
    return command.services.answer(result, response)


@router.post("/v1/clients/{client_id}/unflag", response_model=ClientFlagOut,
             responses=COMMAND_PROBLEMS)
def unflag_client(client_id: str, command: FinanceCommandDep, response: Response,
                  body: Annotated[ClientUnflagIn | None, Body()] = None) -> dict[str, Any]:
    """Finance lifts its flag on a client."""
    result = command.services.ledger.unflag_client(
        client_id=client_id, reason=body.reason if body else "",
        actor=command.actor(body.actor if body else None),
        idempotency_key=command.idempotency_key)
    return command.services.answer(result, response)
