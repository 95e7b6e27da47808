"""The audit benchmark still runs end to end (tiny figures; nothing about speed is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_audit_benchmark_runs_and_prints_its_tables() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.audit_chain", "--backends", "sqlite",
         "--workers", "1", "--seconds", "0.3", "--events", "1500"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Write cost of the chain" in out.stdout
    table = out.stdout.split("Reading the whole log")[1]
    for work in ("journal rebuild", "verify", "replay"):
        assert f" {work} |" in table, table
    assert "1,546" in out.stdout  # the demo's 46 events and the 1,500 written after them
