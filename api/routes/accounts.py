"""Account balances from the journal view (the projection of every posting)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import MinPosition, ReadCaller
from api.input_models import Timestamp
from api.models import AccountBalanceOut
from api.routes import problem_responses
from api.services import ServicesDep
from domain.bookkeeping.accounts import kind_of

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


@router.get("/{account_id}/balance", response_model=AccountBalanceOut,
            responses=problem_responses(401, 403, 404, 422, 503))
def get_account_balance(
    account_id: str,
    services: ServicesDep,
    caller: ReadCaller,
    as_of: Annotated[
        Timestamp | None,
        Query(description="ISO 8601 with a time zone: the balance from postings effective "
              "up to and including this moment. Default: now."),
    ] = None,
    min_position: MinPosition = None,
) -> dict[str, Any]:
    """Debits, credits and the balance (on the account's normal side) per currency.

    Account ids follow the chart of accounts (`escrow:<contract>:<milestone>`,
    `freelancer:<id>:pending`, `revenue:service_fee`, `processor:clearing`...);
    an id outside it is 404. The journal view trails the log slightly: pass the
    `position` a command returned as `min_position` to read your own write.
    """
    kind_of(account_id)  # an id outside the chart is 404 before any wait
    position = services.projection_position(min_position)
    return services.projector.queries.account_view(account_id, as_of=as_of, position=position)
