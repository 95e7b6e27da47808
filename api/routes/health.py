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

    `projector_error` names the background projector's last failure, if any.
    """
    return {
        "status": "ok",
        "backend": services.backend,
        "log_position": services.ledger.position(),
        "projection_position": services.projector.position(),
        "projector_error": services.projector_error(),
    }
