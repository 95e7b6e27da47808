"""``ledger audit replay --as-of``: the books as of any moment, rebuilt from the raw log alone.

One history on the test clock: $500.00 funded by card on Monday 2 March 09:00
(client charged 534.95: 5% marketplace fee 25.00 and the 9.95 initiation fee,
deferred), approved on Thursday 5 March 09:00 (450.00 pending after the 10%
service fee), available on Tuesday 10 March 09:00 when the deadline fires.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from domain.errors import ConcurrencyConflict
from entrypoints.cli import main
from entrypoints.scheduler import tick
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from projections.runner import ProjectionRunner
from reconciliation.as_of import Difference, replay_as_of
from tests.integration.support import funded


def history(app: EscrowLedger, clock: FakeClock, projector: ProjectionRunner) -> None:
    cid, [mid] = funded(app, ["500.00"])
    clock.advance(timedelta(days=3))
    app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    clock.advance(timedelta(days=5, hours=1))
    projector.catch_up()
    assert len(tick(app, projector)) >= 1
    projector.catch_up()


def scratch_balances(path: Path) -> dict[str, Decimal]:
    """Normal-side-free view straight from the scratch file: debits - credits in dollars."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT account, debits_minor - credits_minor FROM account_balances "
                          "WHERE currency = 'USD'").fetchall()
    return {account: Decimal(net) / 100 for account, net in rows}


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def test_the_books_as_of_each_moment_from_the_raw_log(
        app: EscrowLedger, clock: FakeClock, projector: ProjectionRunner,
        tmp_path: Path) -> None:
    history(app, clock, projector)

    before = replay_as_of(app, projector.queries, at(1), tmp_path / "before.sqlite")
    assert before.ok, before
    assert (before.postings, before.accounts, before.position) == (0, 0, app.position())
    assert before.events == app.position()

    funded_only = replay_as_of(app, projector.queries, at(3), tmp_path / "funded.sqlite")
    assert funded_only.ok, funded_only
    books = scratch_balances(tmp_path / "funded.sqlite")
    escrow = {a: v for a, v in books.items() if a.startswith("escrow:")}
    assert list(escrow.values()) == [Decimal("-500.00")]  # a liability: credit 500.00
    assert books["processor:clearing"] == Decimal("534.95")
    assert books["revenue:marketplace_fee"] == Decimal("-25.00")
    deferred = [v for a, v in books.items() if a.startswith("deferred:initiation_fee:")]
    assert deferred == [Decimal("-9.95")]
    assert "freelancer:f1:pending" not in books
    assert funded_only.trial_balance == {"USD": Decimal("0.00")}

    approved = replay_as_of(app, projector.queries, at(6), tmp_path / "approved.sqlite")
    assert approved.ok, approved
    books = scratch_balances(tmp_path / "approved.sqlite")
    assert books["freelancer:f1:pending"] == Decimal("-450.00")
    assert books["revenue:service_fee"] == Decimal("-50.00")
    assert "freelancer:f1:available" not in books

    everything = replay_as_of(app, projector.queries, None, tmp_path / "all.sqlite")
    assert everything.ok, everything
    books = scratch_balances(tmp_path / "all.sqlite")
    assert books["freelancer:f1:available"] == Decimal("-450.00")
    assert books["freelancer:f1:pending"] == Decimal("0.00")


def test_a_tampered_live_projection_is_listed_account_by_account(
        app: EscrowLedger, clock: FakeClock, projector: ProjectionRunner,
        tmp_path: Path) -> None:
    history(app, clock, projector)
    view = projector.journal.view
    with view.datastore.transaction(commit=True) as c:  # type: ignore[attr-defined]
        c.execute(view.sql("UPDATE {postings} SET amount_minor = amount_minor + 100 "
                           "WHERE account = %s"), ["revenue:service_fee"])
        c.execute(view.sql("DELETE FROM {postings} WHERE account = %s"),
                  ["freelancer:f1:available"])
    report = replay_as_of(app, projector.queries, at(11), tmp_path / "scratch.sqlite")
    assert not report.ok
    assert report.differences == [
        Difference("freelancer:f1:available", "USD", Decimal("450.00"), Decimal("0.00")),
        Difference("revenue:service_fee", "USD", Decimal("50.00"), Decimal("51.00")),
    ]
    assert report.trial_balance == {"USD": Decimal("0.00")}
    # before the approval, the tampered accounts held nothing in either: no difference then
    assert replay_as_of(app, projector.queries, at(3), tmp_path / "early.sqlite").ok


def test_the_scratch_store_is_never_an_existing_file(
        app: EscrowLedger, projector: ProjectionRunner, tmp_path: Path) -> None:
    existing = tmp_path / "keep.sqlite"
    existing.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        replay_as_of(app, projector.queries, None, existing)
    assert existing.read_bytes() == b"precious"


def test_the_command_line_replays_as_of_a_time_and_exits_on_differences(
        database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    assert main(["seed-demo"]) == 0
    capsys.readouterr()
    keep = tmp_path / "books.sqlite"
    assert main(["audit", "replay", "--as-of", "2100-01-01T00:00:00Z", "--keep", str(keep)]) == 0
    out = capsys.readouterr().out
    assert "0 difference(s) against the live projection" in out
    assert "USD 0.00" in out
    assert f"scratch store kept at {keep}" in out
    assert scratch_balances(keep)  # the demo's books, queryable by the auditor
    assert main(["audit", "replay"]) == 0
    assert main(["audit", "replay", "--as-of", "2026-03-05"]) == 2
    assert "has no time zone" in capsys.readouterr().err
    assert main(["audit", "replay", "--as-of", "yesterday"]) == 2
    assert main(["audit", "replay", "--keep", str(keep)]) == 2


def test_a_replay_whose_live_view_is_rebuilt_while_read_is_refused_not_reported(
        app: EscrowLedger, clock: FakeClock, projector: ProjectionRunner,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``ledger projections rebuild`` empties the view; a run reading it meanwhile saw a
    partial view: every account would look like a difference, recorded for good."""
    history(app, clock, projector)
    queries = projector.queries
    real = queries.balances_at

    def emptied_first(as_of: datetime | None, upto: int) -> object:
        projector.journal.reset()  # a rebuild has begun: the view is empty
        return real(as_of, upto)

    monkeypatch.setattr(queries, "balances_at", emptied_first)
    with pytest.raises(ConcurrencyConflict, match="rebuilt while it was read"):
        replay_as_of(app, queries, None, tmp_path / "raced.sqlite")
    monkeypatch.undo()
    projector.catch_up()  # the rebuild finishes: the same replay agrees again
    assert replay_as_of(app, queries, None, tmp_path / "after.sqlite").ok
