"""Scenario 1: the yardsticks every other figure is divided by, measured on this machine.

* **pgbench TPC-B** on the same PostgreSQL server at 1, 4 and 16 clients (what a
  hand-written SQL write transaction costs here);
* **a bare FastAPI endpoint** under ``wrk``, served the way ``ledger serve`` serves
  (uvicorn on uvloop and httptools, 1 and 2 worker processes): ``POST /echo``, a
  synchronous route (run in the thread pool, as ours are) validating a small
  pydantic body and answering JSON. No store, no auth, no middleware: the HTTP
  floor our API is built on.

Run: ``.venv/bin/python -m benchmarks.yardsticks`` (about 1.5 minutes),
``--quick`` for a smoke run. Also imported by ``benchmarks.http_mix`` to serve
and load the bare endpoint beside the ledger in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from benchmarks.fixed_price_flow import (
    DEFAULT_ADMIN_URL,
    _git_revision,
    _server_info,
    postgres_database,
    render_table,
    run_pgbench,
)
from benchmarks.mix import fmt, median

ROOT = Path(__file__).resolve().parent.parent
WRK_DIR = Path(__file__).resolve().parent / "wrk"
BARE_BODY = json.dumps({"client_id": "client-1", "amount": {"amount": "500.00",
                                                              "currency": "USD"}})


class _Money(BaseModel):
    amount: str
    currency: str


class _Echo(BaseModel):
    client_id: str
    amount: _Money


app = FastAPI()


@app.post("/echo")
def echo(body: _Echo) -> dict[str, Any]:
    return {"client_id": body.client_id, "amount": body.amount.model_dump(), "position": 1}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path,
                   timeout: float = 90.0, ready: str | None = None, count: int = 1) -> None:
    """Until ``port`` accepts and (``ready``) that log line appeared ``count`` times."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text(errors='replace')[-3000:]}")
        text = log.read_text(errors="replace") if ready else ""
        if ready is None or text.count(ready) >= count:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port),
                                                                        timeout=0.5):
                return
        time.sleep(0.1)
    raise RuntimeError(f"server on {port} not ready:\n{log.read_text(errors='replace')[-3000:]}")


@contextmanager
def serving(command: list[str], env: dict[str, str], log: Path, port: int,
            workers: int) -> Iterator[subprocess.Popen[bytes]]:
    """A server process (its own process group), stopped with its workers at the end."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=log.parent, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    try:
        wait_listening(port, process, log, ready="Application startup complete",
                       count=workers)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@contextmanager
def bare_server(workers: int, workdir: Path) -> Iterator[str]:
    """The bare endpoint under uvicorn with uvloop and httptools; yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "benchmarks.yardsticks:app", "--port",
               str(port), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
               "--log-level", "info", "--workers", str(workers)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with serving(command, env, workdir / f"bare-{workers}w.log", port, workers):
        yield f"http://127.0.0.1:{port}"


def parse_wrk(stdout: str) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith("WRK-JSON "):
            data: dict[str, Any] = json.loads(line.removeprefix("WRK-JSON "))
            return data
    raise RuntimeError(f"no summary from wrk:\n{stdout}")


def wrk_fixed(url: str, connections: int, seconds: float) -> dict[str, Any]:
    """``wrk`` on the bare endpoint: requests/s, p50/p99 ms."""
    threads = max(1, min(connections, os.cpu_count() or 1))
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
         "-s", str(WRK_DIR / "fixed.lua"), f"{url}/echo", "--", "POST", BARE_BODY],
        capture_output=True, text=True, timeout=seconds + 60, check=True)
    data = parse_wrk(out.stdout)
    errors = sum(data[k] for k in ("connect_errors", "read_errors", "write_errors",
                                   "status_errors", "timeouts"))
    return {"requests_per_s": data["requests"] / (data["duration_us"] / 1e6),
            "p50_ms": data["p50_us"] / 1000, "p99_ms": data["p99_us"] / 1000,
            "errors": errors}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.yardsticks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0, help="per measurement (default 3)")
    ap.add_argument("--runs", type=int, default=3, help="figures are medians (default 3)")
    ap.add_argument("--clients", default="1,4,16", help="pgbench clients = wrk connections")
    ap.add_argument("--server-workers", default="1,2", help="bare server processes (1,2)")
    ap.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                             DEFAULT_ADMIN_URL))
    ap.add_argument("--pgbench", default=shutil.which("pgbench") or "/usr/bin/pgbench")
    ap.add_argument("--no-pgbench", action="store_true")
    ap.add_argument("--quick", action="store_true", help="1 s, 1 run, 1 connection, no pgbench")
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    if args.quick:
        args.seconds, args.runs, args.clients, args.server_workers = 1.0, 1, "1", "1"
        args.no_pgbench = True
    args.clients = [int(c) for c in args.clients.split(",")]
    args.server_workers = [int(w) for w in args.server_workers.split(",")]
    return args


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    pgb: dict[int, list[float]] = {c: [] for c in args.clients}
    bare: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for run in range(1, args.runs + 1):
        if not args.no_pgbench:
            name = f"escrow_yardpgb_{os.getpid()}"
            with postgres_database(args.postgres_url, name):
                for c, r in run_pgbench(args.pgbench, args.postgres_url, name, args.clients,
                                        args.seconds, os.cpu_count() or 1).items():
                    pgb[c].append(r.tps)
        for workers in args.server_workers:
            with bare_server(workers, workdir) as url:
                wrk_fixed(url, 1, 1)  # warm-up
                for c in args.clients:
                    result = wrk_fixed(url, c, args.seconds)
                    bare.setdefault((workers, c), []).append(result)
                    print(f"  run {run} bare {workers}w c{c}: "
                          f"{result['requests_per_s']:.0f} req/s", flush=True)
    return {
        "pgbench": [{"clients": c, "tps": median(v), "runs": v} for c, v in pgb.items() if v],
        "bare": [{"server_workers": w, "connections": c,
                  "requests_per_s": median([r["requests_per_s"] for r in v]),
                  "p50_ms": median([r["p50_ms"] for r in v]),
                  "p99_ms": median([r["p99_ms"] for r in v]),
                  "errors": sum(r["errors"] for r in v)} for (w, c), v in bare.items()],
    }


def main(argv: list[str] | None = None) -> int:
    import tempfile

    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = datetime.now(UTC)
    print(f"escrow-ledger yardsticks (scenario 1), {started:%Y-%m-%d %H:%M} UTC, "
          f"{os.cpu_count()} cores, code {_git_revision()}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if not args.no_pgbench:
        print(f"  {_server_info(args.postgres_url)}")
    with tempfile.TemporaryDirectory(prefix="escrow_yard_") as tmp:
        result = measure(args, Path(tmp))
    print(f"\nYardsticks, medians of {args.runs} run(s) of {args.seconds:g} s")
    if result["pgbench"]:
        print(render_table(["clients", "pgbench TPC-B tps"],
                           [[str(r["clients"]), fmt(r["tps"])] for r in result["pgbench"]]))
    print()
    print(render_table(
        ["server processes", "connections", "bare req/s", "p50 ms", "p99 ms", "errors"],
        [[str(r["server_workers"]), str(r["connections"]), fmt(r["requests_per_s"]),
          fmt(r["p50_ms"], ".2f"), fmt(r["p99_ms"], ".2f"), str(r["errors"])]
         for r in result["bare"]]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"scenario": "yardsticks", "started": started.isoformat(),
                       "seconds": args.seconds, "runs": args.runs, "cores": os.cpu_count(),
                       **result}, f, indent=2)
    return 1 if any(r["errors"] for r in result["bare"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
