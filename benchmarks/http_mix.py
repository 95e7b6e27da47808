"""Scenarios 3 and "beyond one process": the command mix over HTTP against ``ledger serve``.

Run from the repository root::

    .venv/bin/python -m benchmarks.http_mix              # defaults, ~3.5 minutes
    .venv/bin/python -m benchmarks.http_mix --quick      # a smoke run, seconds

The mix is ``benchmarks.phases`` (twelve commands per round in six phases). For
each connection count it is run:

* **in process**: that many threads calling one ``EscrowLedger`` (scenario 2's way);
* **over HTTP**: ``wrk`` (one thread per connection, each walking its share of the
  phase's prepared requests, every one with its own ``Idempotency-Key``) against
  ``ledger serve --workers N`` on uvloop and httptools (N = 1, 2, 4: with N > 1
  the parent runs the one scheduler and projector, the workers only the API);
* **bare**: the yardsticks' bare FastAPI endpoint on the same number of
  processes and connections.

All on one PostgreSQL server, in the same invocation; every figure is the
median of ``--runs`` runs and each ratio is taken within a run. It creates
``escrow_http_<pid>`` (dropped at the end, also on error or SIGTERM) and stops
every server it started.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.fixed_price_flow import (
    DEFAULT_ADMIN_URL,
    Stores,
    _git_revision,
    _server_info,
    postgres_database,
    render_table,
)
from benchmarks.mix import fmt, median, ratio
from benchmarks.phases import PHASES, Op, Round, fire_deadlines, ops_for
from benchmarks.yardsticks import (
    ROOT,
    WRK_DIR,
    bare_server,
    free_port,
    parse_wrk,
    serving,
    wrk_fixed,
)
from ledger.application import EscrowLedger
from ledger.settings import store_from_url

API_KEY = "bench-http-mix-key-0001"


@dataclass
class Outcome:
    """One executor's pass over the six phases."""

    ok: int = 0
    failed: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)  # samples or wrk quantiles
    weights: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def per_s(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def quantile(self, p: float) -> float:
        """Pooled quantile; each sample weighs its ``weights`` entry (1 for in-process)."""
        pairs = sorted(zip(self.latencies_ms, self.weights, strict=True))
        if not pairs:
            return float("nan")
        total, running = sum(w for _, w in pairs), 0.0
        for value, weight in pairs:
            running += weight
            if running >= p / 100 * total:
                return value
        return pairs[-1][0]

    def note_error(self, text: str) -> None:
        self.errors[text[:160]] = self.errors.get(text[:160], 0) + 1


def _in_process(app: EscrowLedger, ops: list[Op], workers: int, out: Outcome) -> None:
    latencies: list[list[float]] = [[] for _ in range(workers)]

    def work(i: int) -> None:
        for op in ops[i::workers]:
            t0 = time.perf_counter()
            try:
                op.absorb(op.call(app).response)
            except Exception as e:  # counted; the round is dropped from later phases
                op.round.failed = True
                out.failed += 1
                out.note_error(f"{op.name}: {type(e).__name__}: {e}")
                continue
            latencies[i].append((time.perf_counter() - t0) * 1000)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.seconds += time.perf_counter() - t0
    done = [x for lane in latencies for x in lane]
    out.ok += len(done)
    out.latencies_ms += done
    out.weights += [1.0] * len(done)


def _over_http(base: str, ops: list[Op], connections: int, workdir: Path,
               out: Outcome) -> None:
    phase_file = workdir / "phase.tsv"
    with phase_file.open("w") as f:
        for op in ops:
            body = "-" if op.body is None else json.dumps(op.body)
            f.write(f"{op.method}\t{op.path}\t{op.key}\t{body}\n")
    prefix = workdir / f"answers-{time.monotonic_ns()}"
    c = max(1, min(connections, len(ops)))
    wrk = subprocess.Popen(
        ["wrk", "-t", str(c), "-c", str(c), "-d", "600s", "--timeout", "30s", "-s",
         str(WRK_DIR / "phase.lua"), base, "--", str(phase_file), str(prefix), API_KEY,
         str(c)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    files = [Path(f"{prefix}-{i}.out") for i in range(c)]
    # Only the bytes appended since the last look are read: reading every file whole
    # every 2 ms took a fifth of a core from the server being measured, on two cores.
    offsets, answered, give_up = [0] * c, 0, time.monotonic() + 30
    while time.monotonic() < give_up and wrk.poll() is None:  # 30 s without an answer: stop
        count = answered
        for i, path in enumerate(files):
            if path.exists() and path.stat().st_size > offsets[i]:
                with path.open("rb") as f:
                    f.seek(offsets[i])
                    fresh = f.read()
                offsets[i] += len(fresh)
                count += fresh.count(b"\n")
        if count >= len(ops):
            break
        if count > answered:
            answered, give_up = count, time.monotonic() + 30
        time.sleep(0.005)
    wrk.send_signal(signal.SIGINT)  # wrk prints its summary on SIGINT
    stdout, _ = wrk.communicate(timeout=30)
    summary = parse_wrk(stdout)
    out.seconds += summary["duration_us"] / 1e6
    seen: set[int] = set()
    for path in files:
        for line in path.read_text().splitlines():
            index, status, body = line.split("\t", 2)
            if int(index) < 0 or int(index) in seen:
                # an answer naming no request (or one answered twice): the server or the
                # wire broke the one-answer-per-request rule; never credit it to anyone
                raise SystemExit(f"WRONG: an answer matching no request: {status} {body[:200]}")
            op = ops[int(index)]
            seen.add(int(index))
            if status.startswith("2"):
                out.ok += 1
                op.absorb(json.loads(body))
            else:
                op.round.failed = True
                out.failed += 1
                out.note_error(f"{op.name}: {status} {body}")
    for n, op in enumerate(ops):
        if n not in seen:
            op.round.failed = True
    weight = summary["requests"] / 100
    out.latencies_ms += [q / 1000 for q in summary["quantiles_us"]]
    out.weights += [weight] * 100


def run_mix(rounds: int, fire_with: EscrowLedger, execute: Any) -> Outcome:
    """The six phases for ``rounds`` new rounds; deadlines fired untimed before phase 6."""
    out = Outcome()
    state = [Round() for _ in range(rounds)]
    for phase in range(1, PHASES + 1):
        if phase == PHASES:
            fire_deadlines(fire_with, [r for r in state if not r.failed])
        ops = ops_for(phase, state)
        if ops:
            execute(ops, out)
    return out


def server_env(url: str, workers: int, max_connections: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    return {**env, "PYTHONPATH": str(ROOT), "LEDGER_DATABASE_URL": url,
            "LEDGER_API_KEYS": f"{API_KEY}:commands+read+audit+finance",
            "LEDGER_LOG_FORMAT": "json",
            "LEDGER_POOL_SIZE": str(max(4, -(-max_connections // workers)))}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.http_mix", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", default="1,4,16", help="client concurrency (1,4,16)")
    ap.add_argument("--server-workers", default="1,2,4",
                    help="`ledger serve --workers N` (1,2,4); N > 2 only from 4N connections")
    ap.add_argument("--rounds", type=int, default=16,
                    help="rounds per case: this x connections / 4, at least this (16)")
    ap.add_argument("--runs", type=int, default=3, help="figures are medians (default 3)")
    ap.add_argument("--bare-seconds", type=float, default=1.5)
    ap.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                             DEFAULT_ADMIN_URL))
    ap.add_argument("--quick", action="store_true", help="1 connection, 1 worker, 3 rounds")
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    if args.quick:
        args.connections, args.server_workers, args.rounds, args.runs = "1", "1", 3, 1
        args.bare_seconds = 1.0
    args.connections = [int(c) for c in args.connections.split(",")]
    args.server_workers = [int(w) for w in args.server_workers.split(",")]
    return args


def rounds_for(args: argparse.Namespace, connections: int) -> int:
    return args.rounds if args.quick else max(args.rounds, args.rounds * connections // 4)


def measure(args: argparse.Namespace, stores: Stores, workdir: Path) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    inproc: dict[tuple[int, int], Outcome] = {}
    for run in range(1, args.runs + 1):
        for c in args.connections:
            app = EscrowLedger(store_from_url(stores.url("postgres", f"in_r{run}_c{c}"),
                                              pool_size=c).env)
            try:
                out = run_mix(rounds_for(args, c), app,
                              lambda ops, o, app=app, c=c: _in_process(app, ops, c, o))
            finally:
                app.close()
            inproc[(run, c)] = out
            print(f"  run {run} in-process c{c}: {out.per_s:.1f} cmds/s", flush=True)
    for workers in args.server_workers:
        conns = [c for c in args.connections if workers <= max(2, c // 4)]
        if not conns:
            continue
        url = stores.url("postgres", f"http_{workers}w")
        fire_app = EscrowLedger(store_from_url(url, pool_size=1).env)
        port = free_port()
        command = [sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(port),
                   "--workers", str(workers)]
        try:
            with serving(command, server_env(url, workers, max(conns)),
                         workdir / f"ledger-{workers}w.log", port, workers):
                base, widest = f"http://127.0.0.1:{port}", max(conns)
                run_mix(2 * widest, fire_app,  # warm-up, untimed: imports, pools
                        lambda ops, o, base=base, c=widest: _over_http(
                            base, ops, c, workdir, o))
                for run in range(1, args.runs + 1):
                    for c in conns:
                        out = run_mix(rounds_for(args, c), fire_app,
                                      lambda ops, o, base=base, c=c: _over_http(
                                          base, ops, c, workdir, o))
                        results.append(_row("http", workers, c, run, out,
                                            inproc.get((run, c))))
                        print(f"  run {run} http {workers}w c{c}: {out.per_s:.1f} req/s"
                              f"{f', {out.failed} FAILED' if out.failed else ''}", flush=True)
        finally:
            fire_app.close()
        with bare_server(workers, workdir) as bare_url:
            wrk_fixed(bare_url, 1, 1)
            for run in range(1, args.runs + 1):
                for c in conns:
                    bare = wrk_fixed(bare_url, c, args.bare_seconds)
                    for row in results:
                        if (row["server_workers"], row["connections"], row["run"]) == (
                                workers, c, run):
                            row["bare_per_s"] = bare["requests_per_s"]
    for (run, c), out in inproc.items():
        results.append(_row("in-process", 0, c, run, out, None))
    return results


def _row(kind: str, workers: int, c: int, run: int, out: Outcome,
         inproc: Outcome | None) -> dict[str, Any]:
    return {"kind": kind, "server_workers": workers, "connections": c, "run": run,
            "per_s": out.per_s, "ok": out.ok, "failed": out.failed, "seconds": out.seconds,
            "p50_ms": out.quantile(50), "p99_ms": out.quantile(99), "errors": out.errors,
            "in_process_per_s": None if inproc is None else inproc.per_s,
            "ratio_to_in_process": ratio(out.per_s, inproc.per_s if inproc else None),
            "bare_per_s": None}


def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = dict.fromkeys((r["kind"], r["server_workers"], r["connections"]) for r in results)
    rows = []
    for kind, workers, c in keys:
        runs = [r for r in results if (r["kind"], r["server_workers"], r["connections"]) ==
                (kind, workers, c)]

        def med(name: str, runs: list[dict[str, Any]] = runs) -> float:
            return median([r[name] for r in runs if r[name] is not None])

        rows.append({"kind": kind, "server_workers": workers, "connections": c,
                     "runs": len(runs), "per_s": med("per_s"), "p50_ms": med("p50_ms"),
                     "p99_ms": med("p99_ms"), "failed": sum(r["failed"] for r in runs),
                     "in_process_per_s": med("in_process_per_s"),
                     "ratio_to_in_process": med("ratio_to_in_process"),
                     "bare_per_s": med("bare_per_s")})
    return rows


HEADER = ["mode", "processes", "connections", "cmds/s", "p50 ms", "p99 ms", "failed",
          "in-process cmds/s", "http/in-process", "bare req/s"]


def table(rows: list[dict[str, Any]]) -> str:
    return render_table(HEADER, [[
        r["kind"], str(r["server_workers"] or "-"), str(r["connections"]), fmt(r["per_s"]),
        fmt(r["p50_ms"], ".2f"), fmt(r["p99_ms"], ".2f"), str(r["failed"]),
        fmt(r["in_process_per_s"]), fmt(r["ratio_to_in_process"], ".2f"),
        fmt(r["bare_per_s"])] for r in sorted(rows, key=lambda r: (
            r["kind"] != "in-process", r["connections"], r["server_workers"]))])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = datetime.now(UTC)
    print(f"escrow-ledger HTTP mix (scenario 3 and several processes), "
          f"{started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, code {_git_revision()}")
    print(f"  {_server_info(args.postgres_url)}; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="escrow_http_") as tmp, \
            postgres_database(args.postgres_url, f"escrow_http_{os.getpid()}") as db_url:
        results = measure(args, Stores(db_url, tmp), Path(tmp))
    rows = summarise(results)
    print(f"\nCommand mix over HTTP vs in process, medians of {args.runs} run(s); load "
          f"average now {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(table(rows))
    failed = [r for r in results if r["failed"]]
    for r in failed:
        print(f"FAILURES in {r['kind']} {r['server_workers']}w c{r['connections']} run "
              f"{r['run']}: {list(r['errors'].items())[:3]}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"scenario": "http_mix", "started": started.isoformat(),
                       "runs": args.runs, "cores": os.cpu_count(), "summary": rows,
                       "results": results}, f, indent=2, default=str)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
