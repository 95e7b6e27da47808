"""Liveness and lag, without authentication."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.models import HealthOut
from api.services import ServicesDep

router = APIRouter(prefix="/v1", tags=["health"])


@router.get("/health", response_model=HealthOut)
def health(services: ServicesDep) -> dict[str, Any]:
    """The store in use, the log's position and how far the journal view has caught up.

    `projector_error` names the projector's last failure, if any; the status is
    then `degraded`: commands are still taken, but balance reads may lag or fail.
    """
    error = services.projector_error()
    return {
        "status": "ok" if error is None else "degraded",
        "backend": services.backend,
        "log_position": services.ledger.position(),
        "projection_position": services.projector.position(),
        "projector_error": error,
    }
