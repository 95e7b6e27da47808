"""Time: the test clock (only with ``LEDGER_TEST_CLOCK=1``) and the deadlines it drives.

``/v1/test-clock`` routes exist only on a ledger started with a test clock:
elsewhere they are 404 and absent from OpenAPI. ``/v1/deadlines`` lists every
running clock (and any retired with its refusal), in firing order.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from api.deps import AuditCaller, CommandDep, ReadCaller
from api.errors import ApiProblem
from api.models import RequestModel, Timestamp
from api.routes import COMMAND_PROBLEMS, problem_responses
from api.services import ServicesDep
from domain.deadlines import DeadlineKind, from_epoch_us
from domain.errors import InvalidInput
from projections.deadline_firing import advance_test_clock

MAX_TEST_CLOCK_JUMP = timedelta(days=3653)
"""Ten years a call. Every deadline on the way fires: a monthly one (a Connects plan's grant)
fires 120 times in ten years, but tens of thousands of times in a jump to the year 8999,
which held the request (and the store's write lock) for minutes."""

clock_router = APIRouter(prefix="/v1/test-clock", tags=["test clock"])
deadlines_router = APIRouter(prefix="/v1/deadlines", tags=["deadlines"])


class TestClockOut(BaseModel):
    __test__ = False
    now: str = Field(description="The time every command on this store takes, ISO 8601 UTC.")


class AdvanceClockIn(RequestModel):
    to: Timestamp = Field(
        description="Where the clock moves: later than it shows now, at most ten years "
        "later, and before 9000-01-01 UTC.",
        examples=["2026-03-16T09:01:00Z"])


class FiredOut(BaseModel):
    deadline_id: str
    kind: str
    subject: str
    ref: str
    due: str = Field(description="When it took effect: its own due time, not the jump's.")
    retired: bool = Field(description="Its command was refused for good; see `outcome`.")
    outcome: dict[str, Any]


class AdvanceClockOut(BaseModel):
    previous: str
    now: str
    fired: list[FiredOut] = Field(description="Every deadline that fell due, in due order.")
    position: int


class DeadlineOut(BaseModel):
    deadline_id: str
    kind: str
    subject: str = Field(description="The contract (or freelancer balance) the clock runs on.")
    ref: str = Field(description="The milestone, refund request or pending lot.")
    due: str
    status: Literal["pending", "retired"]
    refusal: str | None = Field(description="Why a retired deadline's command was refused.")


class DeadlinesPageOut(BaseModel):
    deadlines: list[DeadlineOut]
    next_cursor: str | None = Field(description="Pass as `after` for the next page.")
    position: int


@clock_router.get("", response_model=TestClockOut, responses=problem_responses(401, 403, 503))
def get_test_clock(services: ServicesDep, caller: ReadCaller) -> dict[str, Any]:
    """The test clock's time (recorded in the store, so every process reads the same)."""
    return {"now": services.ledger.clock.now().isoformat()}


@clock_router.post("/advance", response_model=AdvanceClockOut, responses=COMMAND_PROBLEMS)
def advance(body: AdvanceClockIn, command: CommandDep, response: Response) -> dict[str, Any]:
    """Moves the clock forward, firing every deadline that falls due on the way first.

    Each fires in due-time order at its own due time (a release due on day 14
    takes effect then, even when the clock jumps to day 20). Backwards or to the
    same time is 409 `clock-not-forward`, with nothing written. At most ten years a
    call (422 `invalid-input` beyond): advance in steps.
    """
    services = command.services
    now = services.ledger.clock.now()
    if body.to - now > MAX_TEST_CLOCK_JUMP:
        raise InvalidInput(f"the test clock moves at most {MAX_TEST_CLOCK_JUMP.days} days a call "
                           f"(it shows {now.isoformat()}); advance in steps")
    answer = advance_test_clock(services.ledger, services.projector, body.to,
                                actor=command.actor(None),
                                idempotency_key=command.idempotency_key)
    if answer.pop("replayed"):
        response.headers["Idempotent-Replayed"] = "true"
    return answer


_DEADLINE_ID = re.compile(r"[\x21-\x7e]{1,400}")
"""Deadline ids are printable ASCII (kinds, UUIDs, positions, separators)."""


def _cursor(after: str | None) -> tuple[int, str] | None:
    if after is None:
        return None
    try:
        due_us, _, deadline_id = base64.urlsafe_b64decode(after.encode()).decode().partition(" ")
        if not _DEADLINE_ID.fullmatch(deadline_id):  # PostgreSQL cannot even compare a NUL
            raise ValueError("not a deadline id")
        position = int(due_us)
        if not -(2**63) <= position < 2**63:
            raise ValueError("beyond any stored time")
        return position, deadline_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiProblem(422, "invalid-cursor",
                         "'after' must be a next_cursor this list returned") from None


@deadlines_router.get("", response_model=DeadlinesPageOut,
                      responses=problem_responses(401, 403, 422, 503))
def list_deadlines(
    services: ServicesDep, caller: AuditCaller,
    status: Annotated[Literal["pending", "retired"] | None,
                      Query(description="Only this status; default both.")] = None,
    after: Annotated[str | None, Query(description="A `next_cursor` from the page before.")]
    = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    kind: Annotated[DeadlineKind | None, Query(description="Only clocks of this kind.")]
    = None,
) -> dict[str, Any]:
    """Running clocks in firing order, with kind, subject and due time; cursor-paginated."""
    position = services.projection_position(None)
    rows = services.projector.deadlines.queries.page(
        status=status, after=_cursor(after), limit=limit + 1,
        kind=None if kind is None else kind.value)
    page, more = rows[:limit], len(rows) > limit
    last = page[-1] if page else None
    return {
        "deadlines": [
            {**{k: r[k] for k in ("deadline_id", "kind", "subject", "ref", "status",
                                  "refusal")},
             "due": from_epoch_us(r["due_us"]).isoformat()}
            for r in page
        ],
        "next_cursor": base64.urlsafe_b64encode(
            f"{last['due_us']} {last['deadline_id']}".encode()).decode()
        if more and last else None,
        "position": position,
    }
