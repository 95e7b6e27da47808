"""Liveness and lag, without authentication."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.models import HealthOut
from api.services import ServicesDep
from ledger.stores import StoreUnreachable

router = APIRouter(prefix="/v1", tags=["health"])


@router.get("/health", response_model=HealthOut,
            responses={503: {"model": HealthOut, "description": "The store is unreachable"}})
def health(services: ServicesDep, request: Request) -> Any:
    """The store in use, the log's position and how far the journal view has caught up.

    `projector_error` names the projector's last failure, if any; the status is
    then `degraded`: commands are still taken, but balance reads may lag or fail.
    When the database cannot be reached the answer is 503 with status `store_down`
    (and `Retry-After`), at once rather than after a long wait.
    """
    error = services.projector_error()
    breaker = getattr(request.app.state, "store_breaker", None)
    try:
        if breaker is not None and breaker.recently_tripped():
            raise OperationalError("a command found the store unreachable moments ago")
        log_position = services.ledger.position()
    except (OperationalError, InterfaceError, StoreUnreachable) as e:
        return JSONResponse(status_code=503, headers={"Retry-After": "5"}, content={
            "status": "store_down", "backend": services.backend, "log_position": None,
            "projection_position": None,
            "projector_error": f"the store is unreachable ({type(e).__name__}: {e})"})
    return {
        "status": "ok" if error is None else "degraded",
        "backend": services.backend,
        "log_position": log_position,
        "projection_position": services.projector.position(),
        "projector_error": error,
    }
