"""What the audit hash chain costs on each write, and how fast verify and replay read a long log.

Run from the repository root::

    .venv/bin/python -m benchmarks.audit_chain                     # make bench: 100,000 events
    .venv/bin/python -m benchmarks.audit_chain --events 1000000    # the figure the README quotes
    .venv/bin/python -m benchmarks.audit_chain --backends sqlite --seconds 3 --events 20000

Two parts, on a fresh store per case:

1. **Write cost.** The bare eventsourcing library saving one new one-event
   aggregate per transaction (``app.save(Tiny())``) by N threads, once with the
   library's own recorder and once with ours that writes the chain link in the
   same transaction; the ratio is the chain's cost on the smallest write there
   is (a real command writes more, so its share is smaller). pgbench TPC-B on
   the same server is printed beside it.
2. **Long log.** A log of ``--events`` events (``benchmarks.long_log``): copies of
   the demo's stored events under new aggregate ids (real topics and bytes,
   decodable, every posting balanced), the first 20,000 through the chained
   recorder in batches of 1,000 (the write figure), the rest in bulk with the
   same links. Then, each in its own process so its peak memory is its own and
   ``--runs`` times (the median is reported):
   the journal projection rebuilt from zero; ``ledger audit verify``
   (``audit_chain.verify``); and ``ledger audit replay``
   (``reconciliation.as_of.replay_as_of`` into a scratch SQLite file, compared
   with the rebuilt view), the last two at a tenth of the log and at all of it:
   events/s and peak RSS. Flat memory shows as the same peak at both sizes.

``--quick``: 20,000 events, one run, one worker, 1 s per write case (a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.fixed_price_flow import (
    DEFAULT_ADMIN_URL,
    BareLibrary,
    Stores,
    Tiny,
    _fmt,
    postgres_database,
    render_table,
    run_pgbench,
)
from benchmarks.long_log import fill, template_events
from ledger import audit_chain
from ledger.application import EscrowLedger
from ledger.settings import store_from_url
from projections.runner import ProjectionRunner
from reconciliation.as_of import replay_as_of

PLAIN_RECORDER = {"sqlite": "eventsourcing.sqlite:SQLiteApplicationRecorder",
                  "postgres": "eventsourcing.postgres:PostgresApplicationRecorder"}


# ---- 1. write cost ---------------------------------------------------------------------


def saves_per_second(url: str, backend: str, chained: bool, workers: int,
                     seconds: float) -> float:
    env = store_from_url(url, pool_size=max(workers, 1)).env
    if not chained:
        env["APPLICATION_RECORDER_TOPIC"] = PLAIN_RECORDER[backend]
    app = BareLibrary(env)
    counts = [0] * workers
    stop = time.monotonic() + seconds

    def work(i: int) -> None:
        while time.monotonic() < stop:
            app.save(Tiny(i))
            counts[i] += 1

    try:
        app.save(Tiny(-1))  # tables exist, the pool is warm
        threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sum(counts) / (time.monotonic() - started)
    finally:
        app.close()


# ---- 2. a long log --------------------------------------------------------------------


def measure(kind: str, url: str, upto: int) -> dict[str, Any]:
    """In this process: verify or replay up to log position ``upto``; time and peak RSS."""
    app = EscrowLedger(store_from_url(url).env)
    started = time.monotonic()
    try:
        runner = ProjectionRunner(app, batch_size=1000)
        if kind != "rebuild-all":
            runner.projections = {"journal": runner.journal}
        if kind == "rebuild-all":  # every projection, as `ledger projections rebuild`
            count = runner.rebuild()
        elif kind == "verify":
            report = audit_chain.verify(app, upto=upto)
            assert report.ok, report
            count = report.checked
        elif kind == "rebuild":
            count = runner.rebuild("journal")
        else:
            with tempfile.TemporaryDirectory() as tmp:
                replay = replay_as_of(app, _Upto(runner.queries, upto), None,  # type: ignore[arg-type]
                                      Path(tmp) / "scratch.sqlite")
            assert replay.ok, replay.differences[:5]
            count = replay.events
    finally:
        app.close()
    elapsed = time.monotonic() - started
    return {"kind": kind, "events": count, "seconds": elapsed,
            "events_per_s": count / elapsed if elapsed else 0.0,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


class _Upto:
    """The journal view's queries as if it stood at ``upto`` (it was rebuilt over the whole
    log): the replay of a tenth of the log compares with the view over that tenth."""

    def __init__(self, queries: Any, upto: int) -> None:
        self.queries, self.upto = queries, upto

    def position(self) -> int:
        return self.upto

    def balances_at(self, as_of: Any, upto: int) -> list[Any]:
        return list(self.queries.balances_at(as_of, upto))

    def require_still_past(self, position: int) -> None:
        self.queries.require_still_past(position)


def median_of_runs(kind: str, url: str, upto: int, runs: int) -> dict[str, Any]:
    """``runs`` measures, each in a fresh process: the median time and rate, the highest
    peak memory, and every run's rate (``runs_events_per_s``)."""
    found = [measure_in_child(kind, url, upto) for _ in range(max(runs, 1))]
    rates = sorted(m["events_per_s"] for m in found)
    middle = next(m for m in found if m["events_per_s"] == rates[len(rates) // 2])
    return {**middle, "peak_rss_mib": max(m["peak_rss_mib"] for m in found),
            "runs_events_per_s": [m["events_per_s"] for m in found]}


def measure_in_child(kind: str, url: str, upto: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.audit_chain", "--measure", kind,
                          "--url", url, "--upto", str(upto)],
                         capture_output=True, text=True, check=False, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{out.stdout}{out.stderr}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# ---- the run ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backends", nargs="+", default=["postgres", "sqlite"],
                   choices=["postgres", "sqlite"])
    p.add_argument("--workers", nargs="+", type=int, default=[1, 4])
    p.add_argument("--seconds", type=float, default=5.0, help="per write-cost case")
    p.add_argument("--events", type=int, default=100_000, help="length of the long log")
    p.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                            DEFAULT_ADMIN_URL))
    p.add_argument("--pgbench", default="pgbench")
    p.add_argument("--runs", type=int, default=3,
                   help="runs of each read of the long log; the median is reported")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 20,000 events, 1 run, 1 worker, 1 s per write case")
    p.add_argument("--json", help="also write the figures here")
    p.add_argument("--rebuild-all-events", type=int, default=20_000,
                   help="length of a second log over which every projection is rebuilt "
                   "(`ledger projections rebuild`: far slower than the journal alone)")
    p.add_argument("--measure", choices=["verify", "rebuild", "replay", "rebuild-all"],
                   help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--upto", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.events, args.runs, args.workers = min(args.events, 20_000), 1, [1]
        args.rebuild_all_events = min(args.rebuild_all_events, 2_000)
        args.seconds = min(args.seconds, 1.0)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.url, args.upto)))
        return 0
    print(f"audit chain benchmark: backends {args.backends}, workers {args.workers}, "
          f"{args.seconds:g} s per write case, a log of {args.events:,} events", flush=True)
    with tempfile.TemporaryDirectory(prefix="escrow_audit_bench_") as sqlite_dir:
        if "postgres" in args.backends:
            with postgres_database(args.postgres_url, f"escrow_audit_{os.getpid()}") as db:
                return run(args, Stores(db, sqlite_dir))
        return run(args, Stores(None, sqlite_dir))


def run(args: argparse.Namespace, stores: Stores) -> int:
    figures: dict[str, Any] = {"write": [], "log": [], "pgbench": {}}
    if "postgres" in args.backends:
        pid = os.getpid()
        with postgres_database(args.postgres_url, f"escrow_audit_pgbench_{pid}"):
            pgb = run_pgbench(args.pgbench, args.postgres_url, f"escrow_audit_pgbench_{pid}",
                              args.workers, args.seconds, os.cpu_count() or 1)
        figures["pgbench"] = {c: r.tps for c, r in pgb.items()}
    write_rows = []
    for backend in args.backends:
        for workers in args.workers:
            plain = saves_per_second(stores.url(backend, f"plain_{workers}"), backend, False,
                                     workers, args.seconds)
            chained = saves_per_second(stores.url(backend, f"chain_{workers}"), backend, True,
                                       workers, args.seconds)
            figures["write"].append({"backend": backend, "workers": workers,
                                     "plain": plain, "chained": chained})
            tps = figures["pgbench"].get(workers) if backend == "postgres" else None
            write_rows.append([backend, str(workers), _fmt(plain), _fmt(chained),
                               _fmt(chained / plain if plain else None, ".2f"),
                               _fmt(1000 / chained - 1000 / plain if plain and chained
                                    else None, ".3f"), _fmt(tps)])
            print(f"  {backend} {workers}w: plain {plain:.0f}/s, chained {chained:.0f}/s",
                  flush=True)
    log_rows = []
    for backend in args.backends:
        url = stores.url(backend, "long_log")
        template = template_events(url)
        base = len(template)
        filled = fill(url, template, args.events)
        rate = filled.recorder_events_per_s
        print(f"  {backend}: wrote the log in {filled.seconds:.0f} s: {rate:.0f} events/s "
              f"through the chained recorder (batches of 1,000), "
              f"{filled.bulk_events_per_s:.0f}/s in bulk", flush=True)
        figures.setdefault("fill", []).append({"backend": backend, **vars(filled)})
        for kind, upto in (("rebuild", base + args.events),
                           ("verify", base + args.events // 10), ("verify", base + args.events),
                           ("replay", base + args.events // 10), ("replay", base + args.events)):
            m = median_of_runs(kind, url, upto, args.runs)
            figures["log"].append({"backend": backend, **m, "fill_events_per_s": rate})
            log_rows.append([backend, "journal rebuild" if kind == "rebuild" else kind,
                             f"{m['events']:,}", _fmt(m["seconds"]),
                             _fmt(m["events_per_s"], ".0f"), _fmt(m["peak_rss_mib"])])
            print(f"  {backend} {kind} {m['events']:,}: {m['events_per_s']:.0f} events/s "
                  f"(runs {', '.join(f'{r:.0f}' for r in m['runs_events_per_s'])}), "
                  f"peak {m['peak_rss_mib']:.0f} MiB", flush=True)
        if args.rebuild_all_events:
            url = stores.url(backend, "all_views")
            small = template_events(url)
            fill(url, small, args.rebuild_all_events, progress=False)
            m = median_of_runs("rebuild-all", url, len(small) + args.rebuild_all_events,
                               args.runs)
            figures["log"].append({"backend": backend, **m})
            log_rows.append([backend, "every projection rebuilt", f"{m['events']:,}",
                             _fmt(m["seconds"]), _fmt(m["events_per_s"], ".0f"),
                             _fmt(m["peak_rss_mib"])])
            print(f"  {backend} every projection rebuilt over {m['events']:,}: "
                  f"{m['events_per_s']:.0f} events/s", flush=True)
    print("\nWrite cost of the chain (one new one-event aggregate per transaction):")
    print(render_table(["backend", "workers", "plain saves/s", "chained saves/s", "ratio",
                        "added ms/save", "pgbench tps"], write_rows))
    print(f"\nReading the whole log (each in its own process; median of {args.runs} run(s); "
          "peak RSS of that process):")
    print(render_table(["backend", "work", "events", "seconds", "events/s", "peak MiB"],
                       log_rows))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
