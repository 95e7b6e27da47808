"""A freelancer's money on the platform: pending (security period) and available."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import MinPosition, ReadCaller, require_in_log
from api.models import FreelancerBalancesOut
from api.routes import READ_PROBLEMS
from api.services import ServicesDep

router = APIRouter(prefix="/v1/freelancers", tags=["freelancers"])


@router.get("/{freelancer_id}/balances", response_model=FreelancerBalancesOut,
            responses=READ_PROBLEMS)
def get_freelancer_balances(
    freelancer_id: str, services: ServicesDep, caller: ReadCaller,
    min_position: MinPosition = None,
) -> dict[str, Any]:
    """Pending and available balances per currency; 404 if the freelancer never had money.

    Read from the log itself, so it is always current: any `min_position` a
    command returned is already satisfied; one beyond the log is 422.
    """
    require_in_log(services, min_position)
    return services.ledger.freelancer_balances(freelancer_id)
