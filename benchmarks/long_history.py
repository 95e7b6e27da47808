"""A command on a contract with a long history against one on a new contract.

Run from the repository root::

    .venv/bin/python -m benchmarks.long_history                  # 10,000 events, both stores
    .venv/bin/python -m benchmarks.long_history --events 2000 --backends sqlite

Builds an hourly contract with ``--events`` one-minute time entries (each its
own event; $40.00 an hour, a 168-hour limit, every entry in the week of Monday
2 March 2026), then times the same command (changing the weekly limit, which
loads, settles and saves the contract) on it and on a contract opened with the
same terms by another client, alternately, ``--repeats`` times each. It prints
the median latencies and their ratio with the aggregate cache on (the default)
and, for the long contract, off: the target is a ratio of at most 2.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from benchmarks.fixed_price_flow import Stores, postgres_database, render_table
from domain.money import money
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from ledger.settings import store_from_url

OPENED_AT = datetime(2026, 3, 2, 0, 1, tzinfo=UTC)
LOGGING_AT = datetime(2026, 3, 8, 23, tzinfo=UTC)
MONDAY = date(2026, 3, 2)


def open_hourly(app: EscrowLedger, client: str) -> str:
    return str(app.open_contract(
        kind="hourly", client_id=client, freelancer_id="f1", currency="USD",
        hourly_rate=money("40.00", "USD"), weekly_limit_hours=168, manual_time_allowed=True,
        actor="bench").response["contract_id"])


def fill(app: EscrowLedger, contract_id: str, events: int) -> None:
    """``events`` one-minute entries, 500 to a batch (7 days x 1,440 minutes at most)."""
    for lo in range(0, events, 500):
        app.run_batch(lambda lo=lo: [app.log_time(
            contract_id=contract_id, worked_on=MONDAY + timedelta(days=i % 7), minutes=1,
            manual=True, actor="f1") for i in range(lo, min(lo + 500, events))])


def timed(app: EscrowLedger, contract_id: str, hours: int) -> float:
    started = time.perf_counter()
    app.change_weekly_limit(contract_id=contract_id, hours=hours, actor="c")
    return time.perf_counter() - started


def measure(url: str, events: int, repeats: int) -> dict[str, Any]:
    clock = FakeClock(OPENED_AT)
    app = EscrowLedger(store_from_url(url, pool_size=2).env, clock=clock)
    try:
        long_id, new_id = open_hourly(app, "c-long"), open_hourly(app, "c-new")
        clock.set(LOGGING_AT)
        started = time.perf_counter()
        fill(app, long_id, events)
        fill_seconds = time.perf_counter() - started
        events = app.contract_view(long_id)["version"]
        long_ms, new_ms = [], []
        for i in range(repeats):
            hours = 160 + i % 2  # alternate: each change is a real change
            long_ms.append(timed(app, long_id, hours) * 1000)
            new_ms.append(timed(app, new_id, hours) * 1000)
        cache = app.aggregates
        app.aggregates = None  # the same contract, replayed from its first event each time
        cold = [timed(app, long_id, 150 + i % 2) * 1000 for i in range(3)]
        app.aggregates = cache
        return {"events": events, "fill_seconds": fill_seconds,
                "new_ms": statistics.median(new_ms), "long_ms": statistics.median(long_ms),
                "ratio": statistics.median(long_ms) / statistics.median(new_ms),
                "long_uncached_ms": statistics.median(cold)}
    finally:
        app.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--backends", default="postgres,sqlite")
    p.add_argument("--postgres-url", default=os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--json")
    args = p.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            if backend == "postgres":
                with postgres_database(args.postgres_url, f"escrow_long_{os.getpid()}") as db:
                    url = Stores(db, tmp).url("postgres", "long")
                    results.append({"backend": backend, **measure(url, args.events,
                                                                  args.repeats)})
            else:
                url = Stores(None, tmp).url("sqlite", "long")
                results.append({"backend": backend, **measure(url, args.events, args.repeats)})
    print(render_table(
        ["store", "contract events", "new contract ms", "long contract ms", "ratio (<= 2)",
         "long, cache off, ms"],
        [[r["backend"], f"{r['events']:,}", f"{r['new_ms']:.2f}", f"{r['long_ms']:.2f}",
          f"{r['ratio']:.2f}", f"{r['long_uncached_ms']:.0f}"] for r in results]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
