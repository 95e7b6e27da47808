"""Scenario 2: the realistic command mix through the application, beside pgbench.

Run from the repository root::

    .venv/bin/python -m benchmarks.command_mix                   # defaults, ~2.5 minutes
    .venv/bin/python -m benchmarks.command_mix --quick           # seconds, sqlite only
    .venv/bin/python -m benchmarks.command_mix --profile --backends postgres --seconds 5

For each backend (PostgreSQL, SQLite) and worker count (1, 4, 16 threads sharing
one ``EscrowLedger``) N threads loop over rounds of the mix (``benchmarks.mix``:
fixed price, maturity and withdrawal, hourly time and invoice, Connects) on a
fresh store, for ``--seconds``. On PostgreSQL the same N workers also run spread
over processes (``--processes``, default up to 4: N/P threads in each of P
processes, each with its own ``EscrowLedger``, as ``ledger serve --workers P``
runs), because one interpreter's lock caps the threads of one process at about
one core while PostgreSQL and pgbench use both. In the same run, before them,
pgbench's TPC-B runs at the same client counts on the same server. Every figure
is the median of ``--runs`` runs; each ratio is taken within one run, then the
median taken.

It creates ``escrow_mix_<pid>`` and ``escrow_mixpgb_<pid>`` (dropped at the
end, also on error or SIGTERM) and SQLite files in a temporary directory.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import multiprocessing
import os
import pstats
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from benchmarks.fixed_price_flow import (
    DEFAULT_ADMIN_URL,
    Stores,
    _git_revision,
    _server_info,
    latency_summary,
    postgres_database,
    render_table,
    run_pgbench,
)
from benchmarks.mix import COMMAND_NAMES, fmt, median, ratio, round_steps, run_round
from ledger.application import EscrowLedger
from ledger.settings import store_from_url

BACKENDS = ("postgres", "sqlite")


@dataclass
class Tally:
    commands: int = 0
    started_at: float = 0.0
    ended_at: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class Case:
    backend: str
    workers: int
    run: int
    seconds: float
    commands: int
    events: int
    errors: dict[str, int]
    latency_ms: dict[str, dict[str, float]]
    pgbench_tps: float | None = None
    processes: int = 1

    @property
    def commands_per_s(self) -> float:
        return self.commands / self.seconds if self.seconds else 0.0

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def _worker(app: EscrowLedger, tally: Tally, deadline: list[float],
            barrier: threading.Barrier) -> None:
    run_round(app)  # warm-up, not counted
    barrier.wait()
    clock = time.monotonic  # one clock for every process of a case
    end = deadline[0]
    while clock() < end:  # checked between rounds: every round is whole
        for name, step in round_steps(app):
            t0 = clock()
            try:
                step()
            except Exception as e:  # counted, reported, and the run exits 1
                tally.errors[f"{name}: {type(e).__name__}: {e}"[:160]] += 1
                break
            tally.latencies.setdefault(name, []).append(clock() - t0)
            tally.commands += 1
    tally.ended_at = clock()


def _threads(app: EscrowLedger, count: int, seconds: float,
             release: Callable[[], float]) -> list[Tally]:
    """``count`` threads on ``app``, started together once all warmed up; their tallies.

    ``release`` runs once every thread has warmed up and returns when to start.
    """
    deadline = [0.0]

    def start() -> None:
        deadline[0] = release() + seconds

    barrier = threading.Barrier(count, action=start)
    tallies = [Tally() for _ in range(count)]
    failures: list[BaseException] = []

    def body(tally: Tally) -> None:
        try:
            _worker(app, tally, deadline, barrier)
        except threading.BrokenBarrierError:
            pass
        except BaseException as e:
            failures.append(e)
            barrier.abort()

    threads = [threading.Thread(target=body, args=(t,), daemon=True) for t in tallies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError(f"{count} workers: a worker failed") from failures[0]
    for tally in tallies:
        tally.started_at = deadline[0] - seconds
    return tallies


def _process(url: str, threads: int, seconds: float, ready: Any, go: Any,
             start_at: Any, results: Any) -> None:
    """One process of a case: its own ``EscrowLedger``, ``threads`` workers, its tallies
    sent back (an exception's text instead, so the parent fails the case)."""
    try:
        app = EscrowLedger(store_from_url(url, pool_size=threads).env)
        try:
            def release() -> float:
                ready.put(os.getpid())
                go.wait()
                return float(start_at.value)

            results.put(_threads(app, threads, seconds, release))
        finally:
            app.close()
    except BaseException as e:
        results.put(f"{type(e).__name__}: {e}")


def count_events(app: EscrowLedger, url: str) -> int:
    """Rows in the events table (PostgreSQL's notification ids have gaps; rows do not)."""
    table = app.recorder.events_table_name  # type: ignore[attr-defined]
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///").partition("?")[0]
        with sqlite3.connect(path) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    db, _, query = url.partition("?")
    schema = query.removeprefix("schema=")
    with psycopg.connect(db, autocommit=True) as conn:
        row = conn.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()
    assert row is not None
    return int(row[0])


def run_case(url: str, backend: str, workers: int, seconds: float, run: int,
             pre_ping: bool = True, processes: int = 1) -> Case:
    if processes > 1:
        tallies, before, events_after = _across_processes(url, workers, processes, seconds)
    else:
        env = store_from_url(url, pool_size=workers).env
        if not pre_ping and backend == "postgres":
            env["POSTGRES_PRE_PING"] = "n"  # a diagnosis: what the per-checkout SELECT costs
        app = EscrowLedger(env)
        try:
            counted: list[int] = []

            def release() -> float:  # once every worker has warmed up
                counted.append(count_events(app, url))
                return time.monotonic()

            tallies = _threads(app, workers, seconds, release)
            before, events_after = counted[0], count_events(app, url)
        finally:
            app.close()
    elapsed = max(t.ended_at for t in tallies) - tallies[0].started_at
    merged: dict[str, list[float]] = {}
    errors: Counter[str] = Counter()
    for t in tallies:
        errors.update(t.errors)
        for name, values in t.latencies.items():
            merged.setdefault(name, []).extend(values)
    latency = {name: latency_summary(v) for name, v in merged.items()}
    latency["all"] = latency_summary([x for v in merged.values() for x in v])
    return Case(backend, workers, run, elapsed, sum(t.commands for t in tallies),
                events_after - before, dict(errors), latency, processes=processes)


def _across_processes(url: str, workers: int, processes: int,
                      seconds: float) -> tuple[list[Tally], int, int]:
    """``workers`` threads spread over ``processes`` spawned processes, started together
    once every one has warmed up; (tallies, events before, events after)."""
    ctx = multiprocessing.get_context("spawn")  # no inherited pools or threads
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    start_at = ctx.Value("d", 0.0)
    shares = [workers // processes + (i < workers % processes) for i in range(processes)]
    children = [ctx.Process(target=_process, args=(url, n, seconds, ready, go, start_at,
                                                   results), daemon=True) for n in shares]
    for child in children:
        child.start()
    try:
        for _ in children:
            ready.get(timeout=120)
        counter = EscrowLedger(store_from_url(url, pool_size=1).env)
        try:
            before = count_events(counter, url)
            start_at.value = time.monotonic() + 0.05
            go.set()
            tallies: list[Tally] = []
            for _ in children:
                got = results.get(timeout=seconds + 120)
                if isinstance(got, str):
                    raise RuntimeError(f"{workers} workers in {processes} processes: {got}")
                tallies += got
            after = count_events(counter, url)
        finally:
            counter.close()
    finally:
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
    return tallies, before, after


def summarise(cases: list[Case]) -> list[dict[str, Any]]:
    """One row per backend and worker count: the median over runs of every figure."""
    rows = []
    for backend in dict.fromkeys(c.backend for c in cases):
        for workers, processes in sorted({(c.workers, c.processes) for c in cases
                                          if c.backend == backend}):
            runs = [c for c in cases if (c.backend, c.workers, c.processes) == (
                backend, workers, processes)]
            rows.append({
                "backend": backend, "workers": workers, "processes": processes,
                "runs": len(runs),
                "commands_per_s": median([c.commands_per_s for c in runs]),
                "events_per_s": median([c.events_per_s for c in runs]),
                "p50_ms": median([c.latency_ms["all"]["p50"] for c in runs]),
                "p99_ms": median([c.latency_ms["all"]["p99"] for c in runs]),
                "errors": sum(sum(c.errors.values()) for c in runs),
                "pgbench_tps": median([c.pgbench_tps for c in runs
                                       if c.pgbench_tps is not None]),
                "ratio_to_pgbench": median([r for c in runs
                                            if (r := ratio(c.commands_per_s,
                                                           c.pgbench_tps)) is not None]),
            })
    return rows


HEADER = ["backend", "workers", "processes", "cmds/s", "events/s", "p50 ms", "p99 ms", "errors",
          "pgbench tps", "ours/pgbench"]


def table(rows: list[dict[str, Any]]) -> str:
    return render_table(HEADER, [[
        r["backend"], str(r["workers"]), str(r["processes"]), fmt(r["commands_per_s"]),
        fmt(r["events_per_s"]),
        fmt(r["p50_ms"], ".2f"), fmt(r["p99_ms"], ".2f"), str(r["errors"]),
        fmt(r["pgbench_tps"]), fmt(r["ratio_to_pgbench"], ".2f")] for r in rows])


def per_command_table(cases: list[Case]) -> str:
    rows = []
    for backend in dict.fromkeys(c.backend for c in cases):
        workers = min(c.workers for c in cases if c.backend == backend)
        runs = [c for c in cases if c.backend == backend and c.workers == workers
                and c.processes == 1]
        for name in COMMAND_NAMES:
            lat = [c.latency_ms[name] for c in runs if name in c.latency_ms]
            if lat:
                rows.append([backend, str(workers), name,
                             fmt(median([x["p50"] for x in lat]), ".2f"),
                             fmt(median([x["p99"] for x in lat]), ".2f")])
    return render_table(["backend", "workers", "command", "p50 ms", "p99 ms"], rows)


def profile(url: str, seconds: float, top: int) -> None:
    """One worker, rounds in a loop under cProfile; prints the top functions."""
    app = EscrowLedger(store_from_url(url, pool_size=1).env)
    try:
        run_round(app)
        prof = cProfile.Profile()
        rounds, end = 0, time.perf_counter() + seconds
        prof.enable()
        while time.perf_counter() < end:
            run_round(app)
            rounds += 1
        prof.disable()
    finally:
        app.close()
    print(f"\nprofile: {rounds} rounds ({rounds * 14} commands) in {seconds:g} s under cProfile")
    for key in ("tottime", "cumulative"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(key).print_stats(top)
        print(f"\n--- top {top} by {key} ---\n{buf.getvalue().strip()}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.command_mix", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=4.0, help="per case (default 4)")
    ap.add_argument("--runs", type=int, default=3, help="runs; figures are medians (3)")
    ap.add_argument("--workers", default="1,4,16", help="thread counts (default 1,4,16)")
    ap.add_argument("--processes", type=int, default=4,
                    help="PostgreSQL: also each worker count over min(N, this) processes "
                         "(default 4; 1: threads only)")
    ap.add_argument("--backends", default="postgres,sqlite")
    ap.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                             DEFAULT_ADMIN_URL),
                    help="an ADMIN URL: the benchmark creates and drops its own databases")
    ap.add_argument("--pgbench", default=shutil.which("pgbench") or "/usr/bin/pgbench")
    ap.add_argument("--no-pgbench", action="store_true")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: sqlite, 1 worker, 0.5 s, 1 run, no pgbench")
    ap.add_argument("--json", metavar="PATH", help="also write every figure as JSON")
    ap.add_argument("--profile", action="store_true",
                    help="instead: 1 worker on the first backend under cProfile")
    ap.add_argument("--profile-top", type=int, default=30)
    ap.add_argument("--no-pre-ping", action="store_true",
                    help="diagnosis: PostgreSQL pool without its check (a SELECT 1 before "
                         "each checkout); not how the ledger runs")
    args = ap.parse_args(argv)
    if args.quick:
        args.seconds, args.runs, args.workers, args.no_pgbench = 0.5, 1, "1", True
        args.processes = 1
        if "--backends" not in " ".join(argv or sys.argv[1:]):
            args.backends = "sqlite"
    args.workers = sorted({int(w) for w in args.workers.split(",") if w.strip()})
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if set(args.backends) - set(BACKENDS) or not args.backends:
        ap.error(f"--backends must be from {', '.join(BACKENDS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = datetime.now(UTC)
    use_pg = "postgres" in args.backends
    print(f"escrow-ledger command mix (scenario 2), {started:%Y-%m-%d %H:%M} UTC, "
          f"{os.cpu_count()} cores, code {_git_revision()}")
    if use_pg:
        print(f"  {_server_info(args.postgres_url)}")
    print(f"  {args.seconds:g} s per case, {args.runs} run(s), workers {args.workers}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="escrow_mix_") as sqlite_dir:
        if not use_pg:
            return _run(args, Stores(None, sqlite_dir), started)
        with postgres_database(args.postgres_url, f"escrow_mix_{os.getpid()}") as db_url:
            return _run(args, Stores(db_url, sqlite_dir), started)


def _layouts(backend: str, workers: list[int], processes: int) -> list[tuple[int, int]]:
    """(workers, processes) cases: threads in one process, then on PostgreSQL the same
    workers over min(N, ``processes``) processes (SQLite takes one writer at a time)."""
    out = [(n, 1) for n in workers]
    if backend == "postgres":
        out += [(n, min(n, processes)) for n in workers if min(n, processes) > 1]
    return out


def _run(args: argparse.Namespace, stores: Stores, started: datetime) -> int:
    if args.profile:
        profile(stores.url(args.backends[0], "profile"), args.seconds, args.profile_top)
        return 0
    cases: list[Case] = []
    for run in range(1, args.runs + 1):
        tps: dict[int, float] = {}
        if "postgres" in args.backends and not args.no_pgbench:
            name = f"escrow_mixpgb_{os.getpid()}"
            with postgres_database(args.postgres_url, name):
                tps = {c: r.tps for c, r in run_pgbench(
                    args.pgbench, args.postgres_url, name, args.workers, args.seconds,
                    os.cpu_count() or 1).items()}
        for backend in args.backends:
            for workers, processes in _layouts(backend, args.workers, args.processes):
                case = run_case(stores.url(backend, f"r{run}_{workers}w{processes}p"), backend,
                                workers, args.seconds, run, pre_ping=not args.no_pre_ping,
                                processes=processes)
                case.pgbench_tps = tps.get(workers) if backend == "postgres" else None
                cases.append(case)
                print(f"  run {run} {backend} {workers}w"
                      f"{f' in {processes} processes' if processes > 1 else ''}: "
                      f"{case.commands_per_s:.1f} cmds/s"
                      f"{f' (pgbench {case.pgbench_tps:.0f} tps)' if case.pgbench_tps else ''}"
                      f"{f', {sum(case.errors.values())} ERRORS' if case.errors else ''}",
                      flush=True)
    rows = summarise(cases)
    print(f"\nCommand mix through the application, medians of {args.runs} run(s), "
          f"{args.seconds:g} s each; load average now "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(table(rows))
    print("\nPer command (fewest workers):")
    print(per_command_table(cases))
    failed = [c for c in cases if c.errors]
    for c in failed:
        print(f"ERRORS in {c.backend}/{c.workers}w run {c.run}: "
              f"{sorted(c.errors.items(), key=lambda kv: -kv[1])[:5]}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"scenario": "command_mix", "started": started.isoformat(),
                       "seconds": args.seconds, "runs": args.runs, "cores": os.cpu_count(),
                       "summary": rows, "cases": [asdict(c) for c in cases]}, f, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
