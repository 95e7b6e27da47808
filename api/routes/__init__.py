"""Routes, one module per resource; each only translates HTTP to the ledger and back."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Path, Response

from api.errors import PROBLEM_MEDIA_TYPE
from api.models import Problem
from domain.bookkeeping.accounts import PARTY_ID

_DESCRIPTIONS = {
    400: "The request could not be read: a body that is not UTF-8 JSON, or (commands) a "
    "missing or invalid `Idempotency-Key` or `If-Match` header.",
    401: "Missing or unknown API key.",
    403: "The API key lacks the scope this route needs.",
    404: "Unknown contract, milestone, refund request, freelancer or account.",
    409: "Not allowed in the current state, or idempotency key reused with another body.",
    422: "Malformed body or values the ledger refuses (money, currency, fee rate...).",
    413: "The JSON body is over 1 MiB (`payload-too-large`); nothing was written.",
    415: "A body in a media type the route does not read (`unsupported-media-type`): JSON "
    "routes read `application/json`, the reconciliation upload a form; nothing was written.",
    503: "The database is unavailable (`store-unavailable`), or a read's view has not reached "
    "`min_position` (`projection-behind`); nothing was written: retry after `Retry-After`.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problems a route may answer."""
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
        for status in statuses
    }


PartyIdPath = Annotated[str, Path(
    pattern=f"^{PARTY_ID}$",
    description=f"A client or freelancer id: `{PARTY_ID}` (anything else is 422: no such party "
    "can exist, and PostgreSQL cannot even look up a NUL).")]

COMMAND_PROBLEMS = problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 503)
READ_PROBLEMS = problem_responses(401, 403, 404, 422, 503)
QUERY_PROBLEMS = problem_responses(400, 401, 403, 404, 413, 415, 422, 503)
"""A POST that only reads (the audit chain's): a body to read, nothing to write."""


def located(response: Response, *segments: str) -> None:
    """Sets a 201's ``Location``: ``/v1/`` and the path segments, each percent-encoded.

    It names what was created, or where that has no read of its own, the
    nearest readable resource holding it (the contract, the Connects wallet).
    A replay answers the same response, so it carries the same ``Location``.
    """
    response.headers["Location"] = "/v1/" + "/".join(quote(s, safe="") for s in segments)
