"""Finance's and auditors' checks of the ledger against itself."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import AuditCaller, FinanceCaller
from api.input_models import Timestamp
from api.models import DateTimeString, ReplayCheckOut, TrialBalanceOut
from api.routes import problem_responses
from api.services import ServicesDep
from domain.bookkeeping.postings import books_balance
from reconciliation.replay import compare_with_projection

router = APIRouter(prefix="/v1", tags=["reconciliation"])


class TrialBalanceTotals(BaseModel):
    currency: str
    debits: str = Field(description="Every debit posted in this currency, over every account.")
    credits: str = Field(description="Every credit posted in this currency.")


class TrialBalanceAsOfOut(TrialBalanceOut):
    as_of: DateTimeString | None = Field(
        description="The moment the figures are taken at; null: everything posted so far.")
    totals: list[TrialBalanceTotals]


@router.get("/finance/trial-balance", response_model=TrialBalanceAsOfOut,
            responses=problem_responses(401, 403, 422, 503))
def trial_balance(
    services: ServicesDep,
    caller: FinanceCaller,
    as_of: Annotated[
        Timestamp | None,
        Query(description="ISO 8601 with a time zone (a time without one is a 422): only "
              "postings effective up to and including this moment. Default: everything."),
    ] = None,
) -> dict[str, Any]:
    """Debits minus credits over every account, per currency, from the journal view.

    Zero in every currency when the books balance; anything else is a break to
    investigate, reported as found. `totals` are the debits and credits behind
    each `net`; a currency with nothing posted by `as_of` is not listed. Needs the
    `finance` scope.
    """
    position = services.projection_position(None)
    totals = services.projector.queries.totals(as_of)
    nets = {c: debits - credits for c, (debits, credits) in totals.items()}
    return {
        "position": position,
        "as_of": None if as_of is None else as_of.isoformat(),
        "balanced": books_balance(nets),
        "currencies": [{"currency": c, "net": str(v)} for c, v in nets.items()],
        "totals": [{"currency": c, "debits": str(d), "credits": str(cr)}
                   for c, (d, cr) in totals.items()],
    }


@router.get("/audit/replay-check", response_model=ReplayCheckOut,
            responses=problem_responses(401, 403, 503))
def replay_check(services: ServicesDep, caller: AuditCaller) -> dict[str, Any]:
    """Replays the whole log from position zero and compares every account with the view.

    Each difference is a break, listed with both figures. It reads every stored
    event, so it costs time in proportion to the log. Needs the `audit` scope.
    """
    services.projection_position(None)
    report = compare_with_projection(services.ledger, services.projector.queries)
    return {
        "position": report.position,
        "ok": report.ok,
        "accounts": report.accounts,
        "breaks": [
            {"account": b.account, "currency": b.currency, "replayed": str(b.replayed),
             "projected": str(b.projected)}
            for b in report.breaks
        ],
        "trial_balance": [{"currency": c, "net": str(v)}
                          for c, v in report.trial_balance.items()],
    }
