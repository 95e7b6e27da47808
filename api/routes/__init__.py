"""Routes, one module per resource; each only translates HTTP to the ledger and back."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Response

from api.errors import PROBLEM_MEDIA_TYPE
from api.models import Problem

_DESCRIPTIONS = {
    400: "Missing or invalid `Idempotency-Key` header.",
    401: "Missing or unknown API key.",
    403: "The API key lacks the scope this route needs.",
    404: "Unknown contract, milestone, refund request, freelancer or account.",
    409: "Not allowed in the current state, or idempotency key reused with another body.",
    422: "Malformed body or values the ledger refuses (money, currency, fee rate...).",
    503: "The journal view has not reached `min_position` yet.",
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


COMMAND_PROBLEMS = problem_responses(400, 401, 403, 404, 409, 422)
READ_PROBLEMS = problem_responses(401, 403, 404, 422)


def located(response: Response, *segments: str) -> None:
    """Sets a 201's ``Location``: ``/v1/`` and the path segments, each percent-encoded.

    It names what was created, or where that has no read of its own, the
    nearest readable resource holding it (the contract, the Connects wallet).
    A replay answers the same response, so it carries the same ``Location``.
    """
    response.headers["Location"] = "/v1/" + "/".join(quote(s, safe="") for s in segments)
