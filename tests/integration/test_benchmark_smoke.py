"""Every benchmark still runs end to end (tiny figures; nothing about speed is asserted)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_backend

ROOT = Path(__file__).resolve().parents[2]


def test_the_audit_benchmark_runs_and_prints_its_tables() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.audit_chain", "--backends", "sqlite",
         "--workers", "1", "--seconds", "0.3", "--events", "1500", "--runs", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Write cost of the chain" in out.stdout
    table = out.stdout.split("Reading the whole log")[1]
    for work in ("journal rebuild", "verify", "replay"):
        assert f" {work} |" in table, table
    assert "1,546" in out.stdout  # the demo's 46 events and the 1,500 written after them


def test_the_reads_benchmark_answers_every_read(tmp_path: Path) -> None:
    """A log written in bulk (links computed as the recorder does: verify must pass), the
    projections rebuilt over it, and every read answered 200 through the API."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.reads", "--backends", "sqlite", "--events", "1500",
         "--requests", "5", "--runs", "1", "--json", str(tmp_path / "reads.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    [store] = json.loads((tmp_path / "reads.json").read_text())
    assert store["events"] == 1546, store
    assert store["chain_verified"] == 1546, store
    assert {r["read"] for r in store["reads"]} >= {"account balance as of", "contract events"}
    assert all(r["p50_ms"] > 0 for r in store["reads"]), store


def test_the_command_mix_benchmark_runs_and_prints_its_table(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.command_mix", "--quick", "--json",
         str(tmp_path / "mix.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "| sqlite  |       1 |" in out.stdout, out.stdout
    summary = json.loads((tmp_path / "mix.json").read_text())["summary"]
    assert summary[0]["commands_per_s"] > 0, summary
    assert summary[0]["errors"] == 0, summary


def test_the_command_mix_spreads_its_workers_over_processes(tmp_path: Path) -> None:
    """Two processes, one worker each, on one PostgreSQL store: both counted, no error."""
    require_backend("postgres")
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.command_mix", "--backends", "postgres",
         "--workers", "2", "--processes", "2", "--seconds", "0.5", "--runs", "1",
         "--no-pgbench", "--json", str(tmp_path / "mix.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    rows = {(r["workers"], r["processes"]): r
            for r in json.loads((tmp_path / "mix.json").read_text())["summary"]}
    assert set(rows) == {(2, 1), (2, 2)}, rows
    spread = rows[(2, 2)]
    assert spread["commands_per_s"] > 0, spread
    assert spread["events_per_s"] > 0, spread
    assert spread["errors"] == 0, spread
    assert "| postgres |       2 |         2 |" in out.stdout, out.stdout


def test_the_http_benchmark_serves_the_mix_through_wrk(tmp_path: Path) -> None:
    """`ledger serve` and the bare endpoint under wrk, the mix's phases chained on the ids
    answered: every command answered 2xx (a lost or misread answer fails a later phase)."""
    require_backend("postgres")
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed")
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.http_mix", "--quick", "--json",
         str(tmp_path / "http.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    rows = {r["kind"]: r for r in json.loads((tmp_path / "http.json").read_text())["summary"]}
    assert rows["http"]["failed"] == 0, rows
    assert rows["http"]["per_s"] > 0, rows
    assert rows["http"]["bare_per_s"] > 0, rows
    assert rows["in-process"]["per_s"] > 0, rows


def test_the_monday_burst_benchmark_invoices_every_week_and_checks_the_books(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """In process (no interpreter start-up): 40 contracts; the benchmark itself refuses to
    print a figure unless processor clearing holds 214.95 per invoice and the books
    balance."""
    from benchmarks import monday_burst

    assert monday_burst.main(["--contracts", "40", "--sample", "10", "--batch-sizes", "1,20",
                              "--backends", "sqlite", "--json",
                              str(tmp_path / "burst.json")]) == 0
    [store] = json.loads((tmp_path / "burst.json").read_text())
    assert store["batched"]["invoices"] == 40, store
    assert store["single"]["invoices"] == 10, store
    assert [b["batch"] for b in store["build_by_batch"]] == [1, 20]
    assert "invoices/s (batches)" in capsys.readouterr().out


def test_the_long_history_benchmark_compares_a_long_contract_with_a_new_one(
        tmp_path: Path) -> None:
    from benchmarks import long_history

    assert long_history.main(["--events", "300", "--repeats", "4", "--backends", "sqlite",
                              "--json", str(tmp_path / "long.json")]) == 0
    [store] = json.loads((tmp_path / "long.json").read_text())
    assert store["events"] == 301, store  # opened, then 300 time entries
    assert store["new_ms"] > 0, store
    assert store["long_ms"] > 0, store
