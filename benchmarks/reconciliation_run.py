"""How long a reconciliation run over a large processor report takes, stage by stage.

Run from the repository root::

    .venv/bin/python -m benchmarks.reconciliation_run                    # 100,000 charges
    .venv/bin/python -m benchmarks.reconciliation_run --charges 5000     # quicker

It funds ``--charges`` milestones by card through the application on a fresh
SQLite store (spread over 30 days of a test clock), derives the processor report
(one row per charge) and the trust account's BAI2 from the event feed, then
times each stage of one run: parsing the files, reading the ledger's side from
the log, matching, safeguarding, and recording the run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from domain.money import money
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from ledger.settings import store_from_url
from projections.runner import ProjectionRunner
from reconciliation import runs
from reconciliation.derived_statements import processor_rows, trust_days
from reconciliation.statements.bai2_statement import write_bai2_days
from reconciliation.statements.processor_csv import write_processor_csv


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--charges", type=int, default=100_000)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="escrow_recon_bench_") as tmp:
        clock = FakeClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
        app = EscrowLedger(store_from_url(f"sqlite:///{Path(tmp) / 'l.db'}").env, clock=clock)
        step = timedelta(days=30) / args.charges
        started = time.monotonic()
        for n in range(args.charges):
            cid = app.open_contract(client_id=f"c{n % 997}", freelancer_id=f"f{n % 991}",
                                    currency="USD", actor="bench").response["contract_id"]
            mid = app.add_milestone(contract_id=cid, title="m", amount=money("500.00", "USD"),
                                    actor="bench").response["milestone_id"]
            app.fund_milestone(contract_id=cid, milestone_id=mid, actor="bench")
            clock.advance(step)
            if n and n % 10_000 == 0:
                print(f"  {n:,} charges", flush=True)
        print(f"ledger: {args.charges:,} charges, {app.position():,} events in "
              f"{time.monotonic() - started:.0f} s", flush=True)
        runner = ProjectionRunner(app, batch_size=1000)
        t = time.monotonic()
        runner.catch_up()
        print(f"projections caught up in {time.monotonic() - t:.1f} s", flush=True)
        rows, created = processor_rows(app)
        days = trust_days(rows, min(r.booked for r in rows),
                          max(r.value_date for r in rows if r.value_date))
        files = [("processor.csv", write_processor_csv(rows, created_at=created)),
                 ("trust.bai2", write_bai2_days(days))]
        lines = len(rows) + sum(len(d[4]) for d in days)
        timings: dict[str, float] = {}
        t = time.monotonic()
        parsed = runs.parse_all(files)
        timings["parse"] = time.monotonic() - t
        t = time.monotonic()
        prepared = runs.prepare_external(app, runner.queries, parsed)
        timings["read log + match + safeguarding"] = time.monotonic() - t
        t = time.monotonic()
        runs.record(app, prepared, actor="bench")
        timings["record"] = time.monotonic() - t
        total = sum(timings.values())
        print(f"\nrun over {lines:,} statement lines ({len(rows):,} processor rows, "
              f"{len(days)} bank days): {len(prepared.breaks)} break(s)")
        for stage, seconds in timings.items():
            print(f"  {stage:34} {seconds:7.2f} s")
        print(f"  {'total':34} {total:7.2f} s  ({lines / total:,.0f} lines/s)")
        app.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
