"""Scenario 4, the Monday 12:00 burst: every hourly contract's week invoiced at once.

Run from the repository root::

    .venv/bin/python -m benchmarks.monday_burst                      # 100,000 contracts
    .venv/bin/python -m benchmarks.monday_burst --contracts 5000 --backends sqlite

For each store it builds ``--contracts`` hourly contracts ($40.00 an hour, each
with its own client) and logs five hours on Monday 2 March 2026 on each, in
batches of ``--build-batch`` commands (``EscrowLedger.run_batch``, the path
``POST /v1/batch`` takes), timing the build at several batch sizes first. Then
it moves the clock to Monday 9 March 12:00 and lets the scheduler's own firing
loop (``entrypoints.scheduler.drain``: ticks of the default
``LEDGER_SCHEDULER_BATCH_SIZE``, each fired in transactions of ``FIRING_BATCH``)
invoice every week, timing it from the first firing to the last projected:
invoices per second and the time to clear the burst. A sample of the same
burst fired one deadline per transaction gives the batched/single ratio.

Each invoice must charge 214.95: 200.00 (5 h x $40.00), the 5% card
marketplace fee 10.00, and the contract initiation fee of a first payment
under $500, 4.95; the run checks the sum of charges and a zero trial balance,
so a fast wrong answer cannot pass as a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from benchmarks.fixed_price_flow import Stores, postgres_database, render_table
from domain.money import money
from entrypoints.scheduler import drain
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from ledger.settings import Settings, store_from_url
from projections.deadline_firing import FIRING_BATCH, Fired
from projections.runner import ProjectionRunner

OPENED_AT = datetime(2026, 3, 2, 9, tzinfo=UTC)
LOGGED_AT = datetime(2026, 3, 2, 18, tzinfo=UTC)
MONDAY = date(2026, 3, 2)
INVOICE_AT = datetime(2026, 3, 9, 12, tzinfo=UTC)
CHARGED = Decimal("214.95")
"""Five hours at $40.00 (200.00), 5% card marketplace fee (10.00), initiation fee (4.95)."""
CLEARING = "processor:clearing"


def build(app: EscrowLedger, clock: FakeClock, first: int, count: int, batch: int) -> float:
    """``count`` contracts from number ``first``, a logged Monday each; the seconds it took."""
    started = time.perf_counter()
    ids: list[str] = []
    clock.set(max(clock.now(), OPENED_AT))
    for lo in range(first, first + count, batch):
        numbers = range(lo, min(lo + batch, first + count))
        opened, _ = app.run_batch(lambda numbers=numbers: [app.open_contract(
            kind="hourly", client_id=f"c{n}", freelancer_id=f"f{n % 1000}", currency="USD",
            hourly_rate=money("40.00", "USD"), weekly_limit_hours=40, manual_time_allowed=False,
            actor="bench") for n in numbers])
        ids += [r.response["contract_id"] for r in opened]
    clock.set(max(clock.now(), LOGGED_AT))
    for lo in range(0, len(ids), batch):
        chunk = ids[lo:lo + batch]
        app.run_batch(lambda chunk=chunk: [app.log_time(
            contract_id=cid, worked_on=MONDAY, minutes=300, manual=False, actor="bench")
            for cid in chunk])
    return time.perf_counter() - started


def burst(app: EscrowLedger, runner: ProjectionRunner, clock: FakeClock, contracts: int,
          batch_size: int) -> tuple[float, int]:
    """Fires every invoice due at Monday 12:00; (seconds, invoices fired)."""
    clock.set(INVOICE_AT)
    runner.catch_up()  # the registry is current before the burst starts, as in production
    started = time.perf_counter()
    invoiced: list[int] = []

    def count(fired: list[Fired]) -> None:
        invoiced.append(sum(1 for f in fired if f.response.get("invoiced")))

    drain(app, runner, count, batch_size=Settings().scheduler_batch_size,
          firing_batch=batch_size)
    return time.perf_counter() - started, sum(invoiced)


def check_books(runner: ProjectionRunner, invoices: int) -> None:
    runner.catch_up()
    charged = runner.queries.balance(CLEARING)
    expected = invoices * CHARGED
    got = charged[0].balance if charged else Decimal(0)
    if got != expected:
        raise SystemExit(f"WRONG: {CLEARING} is {got}, expected {expected} for {invoices}")
    if runner.queries.trial_balance() != {"USD": Decimal("0.00")}:
        raise SystemExit("WRONG: the trial balance is not zero")


@contextmanager
def ledger(url: str) -> Iterator[tuple[EscrowLedger, ProjectionRunner, FakeClock]]:
    clock = FakeClock(OPENED_AT)
    app = EscrowLedger(store_from_url(url, pool_size=2).env, clock=clock)
    try:
        yield app, ProjectionRunner(app), clock
    finally:
        app.close()


def timed_batches(url_for: Callable[[str], str], sizes: list[int],
                  count: int) -> list[dict[str, Any]]:
    """Build throughput (commands/s) at each batch size, each on a fresh store."""
    rows = []
    for size in sizes:
        with ledger(url_for(f"build{size}")) as (app, _, clock):
            seconds = build(app, clock, 0, count, size)
        rows.append({"batch": size, "commands": 2 * count, "seconds": seconds,
                     "commands_per_s": 2 * count / seconds})
    return rows


def run_backend(backend: str, url_for: Callable[[str], str],
                args: argparse.Namespace) -> dict[str, Any]:
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    result: dict[str, Any] = {"backend": backend, "contracts": args.contracts,
                              "build_by_batch": timed_batches(url_for, sizes, args.sample)}
    with ledger(url_for("single")) as (app, runner, clock):
        build(app, clock, 0, args.sample, args.build_batch)
        seconds, invoices = burst(app, runner, clock, args.sample, batch_size=1)
        check_books(runner, invoices)
        result["single"] = {"invoices": invoices, "seconds": seconds,
                            "invoices_per_s": invoices / seconds}
    with ledger(url_for("burst")) as (app, runner, clock):
        result["build_seconds"] = build(app, clock, 0, args.contracts, args.build_batch)
        seconds, invoices = burst(app, runner, clock, args.contracts, FIRING_BATCH)
        check_books(runner, invoices)
        result["batched"] = {"invoices": invoices, "seconds": seconds,
                             "invoices_per_s": invoices / seconds, "batch": FIRING_BATCH}
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def report(results: list[dict[str, Any]]) -> str:
    rows = []
    for r in results:
        b, s = r["batched"], r["single"]
        rows.append([r["backend"], f"{b['invoices']:,}", f"{b['seconds']:.1f}",
                     f"{b['invoices_per_s']:,.0f}", f"{s['invoices_per_s']:,.0f}",
                     f"{b['invoices_per_s'] / s['invoices_per_s']:.1f}",
                     f"{100_000 / b['invoices_per_s']:.0f}"])
    out = [render_table(["store", "invoices", "burst s", "invoices/s (batches)",
                         "invoices/s (one per transaction)", "ratio",
                         "100,000 at this rate, s (target < 120)"], rows)]
    build_rows = [[r["backend"], str(x["batch"]), f"{x['commands_per_s']:,.0f}"]
                  for r in results for x in r["build_by_batch"]]
    out.append(render_table(["store", "commands per batch", "commands/s"], build_rows))
    return "\n\n".join(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--contracts", type=int, default=100_000)
    p.add_argument("--backends", default="postgres,sqlite")
    p.add_argument("--sample", type=int, default=2000,
                   help="contracts for the one-per-transaction burst and the batch-size table")
    p.add_argument("--batch-sizes", default="1,10,100,1000")
    p.add_argument("--build-batch", type=int, default=500)
    p.add_argument("--postgres-url", default=os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--json", help="also write the figures here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            if backend == "postgres":
                with postgres_database(args.postgres_url, f"escrow_burst_{os.getpid()}") as db:
                    results.append(run_backend("postgres", partial(
                        Stores(db, tmp).url, "postgres"), args))
            else:
                results.append(run_backend("sqlite", partial(Stores(None, tmp).url, "sqlite"),
                                           args))
            print(f"{backend}: done", file=sys.stderr)
    print(report(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
