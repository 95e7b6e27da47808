"""Dependencies as ``Annotated`` aliases, so routes declare what they need in one word."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Query

from api.auth import AUDIT, COMMANDS, FINANCE, READ, Caller, require_scope
from api.errors import ApiProblem
from api.services import Services, ServicesDep

MAX_IDEMPOTENCY_KEY_LENGTH = 200
_VERSION = re.compile(r"[0-9]{1,18}")
_KEY_TEXT = re.compile(r"[\x20-\x7e]+")

CommandCaller = Annotated[Caller, Depends(require_scope(COMMANDS))]
ReadCaller = Annotated[Caller, Depends(require_scope(READ))]
FinanceCaller = Annotated[Caller, Depends(require_scope(FINANCE))]
AuditCaller = Annotated[Caller, Depends(require_scope(AUDIT))]

MAX_POSITION = 2**63 - 1
"""The largest log position a store can hold (PostgreSQL's bigint): beyond is malformed."""

MinPosition = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_POSITION,
        description="Answer only once the read reflects at least this log position "
        "(the `position` a command returned). 503 `projection-behind` if it does not "
        "within a few seconds.",
    ),
]


def require_in_log(services: Services, min_position: int | None) -> None:
    """422 ``position-not-in-log`` for a ``min_position`` the log has not reached, on reads
    served from the log itself too (they need no wait, but the rule is one for every read)."""
    if min_position is not None and min_position > (head := services.ledger.position()):
        raise ApiProblem(422, "position-not-in-log",
                         f"min_position {min_position} is beyond the log's position {head}: "
                         "send a position a command returned")


@dataclass(frozen=True)
class Command:
    """What every command route needs: the ledger, the caller, and its idempotency key."""

    services: Services
    caller: Caller
    idempotency_key: str
    expected_version: int | None = None

    def actor(self, given: str | None) -> str:
        return self.caller.actor(given)


async def command_context(
    services: ServicesDep,
    caller: CommandCaller,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Required. At most 200 characters. Retrying with the same key and "
            "body answers the first response (with `Idempotent-Replayed: true`) and writes "
            "nothing; the same key with another body is 409 `idempotency-key-reused`.",
        ),
    ] = None,
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description="Optional. The contract version (`contract_version` of a command, or "
            "the `ETag` of GET /v1/contracts/{id}) the caller decided on; a contract that has "
            "moved on is 409 `version-mismatch` and nothing is written.",
        ),
    ] = None,
) -> Command:
    """Checks the headers every command carries. ``async`` because it never blocks (string
    checks only): FastAPI then runs it on the event loop instead of a thread-pool hop."""
    if idempotency_key is None or not idempotency_key.strip():
        raise ApiProblem(400, "idempotency-key-missing",
                         "every command needs an 'Idempotency-Key' header")
    if len(idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ApiProblem(
            400, "idempotency-key-invalid",
            f"'Idempotency-Key' must be at most {MAX_IDEMPOTENCY_KEY_LENGTH} characters",
        )
    if not _KEY_TEXT.fullmatch(idempotency_key):
        # the key is stored and shown back: printable ASCII only, never a control character
        raise ApiProblem(400, "idempotency-key-invalid",
                         "'Idempotency-Key' must be printable ASCII (control characters "
                         "are refused)")
    return Command(services, caller, caller.idempotency_key(idempotency_key),
                   parse_if_match(if_match))


def parse_if_match(value: str | None) -> int | None:
    """``5``, ``"5"`` or ``W/"5"`` -> 5; anything else is a 400, not silently ignored."""
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    # ASCII digits only, and few enough for a version: str.isdigit() accepts "²" and int()
    # refuses more than 4,300 digits; either used to escape as a 500
    if not _VERSION.fullmatch(text):
        raise ApiProblem(400, "if-match-invalid",
                         "'If-Match' must be a contract version such as \"5\"")
    return int(text)


CommandDep = Annotated[Command, Depends(command_context)]


async def finance_command_context(
    services: ServicesDep,
    caller: FinanceCaller,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", description="Required, as on every command."),
    ] = None,
) -> Command:
    """A command only finance may send (holds, flags): the ``finance`` scope, not
    ``commands``; idempotent like every other."""
    return await command_context(services, caller, idempotency_key, None)


FinanceCommandDep = Annotated[Command, Depends(finance_command_context)]
