"""The ``ledger`` command line and the scheduler job, on a real store."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from decimal import Decimal

import pytest

from domain.money import money
from entrypoints.cli import main
from entrypoints.demo import seed_demo
from entrypoints.scheduler import start_scheduler
from ledger.application import EscrowLedger
from projections.runner import ProjectionRunner
from reconciliation.replay import compare_with_projection


def test_the_demo_seeds_once_and_leaves_the_books_balanced(app: EscrowLedger) -> None:
    lines = seed_demo(app)
    assert any("450.00 pending for freelancer-ada" in line for line in lines)
    assert any("GET /v1/disputes/dsp_" in line for line in lines)
    position = app.position()
    assert seed_demo(app) == [f"log already holds {position} events: demo not seeded"]
    assert app.position() == position
    projector = ProjectionRunner(app)
    projector.catch_up()
    report = compare_with_projection(app, projector.queries)
    assert report.ok, report
    pending = projector.queries.balance("freelancer:freelancer-ada:pending")
    assert pending[0].balance == Decimal("450.00")


def test_cli_seed_tick_and_trial_balance(
        database_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    assert main(["seed-demo"]) == 0
    assert "opened fixed-price contract" in capsys.readouterr().out
    assert main(["tick"]) == 0
    assert "fired 0 due deadline(s)" in capsys.readouterr().out
    assert main(["trial-balance"]) == 0
    out = capsys.readouterr().out
    assert "freelancer:freelancer-ada:pending" in out
    assert "USD 0.00" in out
    assert main(["rebuild-projections"]) == 0
    assert "0 break(s) against a replay" in capsys.readouterr().out


def test_the_scheduler_job_fires_due_deadlines_by_itself(
        app: EscrowLedger, clock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="entrypoints.scheduler")
    cid = app.open_contract(client_id="c1", freelancer_id="f1", currency="USD",
                            actor="t").response["contract_id"]
    mid = app.add_milestone(contract_id=cid, title="m", amount=money("500.00", "USD"),
                            actor="t").response["milestone_id"]
    app.fund_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    clock.advance(timedelta(days=5))
    projector = ProjectionRunner(app)
    scheduler = start_scheduler(app, projector, interval_seconds=1)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            balance = app.find_freelancer_balance("f1")
            if balance is not None and balance.available_in("USD").amount > 0:
                break
            time.sleep(0.1)
    finally:
        scheduler.shutdown(wait=True)
    balance = app.find_freelancer_balance("f1")
    assert balance is not None
    assert balance.available_in("USD") == money("450.00", "USD")
    # one log line per fired deadline, with what an operator needs to find it in the log
    [line] = [r for r in caplog.records if getattr(r, "deadline_id", None)]
    assert (line.outcome, line.kind) == ("fired", "security_period")  # type: ignore[attr-defined]
    assert line.position == app.position()  # type: ignore[attr-defined]


def test_a_server_seeds_no_demo_unless_asked(
        database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from entrypoints.cli import prepare_ledger
    from ledger.settings import Settings

    plain = prepare_ledger(Settings(database_url=database_url), demo=False)
    assert plain.position() == 0, "a production store must never receive demo contracts"
    plain.close()
    demo = prepare_ledger(Settings(database_url=database_url), demo=True)
    assert demo.position() > 0
    assert "demo: opened fixed-price contract" in capsys.readouterr().out
    demo.close()


def test_serve_warns_loudly_when_the_test_clock_is_on(
        database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from entrypoints.cli import prepare_ledger
    from ledger.settings import Settings

    app = prepare_ledger(Settings(database_url=database_url, test_clock=True), demo=False)
    assert "TEST CLOCK" in capsys.readouterr().err
    app.close()


def test_serve_refuses_several_workers_on_a_memory_database(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Each process would hold its own empty database: refused before anything starts."""
    import argparse

    from entrypoints.serve import serve

    monkeypatch.setenv("LEDGER_DATABASE_URL", "sqlite:///:memory:")
    args = argparse.Namespace(host="127.0.0.1", port=0, workers=2, demo=False)
    assert serve(args) == 2
    assert "--workers N needs a database the processes share" in capsys.readouterr().err
