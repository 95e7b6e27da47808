"""Time-driven commands: finding what is due and firing it exactly once.

The security period is the first deadline the ledger keeps: released money
becomes available 5 days later. Due lots are found from the journal view
(freelancers with money pending) and the aggregates themselves (which lots are
due); each firing carries an idempotency key derived from the deadline, and the
maturity takes effect at the lot's due time, so firing twice, late, or after a
restart changes nothing twice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from ledger.application import CommandResult, EscrowLedger
from projections.journal import JournalQueries

log = logging.getLogger(__name__)


def freelancers_with_pending(queries: JournalQueries) -> list[str]:
    rows = queries.view.fetch(
        "SELECT account FROM {balances} WHERE account LIKE %s "
        "AND credits_minor > debits_minor ORDER BY account",
        ["freelancer:%:pending"],
    )
    return [r["account"].split(":")[1] for r in rows]


def fire_due_deadlines(
    app: EscrowLedger, queries: JournalQueries, now: datetime | None = None
) -> list[CommandResult]:
    """Fires every security period that has ended by ``now`` (default: the app's clock)."""
    now = now or app.clock.now()
    fired: list[CommandResult] = []
    for freelancer_id in freelancers_with_pending(queries):
        balance = app.find_freelancer_balance(freelancer_id)
        if balance is None:
            continue
        for due in sorted({lot.available_at for lot in balance.due_lots(now)}):
            key = f"deadline:security-period:{freelancer_id}:{due.isoformat()}"
            fired.append(
                app.release_matured_earnings(
                    freelancer_id=freelancer_id, due_by=due, actor="system:scheduler",
                    idempotency_key=key,
                )
            )
    return fired


def start_scheduler(app: EscrowLedger, queries: JournalQueries, interval_seconds: int = 30) -> Any:
    """An APScheduler job polling for due deadlines; one instance per job (no overlap)."""
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC")

    def tick() -> None:
        try:
            fired = fire_due_deadlines(app, queries)
            if fired:
                log.info("fired %d due deadline(s)", len(fired))
        except Exception:
            log.exception("deadline tick failed; it will run again")

    scheduler.add_job(tick, "interval", seconds=interval_seconds, max_instances=1,
                      coalesce=True, id="deadlines")
    scheduler.start()
    return scheduler
