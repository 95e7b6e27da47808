"""A soak over HTTP (``make test-slow``, not CI): throughput and memory over time.

A real ``ledger serve`` on PostgreSQL (SQLite without it) takes fixed-price flows
(open, add a $500.00 milestone, fund, approve) from a few client threads for
``LEDGER_SOAK_SECONDS`` (default 1,800: 30 minutes). Every ``LEDGER_SOAK_EVERY``
seconds (default 60) it prints a row: commands/s, p50/p99 latency, the
server's resident memory and the log's position. It fails on any 5xx, on a
trial balance that is not zero at the end, or on memory that keeps growing
(the last quarter's peak more than 1.5 x the first quarter's peak).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_http_contract import ROOT, _free_port
from tests.conftest import REQUIRE_POSTGRES, fresh_store, require_backend

pytestmark = pytest.mark.slow

KEY = "soak-key-000000000001"
SECONDS = float(os.environ.get("LEDGER_SOAK_SECONDS", "1800"))
EVERY = float(os.environ.get("LEDGER_SOAK_EVERY", "60"))
THREADS = int(os.environ.get("LEDGER_SOAK_THREADS", "4"))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    backend = "postgres"
    try:
        require_backend(backend)
    except pytest.skip.Exception:
        if REQUIRE_POSTGRES:
            raise
        backend = "sqlite"
    with fresh_store(backend) as url:
        port = _free_port()
        env = {**os.environ, "LEDGER_DATABASE_URL": url, "PYTHONPATH": str(ROOT),
               "LEDGER_API_KEYS": f"{KEY}:commands+read+finance", "LEDGER_LOG_FORMAT": "json"}
        process = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            text=True)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    httpx.get(f"{base}/v1/health", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            print(f"\nsoak: {backend}, {THREADS} threads, {SECONDS:.0f} s")
            yield base, process
        finally:
            process.terminate()
            process.wait(timeout=20)


def test_soak(server: tuple[str, subprocess.Popen[str]]) -> None:
    base, process = server
    headers = {"Authorization": f"Bearer {KEY}"}
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + SECONDS

    def post(client: httpx.Client, path: str, body: object) -> dict[str, object]:
        started = time.perf_counter()
        r = client.post(path, json=body, headers={**headers,
                                                   "Idempotency-Key": uuid.uuid4().hex})
        with lock:
            latencies.append(time.perf_counter() - started)
            if r.status_code >= 500:
                failures.append(f"{r.status_code} {path}: {r.text[:200]}")
        return dict(r.json()) if r.status_code < 300 else {}

    def work() -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while time.monotonic() < stop:
                c = post(client, "/v1/contracts", {"kind": "fixed_price", "client_id": "soak-c",
                                                   "freelancer_id": f"soak-f{uuid.uuid4().hex[:6]}",
                                                   "currency": "USD"}).get("contract_id")
                if not c:
                    continue
                m = post(client, f"/v1/contracts/{c}/milestones", {
                    "title": "m", "amount": {"amount": "500.00", "currency": "USD"}}
                    ).get("milestone_id")
                if m:
                    post(client, f"/v1/contracts/{c}/milestones/{m}/fund", {})
                    post(client, f"/v1/contracts/{c}/milestones/{m}/approve", {})

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for t in threads:
        t.start()
    rows: list[tuple[float, float, float, float, float, int]] = []
    started = time.monotonic()
    seen = 0
    print(f"{'t (s)':>7} {'cmds/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'RSS MiB':>8} {'position':>9}")
    while any(t.is_alive() for t in threads):
        time.sleep(min(EVERY, max(stop - time.monotonic(), 0.1)))
        with lock:
            window = sorted(latencies[seen:])
            seen = len(latencies)
        elapsed = time.monotonic() - started
        position = int(httpx.get(f"{base}/v1/health", timeout=10).json()["log_position"] or 0)
        p50 = window[len(window) // 2] * 1000 if window else float("nan")
        p99 = window[int(len(window) * 0.99)] * 1000 if window else float("nan")
        row = (elapsed, len(window) / EVERY, p50, p99, rss_mib(process.pid), position)
        rows.append(row)
        print(f"{row[0]:7.0f} {row[1]:8.1f} {row[2]:8.1f} {row[3]:8.1f} {row[4]:8.1f} {row[5]:9d}",
              flush=True)
    for t in threads:
        t.join()
    assert not failures, failures[:5]
    trial = httpx.get(f"{base}/v1/finance/trial-balance", headers=headers, timeout=30).json()
    assert trial["balanced"] is True, trial
    quarter = max(len(rows) // 4, 1)
    first, last = max(r[4] for r in rows[:quarter]), max(r[4] for r in rows[-quarter:])
    print(f"commands {len(latencies)}, median cmds/s "
          f"{statistics.median(r[1] for r in rows):.1f}; RSS first quarter {first:.0f} MiB, "
          f"last quarter {last:.0f} MiB")
    assert last <= first * 1.5, f"memory kept growing: {first:.0f} -> {last:.0f} MiB"
