"""Fixed-price flow throughput, next to the bare library and pgbench's TPC-B.

Run from the repository root::

    .venv/bin/python -m benchmarks.fixed_price_flow                # defaults, ~2 minutes
    .venv/bin/python -m benchmarks.fixed_price_flow --seconds 5    # quicker
    .venv/bin/python -m benchmarks.fixed_price_flow --profile --backends postgres --seconds 5

For every backend and worker count it measures, on a fresh store each time:

* **ours** -- the fixed-price flow through ``EscrowLedger``: ``open_contract``,
  ``add_milestone`` ($500), ``fund_milestone``, ``submit_work``,
  ``approve_milestone``; five commands, each with its own idempotency key, by N
  threads sharing ONE application instance (PostgreSQL pool size = N);
* **bare** -- the eventsourcing library alone: ``app.save(Tiny())`` per command
  (one new one-event aggregate, no load, no idempotency record), same threads,
  same store settings;

and, on the same PostgreSQL server in the same run, pgbench's built-in TPC-B
(``pgbench -i -s 1`` then ``-c N -j min(N, cores) -T seconds``).

It creates its own PostgreSQL databases (``escrow_bench_<pid>`` and
``escrow_pgbench_<pid>``) and SQLite files in a temporary directory, and removes
them at the end, also on error or Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import platform
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version as dist_version
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from domain.money import money
from ledger.application import EscrowLedger
from ledger.settings import store_from_url

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
FLOW_COMMANDS = (
    "open_contract",
    "add_milestone",
    "fund_milestone",
    "submit_work",
    "approve_milestone",
)
BACKENDS = ("postgres", "sqlite")


# ---- the workloads ---------------------------------------------------------------


class Tiny(Aggregate):
    """The smallest useful aggregate: one Created event with one field."""

    def __init__(self, n: int) -> None:
        self.n = n


class BareLibrary(Application[UUID]):
    """A plain eventsourcing application: no transcodings, no idempotency, no domain."""

    name = "BareLibrary"


def _key() -> str:
    """A fresh idempotency key, as a production client sends with every request."""
    return str(uuid.uuid4())


def flow_steps(app: EscrowLedger) -> list[tuple[str, Callable[[], object]]]:
    """The five commands of one fixed-price flow, between a new client and freelancer.

    Parties are new per flow (many distinct users), so no two workers ever write
    the same Relationship or FreelancerBalance aggregate and no flow loads an
    aggregate that grew during the run.
    """
    tag = uuid.uuid4().hex[:12]
    client, freelancer = f"client-{tag}", f"freelancer-{tag}"
    ids: dict[str, str] = {}

    def open_contract() -> object:
        r = app.open_contract(client_id=client, freelancer_id=freelancer, currency="USD",
                              actor=f"client:{client}", idempotency_key=_key())
        ids["contract"] = r.response["contract_id"]
        return r

    def add_milestone() -> object:
        r = app.add_milestone(contract_id=ids["contract"], title="Fixed-price milestone",
                              amount=money("500.00", "USD"), actor=f"client:{client}",
                              idempotency_key=_key())
        ids["milestone"] = r.response["milestone_id"]
        return r

    def fund_milestone() -> object:
        return app.fund_milestone(contract_id=ids["contract"], milestone_id=ids["milestone"],
                                  actor=f"client:{client}", idempotency_key=_key())

    def submit_work() -> object:
        return app.submit_work(contract_id=ids["contract"], milestone_id=ids["milestone"],
                               actor=f"freelancer:{freelancer}", idempotency_key=_key())

    def approve_milestone() -> object:
        return app.approve_milestone(contract_id=ids["contract"],
                                     milestone_id=ids["milestone"],
                                     actor=f"client:{client}", idempotency_key=_key())

    steps = [open_contract, add_milestone, fund_milestone, submit_work, approve_milestone]
    return list(zip(FLOW_COMMANDS, steps, strict=True))


def run_flow(app: EscrowLedger) -> None:
    for _name, step in flow_steps(app):
        step()


# ---- measuring -------------------------------------------------------------------


@dataclass
class WorkerTally:
    commands: int = 0
    flows: int = 0
    ended_at: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=dict)

    def record(self, name: str, seconds: float) -> None:
        self.latencies.setdefault(name, []).append(seconds)
        self.commands += 1


@dataclass
class CaseResult:
    backend: str
    workers: int
    kind: str  # "ours" | "bare"
    seconds: float
    commands: int
    flows: int
    errors: dict[str, int]
    latency_ms: dict[str, dict[str, float]]  # command (or "all") -> p50/p95/p99/mean/n

    @property
    def commands_per_s(self) -> float:
        return self.commands / self.seconds if self.seconds else 0.0

    @property
    def flows_per_s(self) -> float:
        return self.flows / self.seconds if self.seconds else 0.0


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def latency_summary(values: list[float]) -> dict[str, float]:
    s = sorted(values)
    return {
        "n": float(len(s)),
        "p50": percentile(s, 50) * 1000,
        "p95": percentile(s, 95) * 1000,
        "p99": percentile(s, 99) * 1000,
        "mean": (sum(s) / len(s) * 1000) if s else math.nan,
    }


def _flow_worker(app: EscrowLedger, tally: WorkerTally, deadline: list[float],
                 barrier: threading.Barrier) -> None:
    run_flow(app)  # warm-up: connection, caches; not counted
    barrier.wait()
    clock = time.perf_counter
    end = deadline[0]
    while clock() < end:  # deadline checked between flows, so every flow is whole
        for name, step in flow_steps(app):
            t0 = clock()
            try:
                step()
            except Exception as e:  # counted and reported; the flow is abandoned
                tally.errors[f"{name}: {type(e).__name__}: {e}"[:160]] += 1
                break
            tally.record(name, clock() - t0)
        else:
            tally.flows += 1
    tally.ended_at = clock()


def _bare_worker(app: BareLibrary, tally: WorkerTally, deadline: list[float],
                 barrier: threading.Barrier) -> None:
    app.save(Tiny(0))  # warm-up
    barrier.wait()
    clock = time.perf_counter
    end = deadline[0]
    n = 0
    while clock() < end:
        n += 1
        t0 = clock()
        try:
            app.save(Tiny(n))
        except Exception as e:  # counted and reported
            tally.errors[f"save: {type(e).__name__}: {e}"[:160]] += 1
            continue
        tally.record("save", clock() - t0)
    tally.ended_at = clock()


def run_case(kind: str, app: Any, backend: str, workers: int, seconds: float) -> CaseResult:
    """N threads against one shared application for ``seconds`` of wall time."""
    target = _flow_worker if kind == "ours" else _bare_worker
    deadline = [0.0]
    started = [0.0]

    def release() -> None:  # runs once, when every worker has warmed up
        started[0] = time.perf_counter()
        deadline[0] = started[0] + seconds

    barrier = threading.Barrier(workers, action=release)
    tallies = [WorkerTally() for _ in range(workers)]
    failures: list[BaseException] = []

    def body(tally: WorkerTally) -> None:
        try:
            target(app, tally, deadline, barrier)
        except threading.BrokenBarrierError:
            pass
        except BaseException as e:
            failures.append(e)
            barrier.abort()

    threads = [threading.Thread(target=body, args=(t,), name=f"{kind}-{i}", daemon=True)
               for i, t in enumerate(tallies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError(f"{backend}/{kind}/{workers} workers: a worker failed") \
            from failures[0]

    elapsed = max(t.ended_at for t in tallies) - started[0]
    merged: dict[str, list[float]] = {}
    errors: Counter[str] = Counter()
    for t in tallies:
        errors.update(t.errors)
        for name, values in t.latencies.items():
            merged.setdefault(name, []).extend(values)
    latency = {name: latency_summary(v) for name, v in merged.items()}
    latency["all"] = latency_summary([x for v in merged.values() for x in v])
    return CaseResult(
        backend=backend, workers=workers, kind=kind, seconds=elapsed,
        commands=sum(t.commands for t in tallies), flows=sum(t.flows for t in tallies),
        errors=dict(errors), latency_ms=latency,
    )


# ---- stores -------------------------------------------------------------------------


def _with_db(admin_url: str, dbname: str, query: str = "") -> str:
    p = urlsplit(admin_url)
    return urlunsplit((p.scheme, p.netloc, f"/{dbname}", query, ""))


@contextmanager
def postgres_database(admin_url: str, name: str) -> Iterator[str]:
    """Creates database ``name``, yields its URL, and drops it (FORCE) afterwards."""
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_db(admin_url, name)
    finally:
        try:
            with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.Error as e:  # pragma: no cover - reported, not hidden
            print(f"WARNING: could not drop database {name}: {e}", file=sys.stderr)


class Stores:
    """Hands out a fresh, empty store per case: a schema (PostgreSQL) or a file (SQLite)."""

    def __init__(self, pg_db_url: str | None, sqlite_dir: str) -> None:
        self.pg_db_url = pg_db_url
        self.sqlite_dir = sqlite_dir
        self.n = 0

    def url(self, backend: str, label: str) -> str:
        self.n += 1
        # lower case: eventsourcing looks its composite type up as unquoted schema.name
        name = f"c{self.n:02d}_{label}".lower()
        if backend == "sqlite":
            return f"sqlite:///{os.path.join(self.sqlite_dir, name + '.db')}"
        assert self.pg_db_url is not None
        with psycopg.connect(self.pg_db_url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        return f"{self.pg_db_url}?schema={name}"


def make_app(kind: str, url: str, workers: int) -> Any:
    env = store_from_url(url, pool_size=max(workers, 1)).env
    if kind == "ours":
        return EscrowLedger(env)  # default clock: ledger.clock.SystemClock (wall clock)
    return BareLibrary(env)


# ---- pgbench -------------------------------------------------------------------------


@dataclass
class PgbenchResult:
    clients: int
    threads: int
    tps: float
    latency_avg_ms: float | None


TPS_RE = re.compile(
    r"^tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)",
    re.MULTILINE,
)
LAT_RE = re.compile(r"^latency average = ([0-9.]+) ms", re.MULTILINE)


def _pg_env(admin_url: str) -> dict[str, str]:
    p = urlsplit(admin_url)
    env = dict(os.environ)
    env["PGHOST"] = p.hostname or "127.0.0.1"
    env["PGPORT"] = str(p.port or 5432)
    env["PGUSER"] = unquote(p.username or "postgres")
    if p.password:
        env["PGPASSWORD"] = unquote(p.password)
    return env


def run_pgbench(pgbench: str, admin_url: str, dbname: str, clients: list[int],
                seconds: float, cores: int) -> dict[int, PgbenchResult]:
    env = _pg_env(admin_url)
    init = subprocess.run([pgbench, "-i", "-s", "1", "-q", dbname], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    if init.returncode != 0:
        raise RuntimeError(f"pgbench -i failed:\n{init.stdout}{init.stderr}")
    results: dict[int, PgbenchResult] = {}
    duration = max(1, round(seconds))
    for c in clients:
        j = max(1, min(c, cores))
        cmd = [pgbench, "-c", str(c), "-j", str(j), "-T", str(duration), dbname]
        print(f"  pgbench -c {c} -j {j} -T {duration} ...", flush=True)
        out = subprocess.run(cmd, env=env, capture_output=True, text=True,
                             timeout=duration + 300, check=False)
        match = TPS_RE.search(out.stdout)
        if out.returncode != 0 or match is None:
            raise RuntimeError(f"pgbench run failed ({' '.join(cmd)}):\n{out.stdout}{out.stderr}")
        lat = LAT_RE.search(out.stdout)
        results[c] = PgbenchResult(c, j, float(match.group(1)),
                                   float(lat.group(1)) if lat else None)
    return results


# ---- reporting -----------------------------------------------------------------------


def _fmt(x: float | None, spec: str = ".1f") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return format(x, spec)


def backend_label(backend: str) -> str:
    return "sqlite (1 writer)" if backend == "sqlite" else "postgres"


def summary_rows(ours: list[CaseResult], bare: dict[tuple[str, int], CaseResult],
                 pgb: dict[int, PgbenchResult]) -> list[list[str]]:
    rows = []
    for r in ours:
        b = bare.get((r.backend, r.workers))
        pg = pgb.get(r.workers) if r.backend == "postgres" else None
        lat = r.latency_ms["all"]
        rows.append([
            backend_label(r.backend),
            str(r.workers),
            _fmt(r.commands_per_s),
            _fmt(r.flows_per_s),
            _fmt(lat["p50"], ".2f"),
            _fmt(lat["p95"], ".2f"),
            _fmt(lat["p99"], ".2f"),
            str(sum(r.errors.values())),
            _fmt(b.commands_per_s if b else None),
            _fmt(r.commands_per_s / b.commands_per_s if b and b.commands_per_s else None,
                 ".2f"),
            _fmt(pg.tps if pg else None),
            _fmt(r.commands_per_s / pg.tps if pg and pg.tps else None, ".2f"),
        ])
    return rows


SUMMARY_HEADER = ["backend", "workers", "our cmds/s", "flows/s", "p50 ms", "p95 ms",
                  "p99 ms", "errors", "bare cmds/s", "ours/bare", "pgbench tps",
                  "ours/pgbench"]


TEXT_COLUMNS = frozenset({"backend", "command", "mode"})


def render_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(
            c.ljust(w) if h in TEXT_COLUMNS else c.rjust(w)
            for c, w, h in zip(cells, widths, header, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def per_command_rows(ours: list[CaseResult]) -> list[list[str]]:
    rows = []
    for r in ours:
        for name in (*FLOW_COMMANDS, "all"):
            lat = r.latency_ms.get(name)
            if not lat:
                continue
            rows.append([backend_label(r.backend), str(r.workers), name, str(int(lat["n"])),
                         _fmt(lat["mean"], ".2f"), _fmt(lat["p50"], ".2f"),
                         _fmt(lat["p95"], ".2f"), _fmt(lat["p99"], ".2f")])
    return rows


NOTES = """\
Notes
* our cmds/s  = successful EscrowLedger commands per second of wall time, all workers
                together; one command = load + decide + one atomic save of its events
                and its idempotency record. flows/s = whole 5-command flows per second.
* p50/p95/p99 = per-command latency over all five command types (wall clock, ms).
* bare cmds/s = the eventsourcing library alone: save one new one-event aggregate per
                command (no load, no idempotency, no domain); ours/bare is our share of it.
* workers     = Python threads sharing ONE application instance (PostgreSQL pool size =
                workers); they share the GIL, and client and server share these CPU cores.
* pgbench tps = TPC-B (pgbench -i -s 1; -c N -j min(N, cores)) on the same server in this
                run, excluding connection time; each transaction is 5 SQL statements.
                ours/pgbench compares our commands/s with its transactions/s at equal
                client count: one of our commands is one write transaction plus reads.
* sqlite (1 writer): SQLite lets one writer in at a time (the library serialises writers),
                so extra workers there add queueing, not write parallelism; pgbench does not
                apply to SQLite, hence n/a."""


# ---- profiling ------------------------------------------------------------------------


def profile(backend: str, stores: Stores, seconds: float, top: int) -> None:
    """One worker, the flow in a loop for ``seconds`` under cProfile; prints top functions."""
    app = make_app("ours", stores.url(backend, "profile"), 1)
    try:
        run_flow(app)
        prof = cProfile.Profile()
        flows = 0
        end = time.perf_counter() + seconds
        prof.enable()
        while time.perf_counter() < end:
            run_flow(app)
            flows += 1
        prof.disable()
    finally:
        app.close()
    print(f"\nprofile: {backend}, 1 worker, {flows} flows ({flows * 5} commands) "
          f"in {seconds:.0f} s under cProfile (slower than unprofiled)")
    for key in ("tottime", "cumulative"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(key).print_stats(top)
        print(f"\n--- top {top} by {key} ---")
        print(buf.getvalue().strip())


# ---- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.fixed_price_flow",
        description="Fixed-price flow commands/s vs the bare eventsourcing library and "
                    "pgbench TPC-B on the same PostgreSQL server.",
    )
    ap.add_argument("--seconds", type=float, default=10.0,
                    help="measured seconds per case (default 10)")
    ap.add_argument("--workers", default="1,4",
                    help="comma-separated thread counts (default 1,4)")
    ap.add_argument("--backends", default="postgres,sqlite",
                    help="comma-separated: postgres, sqlite (default both)")
    ap.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                             DEFAULT_ADMIN_URL),
                    help="ADMIN URL; the benchmark creates and drops its own databases "
                         f"(default {DEFAULT_ADMIN_URL})")
    ap.add_argument("--pgbench", default=shutil.which("pgbench") or "/usr/bin/pgbench",
                    help="pgbench executable")
    ap.add_argument("--no-pgbench", action="store_true", help="skip the pgbench TPC-B runs")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument("--profile", action="store_true",
                    help="instead of the table: profile 1 worker on the first backend with "
                         "cProfile for --seconds and print the top functions")
    ap.add_argument("--profile-top", type=int, default=25)
    args = ap.parse_args(argv)
    try:
        args.workers = sorted({int(w) for w in args.workers.split(",") if w.strip()})
    except ValueError:
        ap.error("--workers must be comma-separated integers, e.g. 1,4")
    if not args.workers or min(args.workers) < 1:
        ap.error("--workers must be positive integers")
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - set(BACKENDS)
    if unknown or not args.backends:
        ap.error(f"--backends must be from {', '.join(BACKENDS)}")
    if args.seconds <= 0:
        ap.error("--seconds must be positive")
    if ("postgres" in args.backends and not args.no_pgbench and not args.profile
            and shutil.which(args.pgbench) is None):
        ap.error(f"pgbench not found at {args.pgbench!r}; pass --pgbench PATH or --no-pgbench")
    return args


def _server_info(admin_url: str) -> str:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT current_setting('server_version'), current_setting('synchronous_commit'),"
            " current_setting('fsync'), current_setting('shared_buffers')"
        ).fetchone()
    assert row is not None
    return (f"PostgreSQL {row[0]} (synchronous_commit={row[1]}, fsync={row[2]}, "
            f"shared_buffers={row[3]})")


def _git_revision() -> str:
    """Read-only: which commit was measured, and whether the tree had local changes."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5,
                               check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{rev}{' + local changes' if dirty else ''}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM -> SystemExit, so the finally blocks drop the databases.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cores = os.cpu_count() or 1
    use_pg = "postgres" in args.backends
    pid = os.getpid()
    started = datetime.now(UTC)

    print(f"escrow-ledger fixed-price flow benchmark, {started:%Y-%m-%d %H:%M} UTC")
    print(f"  Python {platform.python_version()}, eventsourcing {dist_version('eventsourcing')}, "
          f"psycopg {dist_version('psycopg')}, {cores} CPU cores, {platform.machine()}")
    if use_pg:
        print(f"  {_server_info(args.postgres_url)}")
    print(f"  code {_git_revision()}; load average at start "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"  {args.seconds:g} s per case; workers {args.workers}; "
          f"backends {args.backends}", flush=True)

    with tempfile.TemporaryDirectory(prefix="escrow_bench_") as sqlite_dir:
        if use_pg:
            with postgres_database(args.postgres_url, f"escrow_bench_{pid}") as db_url:
                return _run(args, Stores(db_url, sqlite_dir), cores, pid, started)
        return _run(args, Stores(None, sqlite_dir), cores, pid, started)


def _run(args: argparse.Namespace, stores: Stores, cores: int, pid: int,
         started: datetime) -> int:
    if args.profile:
        profile(args.backends[0], stores, args.seconds, args.profile_top)
        return 0

    pgb: dict[int, PgbenchResult] = {}
    if "postgres" in args.backends and not args.no_pgbench:
        print("\npgbench TPC-B (scale 1) on the same server:", flush=True)
        with postgres_database(args.postgres_url, f"escrow_pgbench_{pid}"):
            pgb = run_pgbench(args.pgbench, args.postgres_url, f"escrow_pgbench_{pid}",
                              args.workers, args.seconds, cores)
        for c, r in pgb.items():
            print(f"    -c {c} -j {r.threads}: {r.tps:.1f} tps, "
                  f"latency average {_fmt(r.latency_avg_ms, '.3f')} ms")

    ours: list[CaseResult] = []
    bare: dict[tuple[str, int], CaseResult] = {}
    for backend in args.backends:
        for workers in args.workers:
            for kind in ("ours", "bare"):
                print(f"\n{backend} / {workers} worker(s) / {kind} ...", end=" ", flush=True)
                app = make_app(kind, stores.url(backend, f"{kind}_{workers}w"), workers)
                try:
                    result = run_case(kind, app, backend, workers, args.seconds)
                finally:
                    app.close()
                print(f"{result.commands_per_s:.1f} cmds/s"
                      + (f", {result.flows_per_s:.1f} flows/s" if kind == "ours" else "")
                      + (f", {sum(result.errors.values())} ERRORS" if result.errors else ""),
                      end="", flush=True)
                if kind == "ours":
                    ours.append(result)
                else:
                    bare[(backend, workers)] = result
    print("\n")

    print(f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(other work on this machine makes every figure noisier)\n")
    print(f"Fixed-price flow, {started:%Y-%m-%d}, {args.seconds:g} s per case, "
          f"{cores} cores")
    print(render_table(SUMMARY_HEADER, summary_rows(ours, bare, pgb)))
    print("\nPer command (ours):")
    print(render_table(["backend", "workers", "command", "n", "mean ms", "p50 ms", "p95 ms",
                        "p99 ms"], per_command_rows(ours)))
    print()
    print(NOTES)

    failed = [(r.backend, r.workers, r.kind, r.errors)
              for r in [*ours, *bare.values()] if r.errors]
    for backend, workers, kind, errors in failed:
        print(f"\nERRORS in {backend}/{workers} workers/{kind}:", file=sys.stderr)
        for msg, n in sorted(errors.items(), key=lambda kv: -kv[1])[:10]:
            print(f"  {n} x {msg}", file=sys.stderr)

    if args.json:
        with open(args.json, "w") as f:
            json.dump({
                "started": started.isoformat(), "seconds": args.seconds, "cores": cores,
                "ours": [asdict(r) for r in ours],
                "bare": [asdict(r) for r in bare.values()],
                "pgbench": [asdict(r) for r in pgb.values()],
            }, f, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
