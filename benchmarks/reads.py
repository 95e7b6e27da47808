"""Read latencies with a long log stored: balances, as-of balances, a contract's events, lists.

Run from the repository root::

    .venv/bin/python -m benchmarks.reads                       # 1,000,000 events, both stores
    .venv/bin/python -m benchmarks.reads --quick               # 20,000 events, a smoke run
    .venv/bin/python -m benchmarks.reads --url sqlite:///./ledger.db   # a store you have

Per store: the log of ``benchmarks.long_log`` (the demo's events copied under new ids,
as the audit benchmark builds it), the journal and contract-list projections rebuilt
over it (timed), and the other projections marked caught up at the head without
content (no read here uses them, and rebuilding them all over a million events takes
far longer than this run's budget). Then each read, through the API served
in-process (FastAPI's ``TestClient``: routing, auth, validation and JSON included, no
socket), ``--requests`` times after a warm-up, ``--runs`` times; the median run's p50
and p99 are reported. The copies keep the demo's account names, so each account the
demo posts to holds about ``events / 46`` times its postings: the as-of balance of the
busiest account sums the most rows a real account could hold.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eventsourcing.persistence import Tracking
from fastapi.testclient import TestClient

from api.main import create_app
from benchmarks.fixed_price_flow import (
    DEFAULT_ADMIN_URL,
    Stores,
    _fmt,
    postgres_database,
    render_table,
)
from benchmarks.long_log import analyze, fill, template_events
from domain.deadlines import from_epoch_us
from ledger import audit_chain
from ledger.application import EscrowLedger
from ledger.settings import store_from_url
from projections.runner import ProjectionRunner

KEY = "k-bench-read-audit-0001"
def prepare(url: str, built: tuple[str, ...]) -> dict[str, Any]:
    """Rebuilds the projections the reads use; the rest are set at the head, empty."""
    app = EscrowLedger(store_from_url(url).env)
    try:
        runner = ProjectionRunner(app)
        timings = {}
        for name in built:
            started = time.monotonic()
            _rebuild_only(runner, name)
            timings[name] = time.monotonic() - started
        head = app.recorder.max_notification_id() or 0
        for name, projection in runner.projections.items():
            if name not in built and projection.position() < head:
                with projection.view.writing(Tracking(projection.name, head)):  # type: ignore[attr-defined]
                    pass
        return {"rebuild_seconds": timings, "events": head}
    finally:
        app.close()


def _rebuild_only(runner: ProjectionRunner, name: str) -> None:
    everything = runner.projections
    runner.projections = {name: everything[name]}
    try:
        runner.rebuild(name)
    finally:
        runner.projections = everything


def verified(url: str) -> int:
    """The bulk-written log's chain checks out (so the log is one the ledger could have
    written): how many events ``verify`` recomputed."""
    app = EscrowLedger(store_from_url(url).env)
    try:
        report = audit_chain.verify(app)
        if not report.ok:
            raise RuntimeError(f"the benchmark's log does not verify: {report}")
        return report.checked
    finally:
        app.close()


def subjects(app: EscrowLedger, runner: ProjectionRunner) -> dict[str, str]:
    """What to read: the busiest account, a moment half-way through its postings, the
    demo's first contract and its freelancer."""
    view = runner.journal.view
    busiest = view.fetch("SELECT account, COUNT(*) AS n FROM {postings} "
                         "GROUP BY account ORDER BY n DESC, account LIMIT 1")[0]
    moments = view.fetch("SELECT MIN(effective_us) AS lo, MAX(effective_us) AS hi "
                         "FROM {postings} WHERE account = %s", [busiest["account"]])[0]
    middle = (int(moments["lo"]) + int(moments["hi"])) // 2
    contract = view.fetch("SELECT originator_id FROM {postings} "
                          "WHERE event_type LIKE %s ORDER BY notification_id LIMIT 1",
                          ["%MilestoneFunded"])[0]["originator_id"]
    return {"account": busiest["account"], "postings": str(busiest["n"]),
            "mid_log": str((app.recorder.max_notification_id() or 0) // 2),
            "as_of": from_epoch_us(middle).isoformat(), "contract": contract,
            "freelancer": "freelancer-ada"}


def reads(s: dict[str, str], contract_lists: bool) -> dict[str, tuple[str, dict[str, str]]]:
    found = {
        "freelancer balances": (f"/v1/freelancers/{s['freelancer']}/balances", {}),
        "account balance": (f"/v1/accounts/{s['account']}/balance", {}),
        "account balance as of": (f"/v1/accounts/{s['account']}/balance",
                                  {"as_of": s["as_of"]}),
        "contract events": (f"/v1/contracts/{s['contract']}/events", {}),
        "event feed page (100), mid-log": ("/v1/events", {"after": s["mid_log"],
                                                          "limit": "100"}),
        "freelancer's contracts (50)": (f"/v1/freelancers/{s['freelancer']}/contracts",
                                        {"limit": "50"}),
    }
    if not contract_lists:
        del found["freelancer's contracts (50)"]
    return found


def latencies(call: Callable[[], Any], requests: int) -> list[float]:
    for _ in range(max(requests // 10, 3)):
        call()
    found = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        found.append((time.perf_counter() - started) * 1000)
    return found


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(url: str, requests: int, runs: int, contract_lists: bool = True
            ) -> tuple[dict[str, str], list[dict[str, Any]]]:
    app = EscrowLedger(store_from_url(url).env)
    try:
        runner = ProjectionRunner(app)
        s = subjects(app, runner)
        # as served: the background projector keeps the views current, reads do not wait
        web = create_app(ledger=app, api_keys={KEY: frozenset({"read", "audit"})})
        out = []
        with TestClient(web) as client:
            headers = {"Authorization": f"Bearer {KEY}"}
            for name, (path, params) in reads(s, contract_lists).items():
                def call(path: str = path, params: dict[str, str] = params) -> None:
                    r = client.get(path, params=params, headers=headers)
                    if r.status_code != 200:
                        raise RuntimeError(f"{path}: {r.status_code} {r.text[:300]}")
                per_run = [latencies(call, requests) for _ in range(max(runs, 1))]
                p50s = [statistics.median(v) for v in per_run]
                middle = per_run[p50s.index(sorted(p50s)[len(p50s) // 2])]
                out.append({"read": name, "path": path, "params": params,
                            "p50_ms": statistics.median(middle), "p99_ms": pct(middle, 0.99),
                            "runs_p50_ms": p50s, "requests": requests})
        return s, out
    finally:
        app.close()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backends", nargs="+", default=["postgres", "sqlite"],
                   choices=["postgres", "sqlite"])
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--requests", type=int, default=200, help="per read and run")
    p.add_argument("--runs", type=int, default=3, help="the median run is reported")
    p.add_argument("--quick", action="store_true", help="20,000 events, 50 requests, 1 run")
    p.add_argument("--no-contract-lists", dest="contract_lists", action="store_false",
                   help="skip the contract list read and its view's rebuild (that rebuild "
                   "is most of a million-event run: a few thousand events/s)")
    p.add_argument("--url", help="measure this store as it is (no log is written)")
    p.add_argument("--analyze", action="store_true",
                   help="with --url: VACUUM ANALYZE (PostgreSQL) / ANALYZE (SQLite) first")
    p.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                            DEFAULT_ADMIN_URL))
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args(argv)
    if args.quick:
        args.events, args.requests, args.runs = min(args.events, 20_000), 50, 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    figures: list[dict[str, Any]] = []
    if args.url:
        if args.analyze:
            analyze(args.url)
        s, out = measure(args.url, args.requests, args.runs, args.contract_lists)
        figures.append({"backend": args.url, "subjects": s, "reads": out})
    else:
        print(f"reads benchmark: backends {args.backends}, a log of {args.events:,} events, "
              f"{args.requests} requests x {args.runs} run(s) per read", flush=True)
        with tempfile.TemporaryDirectory(prefix="escrow_reads_bench_") as sqlite_dir:
            if "postgres" in args.backends:
                with postgres_database(args.postgres_url, f"escrow_reads_{os.getpid()}") as db:
                    run(args, Stores(db, sqlite_dir), figures)
            else:
                run(args, Stores(None, sqlite_dir), figures)
    rows = [[f["backend"], r["read"], _fmt(r["p50_ms"], ".2f"), _fmt(r["p99_ms"], ".2f")]
            for f in figures for r in f["reads"]]
    print(f"\nRead latency over HTTP in-process (TestClient), ms; median of {args.runs} "
          f"run(s) of {args.requests} requests:")
    print(render_table(["backend", "read", "p50 ms", "p99 ms"], rows))
    for f in figures:
        print(f"  {f['backend']}: {f.get('events', '?')} events; busiest account "
              f"{f['subjects']['account']} ({f['subjects']['postings']} postings), as of "
              f"{f['subjects']['as_of']}; projections rebuilt in "
              f"{json.dumps(f.get('rebuild_seconds', {}))} s")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str))
    return 0


def run(args: argparse.Namespace, stores: Stores, figures: list[dict[str, Any]]) -> None:
    for backend in args.backends:
        url = stores.url(backend, "reads")
        started = time.monotonic()
        template = template_events(url)
        filled = fill(url, template, args.events, through_recorder=0, progress=False)
        print(f"  {backend}: {args.events:,} events written in {filled.seconds:.0f} s",
              flush=True)
        prepared = prepare(url, ("journal", "contracts") if args.contract_lists
                           else ("journal",))
        analyze(url)
        prepared["chain_verified"] = verified(url)
        print(f"  {backend}: projections rebuilt: {prepared['rebuild_seconds']}", flush=True)
        s, out = measure(url, args.requests, args.runs, args.contract_lists)
        figures.append({"backend": backend, **prepared, "subjects": s, "reads": out,
                        "setup_seconds": time.monotonic() - started})


if __name__ == "__main__":
    raise SystemExit(main())
