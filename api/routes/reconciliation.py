"""Finance's and auditors' checks of the ledger against itself."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import AuditCaller, FinanceCaller
from api.models import ReplayCheckOut, TrialBalanceOut
from api.routes import problem_responses
from api.services import ServicesDep
from domain.bookkeeping.postings import books_balance
from reconciliation.replay import compare_with_projection

router = APIRouter(prefix="/v1", tags=["reconciliation"])


@router.get("/finance/trial-balance", response_model=TrialBalanceOut,
            responses=problem_responses(401, 403, 503))
def trial_balance(services: ServicesDep, caller: FinanceCaller) -> dict[str, Any]:
    """Debits minus credits over every account, per currency, from the journal view.

    Zero in every currency when the books balance; anything else is a break to
    investigate, reported as found. Needs the `finance` scope.
    """
    position = services.projection_position(None)
    totals = services.projector.queries.trial_balance()
    return {
        "position": position,
        "balanced": books_balance(totals),
        "currencies": [{"currency": c, "net": str(v)} for c, v in totals.items()],
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
