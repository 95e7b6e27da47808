"""The composition root: a ledger built from ``Settings`` (store, fee schedule, clock).

Entry points (the HTTP app, the command line, the scheduler process) all build
their ledger here, so they agree on the store, the fees and what time it is.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from domain.fees.schedule import DEFAULT_SCHEDULE, FeeSchedule
from ledger.application import EscrowLedger
from ledger.clock import Clock
from ledger.settings import Settings, store_from_url
from ledger.test_clock import StoredClock


def fee_schedule(settings: Settings) -> FeeSchedule:
    if not settings.fee_schedule_file:
        return DEFAULT_SCHEDULE
    overrides = json.loads(Path(settings.fee_schedule_file).read_text(), parse_float=str)
    return FeeSchedule.from_overrides(overrides)


def build_ledger(settings: Settings, *, clock: Clock | None = None) -> EscrowLedger:
    """The ledger on the configured store; with ``test_clock`` its time is the store's."""
    env = store_from_url(settings.database_url, pool_size=settings.pool_size).env
    ledger = EscrowLedger(env, clock=clock, fees=fee_schedule(settings),
                          cache_size=settings.aggregate_cache_size)
    if settings.test_clock and clock is None:
        start = settings.test_clock_start or datetime.now(UTC)
        clock = StoredClock(ledger, start)
        clock.ensure_started()
        ledger.clock = clock
    return ledger
