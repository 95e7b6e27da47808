"""Time-driven commands: reading what is due and firing it exactly once.

The due-deadlines table (``projections/deadlines.py``) lists every running
clock: 14-day reviews, 7-day refund-request answers, 5-day security periods.
Each firing carries an idempotency key derived from the deadline and its due
time, and takes effect at the due time, so firing twice, late, or after a
restart changes nothing twice and does not shift balances as of a moment.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.freelancer_balance import FreelancerBalance
from ledger.application import CommandResult, EscrowLedger
from projections.deadlines import DeadlineKind
from projections.journal import from_epoch_us
from projections.runner import JournalProjector

log = logging.getLogger(__name__)


def fire_due_deadlines(
    app: EscrowLedger, projector: JournalProjector, now: datetime | None = None
) -> list[CommandResult]:
    """Fires every deadline due by ``now`` (default: the app's clock), earliest first."""
    now = now or app.clock.now()
    projector.catch_up()
    fired: list[CommandResult] = []
    for row in projector.queries.due_deadlines(now):
        fired.append(fire(app, row))
    if fired:
        projector.catch_up()
    return fired


def fire(app: EscrowLedger, row: dict[str, Any]) -> CommandResult:
    kind = DeadlineKind(row["kind"])
    due = from_epoch_us(row["due_us"])
    key = f"deadline:{row['deadline_id']}:{row['due_us']}"
    if kind is DeadlineKind.AUTO_RELEASE:
        return app.auto_release_milestone(
            contract_id=row["subject"], milestone_id=row["ref"], due=due, idempotency_key=key)
    if kind is DeadlineKind.REFUND_REQUEST_TIMEOUT:
        return app.lapse_refund_request(
            contract_id=row["subject"], request_id=row["ref"], due=due, idempotency_key=key)
    balance = app.find(FreelancerBalance, UUID(row["subject"]))
    assert balance is not None, row
    return app.release_matured_earnings(
        freelancer_id=balance.freelancer_id, due_by=due, actor="system:scheduler",
        idempotency_key=key)


def start_scheduler(
    app: EscrowLedger, projector: JournalProjector, interval_seconds: int = 30
) -> Any:
    """An APScheduler job polling for due deadlines; one instance at a time."""
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC")

    def tick() -> None:
        try:
            fired = fire_due_deadlines(app, projector)
            if fired:
                log.info("fired %d due deadline(s)", len(fired))
        except Exception:
            log.exception("deadline tick failed; it will run again")

    scheduler.add_job(tick, "interval", seconds=interval_seconds, max_instances=1,
                      coalesce=True, id="deadlines")
    scheduler.start()
    return scheduler
