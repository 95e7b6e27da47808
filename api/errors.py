"""Every error leaves the API as ``application/problem+json`` (RFC 9457), mapped here only.

The body is ``{"type", "title", "status", "detail"}`` (plus ``errors`` for
request validation). ``type`` is always ``https://escrow-ledger.dev/problems/<slug>``
where ``<slug>`` is the ledger error's stable ``type`` attribute
(``insufficient-escrow``, ``milestone-not-funded``...) or one of the API's own
(``unauthorized``, ``insufficient-scope``, ``idempotency-key-missing``,
``idempotency-key-invalid``, ``invalid-input``, ``projection-behind``,
``not-found``, ``method-not-allowed``, ``store-unavailable``, ``internal-error``). Clients branch on
``type``; ``title`` is derived from the slug and equally stable; ``detail`` is
for humans and may change.

Domain errors map by family: ``InvalidInput`` 422, ``NotFound`` 404,
``StateConflict`` 409, anything else (``UnbalancedEntry``) 500 without its
detail, which is logged instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import InvalidInput, LedgerError, NotFound, StateConflict

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://escrow-ledger.dev/problems/"

_SLUG_BY_HTTP_STATUS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "payload-too-large",
    415: "unsupported-media-type",
}


API_PROBLEMS: dict[str, tuple[int, str]] = {
    "bad-request": (400, "The request could not be read at all."),
    "idempotency-key-missing": (400, "A command was sent without an `Idempotency-Key` header."),
    "idempotency-key-invalid": (400, "The `Idempotency-Key` header is longer than 200 "
                                "characters, or not printable ASCII."),
    "if-match-invalid": (400, "`If-Match` is not a contract version such as `\"5\"`."),
    "unauthorized": (401, "No API key was sent, or the key is not recognised."),
    "forbidden": (403, "The request is not allowed."),
    "insufficient-scope": (403, "The API key lacks the scope the route needs."),
    "not-found": (404, "No route at this path, or an unknown id."),
    "method-not-allowed": (405, "The path exists but not with this HTTP method."),
    "not-acceptable": (406, "No representation matches the `Accept` header."),
    "payload-too-large": (413, "The request body is too large."),
    "unsupported-media-type": (415, "The body is not in a media type the route reads."),
    "invalid-input": (422, "The request is malformed; `errors` lists each problem."),
    "invalid-cursor": (422, "A cursor that no list returned."),
    "invalid-json": (422, "A JSON body repeats a key in one object, or holds NaN or Infinity."),
    "position-not-in-log": (422, "`min_position` is beyond the log's position."),
    "internal-error": (500, "An unexpected error; nothing about it is disclosed."),
    "projection-behind": (503, "The read view has not reached `min_position` yet; retry."),
    "position-outside-digest": (422, "A proof's event is not within the digest it is for."),
    "projection-stalled": (503, "The read view cannot catch up with the log; see /v1/health."),
    "store-unavailable": (503, "The database is unavailable; nothing was written, retry."),
}
"""The problems the HTTP layer itself answers: slug -> (status, one-line description).

``GET /v1/problems`` lists these with every ledger error; a test checks that
every slug raised in ``api/`` is here.
"""


def problem_type(slug: str) -> str:
    """The stable ``type`` URI of a problem slug."""
    return PROBLEM_BASE + slug


def problem_title(slug: str) -> str:
    """``insufficient-escrow`` -> ``Insufficient escrow``."""
    return slug.replace("-", " ").capitalize()


class ApiProblem(Exception):
    """A refusal decided by the HTTP layer itself (auth, headers, read consistency)."""

    def __init__(
        self, status: int, slug: str, detail: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.headers = dict(headers or {})


def problem_response(
    status: int,
    slug: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": problem_title(slug),
        "status": status,
        "detail": detail,
        **(extra or {}),
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def status_for(error: LedgerError) -> int:
    return status_of(type(error))


def status_of(kind: type[LedgerError]) -> int:
    """The HTTP status of a ledger error class, by its family."""
    if issubclass(kind, InvalidInput):
        return 422
    if issubclass(kind, NotFound):
        return 404
    if issubclass(kind, StateConflict):
        return 409
    return 500


def ledger_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """The one mapping from the ledger's refusals to HTTP."""
    assert isinstance(exc, LedgerError)
    status = status_for(exc)
    if status == 500:
        log.error("ledger error on %s %s: %s", request.method, request.url.path, exc,
                  exc_info=exc)
        return problem_response(500, exc.type, "the ledger refused an internal inconsistency; "
                                "nothing was written")
    return problem_response(status, exc.type, str(exc))


def api_problem_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiProblem)
    return problem_response(exc.status, exc.slug, exc.detail, headers=exc.headers)


def _loc_part(part: Any) -> str | int:
    return part if isinstance(part, int) else str(part)


def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Malformed requests: 422 ``invalid-input`` listing each problem (never the input)."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [_loc_part(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    detail = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors
    ) or "the request is invalid"
    return problem_response(422, InvalidInput.type, detail, extra={"errors": errors})


def http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """Framework-level refusals (unknown route, wrong method...) as problems too."""
    assert isinstance(exc, StarletteHTTPException)
    slug = _SLUG_BY_HTTP_STATUS.get(exc.status_code, f"http-{exc.status_code}")
    return problem_response(exc.status_code, slug, str(exc.detail), headers=exc.headers)


def internal_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Anything unexpected: a 500 problem without internals (the server logs the traceback)."""
    return problem_response(500, "internal-error", "an unexpected error occurred")


def store_unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    """The database is down or out of connections: retryable, and nothing was written."""
    log.error("store unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem_response(503, "store-unavailable",
                            "the ledger's database is unavailable; nothing was written, retry",
                            headers={"Retry-After": "5"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Exception, internal_error_handler)
    app.add_exception_handler(OperationalError, store_unavailable_handler)
    app.add_exception_handler(InterfaceError, store_unavailable_handler)
    app.add_exception_handler(LedgerError, ledger_error_handler)
    app.add_exception_handler(ApiProblem, api_problem_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_exception_handler)
