"""The scheduler process: fire what fell due, on a poll interval, exactly once.

It runs inside ``ledger serve`` by default, or alone as ``ledger scheduler``.
A tick that fails is logged and the next tick tries again; a tick that finds
another scheduler working the same store does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ledger.application import EscrowLedger
from projections.deadline_firing import FIRING_BATCH, Fired, exclusive_tick, fire_due
from projections.runner import ProjectionRunner

log = logging.getLogger(__name__)


def tick(app: EscrowLedger, runner: ProjectionRunner, *, batch_size: int = 500,
         firing_batch: int = FIRING_BATCH) -> list[Fired]:
    """One poll: every deadline due by the ledger's clock, up to ``batch_size``, fired
    ``firing_batch`` to a transaction."""
    with exclusive_tick(runner) as ours:
        if not ours:
            log.info("another scheduler is working this store's deadlines; skipping this tick")
            return []
        return fire_due(app, runner, app.clock.now(), limit=batch_size, batch_size=firing_batch)


def drain(app: EscrowLedger, runner: ProjectionRunner, report: Callable[[list[Fired]], None],
          *, batch_size: int = 500, firing_batch: int = FIRING_BATCH,
          running: Callable[[], bool] = lambda: True) -> int:
    """Ticks again at once while a tick comes back full; how many fired in all.

    Why: one tick of ``batch_size`` (500) every poll interval (30 s) invoiced a Monday
    of 100,000 hourly contracts over 100 minutes, however fast each firing was. A
    tick still fires at most ``batch_size`` (each is reported as it ends, and a
    scheduler shutting down, ``running`` false, stops after the tick in hand); one
    that fires fewer found nothing more due, or another scheduler working the store.
    A full tick of replays only (each deadline's record says it fired already) ends it
    too: were the registry ever to keep listing fired deadlines, draining would spin
    on them; they wait for the next poll instead, as before.
    """
    total = 0
    while True:
        fired = tick(app, runner, batch_size=batch_size, firing_batch=firing_batch)
        report(fired)
        total += len(fired)
        if len(fired) < batch_size or not running() or all(f.replayed for f in fired):
            return total


def log_fired(fired: list[Fired]) -> None:
    for f in fired:
        log.info("fired %s due %s%s", f.deadline.deadline_id, f.deadline.due.isoformat(),
                 " (retired: refused for good)" if f.retired else "",
                 extra={"deadline_id": f.deadline.deadline_id,
                        "kind": f.deadline.kind.value, "due": f.deadline.due.isoformat(),
                        "outcome": "retired" if f.retired else
                        "replayed" if f.replayed else "fired",
                        "position": f.position})


def start_scheduler(app: EscrowLedger, runner: ProjectionRunner, *,
                    interval_seconds: float = 30.0, batch_size: int = 500,
                    firing_batch: int = FIRING_BATCH) -> Any:
    """An APScheduler job polling for due deadlines; one instance at a time."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.base import STATE_RUNNING

    scheduler = BackgroundScheduler(timezone="UTC")

    def job() -> None:
        try:
            drain(app, runner, log_fired, batch_size=batch_size, firing_batch=firing_batch,
                  running=lambda: bool(scheduler.state == STATE_RUNNING))
        except Exception:
            log.exception("deadline tick failed; it will run again")

    scheduler.add_job(job, "interval", seconds=interval_seconds, max_instances=1,
                      coalesce=True, id="deadlines")
    scheduler.start()
    return scheduler
