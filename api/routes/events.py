"""The event feed for auditors and followers: the global log, a contract's, a freelancer's.

Every route needs the ``audit`` scope. Events are read straight from the log
and decoded (``ledger.event_feed``); nothing is replayed, so a page costs one
query. A follower keeps the last ``next_after`` it saw and asks again with
``wait=`` to hear of new events within about 50 ms without polling hard.

The global feed is ``async``: every store query runs in a worker thread (never
on the event loop), and between its looks at the log's head a waiting page
sleeps on the event loop, holding no thread. A plain ``def`` route would hold
one of the server's worker threads (40 by default, shared by every sync route
and dependency) for the whole wait: 40 followers waiting 30 s would stall the
whole API. The other two routes answer at once, so they are plain ``def``.
"""

from __future__ import annotations

import asyncio
from time import monotonic
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from api.deps import AuditCaller
from api.errors import ApiProblem
from api.event_models import ContractEventsOut, EventsPageOut, FreelancerEventsOut
from api.routes import problem_responses
from api.services import ServicesDep
from ledger import event_feed

router = APIRouter(prefix="/v1", tags=["events"])

MAX_LIMIT = 1000
MAX_WAIT_SECONDS = 30.0
POLL_SECONDS = 0.05
"""How often a waiting page looks at the log's head."""


@router.get("/events", response_model=EventsPageOut,
            responses=problem_responses(401, 403, 422, 503))
async def list_events(
    services: ServicesDep,
    caller: AuditCaller,
    after: Annotated[int, Query(ge=0, description="Events after this position (a "
                                "`next_after` from the page before); default 0: from the "
                                "start. Beyond the log's head is a 422.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS, description="When no event is "
                                 "after `after`, wait up to this many seconds for one "
                                 "(long poll); default 0: answer at once.")] = 0,
) -> dict[str, Any]:
    """The global log in order, each event decoded to JSON, cursor-paginated by position.

    `next_after` is the last position returned (or `after` when the page is
    empty); `position` is the log's head, so a caller is caught up when the two
    are equal. Positions strictly increase but may skip a number on PostgreSQL
    (a refused write consumes one): always continue from `next_after`. With
    `wait`, an empty page answers as soon as an event is written (within about
    50 ms) or empty once `wait` has passed.
    """
    app = services.ledger
    head = await run_in_threadpool(event_feed.head, app)
    if after > head:
        raise ApiProblem(422, "position-not-in-log",
                         f"after {after} is beyond the log's position {head}: "
                         "send 0 or a position this feed returned")
    events = await run_in_threadpool(event_feed.page, app, after=after, limit=limit)
    deadline = monotonic() + wait
    while not events and (left := deadline - monotonic()) > 0:
        # the wait holds no worker thread: only each short look at the head takes one
        await asyncio.sleep(min(POLL_SECONDS, left))
        if await run_in_threadpool(event_feed.head, app) > after:
            events = await run_in_threadpool(event_feed.page, app, after=after, limit=limit)
    return {
        "events": events,
        "next_after": events[-1]["position"] if events else after,
        "position": await run_in_threadpool(event_feed.head, app),
    }


@router.get("/contracts/{contract_id}/events", response_model=ContractEventsOut,
            responses=problem_responses(401, 403, 404, 503))
def contract_events(contract_id: str, services: ServicesDep,
                    caller: AuditCaller) -> dict[str, Any]:
    """Every event of one contract (either kind), in version order, each with its position.

    Only the contract's own events: the freelancer's balance, the relationship's
    billings and idempotency records live in other aggregates (see the global
    feed). 404 `contract-not-found` for an unknown id.
    """
    position = event_feed.head(services.ledger)
    events = event_feed.contract_events(services.ledger, contract_id)
    return {"contract_id": contract_id, "events": events, "position": position}


@router.get("/freelancers/{freelancer_id}/events", response_model=FreelancerEventsOut,
            responses=problem_responses(401, 403, 404, 503))
def freelancer_events(freelancer_id: str, services: ServicesDep,
                      caller: AuditCaller) -> dict[str, Any]:
    """A freelancer's balance and Connects wallet events, merged in log order.

    Earnings, maturity, withdrawals, holds, Connects lots and spends; 404
    `freelancer-not-found` when the freelancer has neither a balance nor a wallet.
    """
    position = event_feed.head(services.ledger)
    events = event_feed.freelancer_events(services.ledger, freelancer_id)
    return {"freelancer_id": freelancer_id, "events": events, "position": position}
