"""Two runners projecting one log (``ledger serve --workers N``: the parent's projector and
a worker catching up for a ``min_position`` read) must never apply an event twice.

A runner reads every view's position, then reads the notifications after it. If
another runner records part of that span in between, and the log grows meanwhile,
the first runner's batch overlaps what is already recorded. The library's
tracking insert accepts any position greater than the one stored, so the
overlap was applied again: the revenue view, which adds each day's postings to
its totals, counted the first purchase twice.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from ledger.application import EscrowLedger
from ledger.settings import store_from_url
from projections import revenue
from projections import runner as runner_module
from projections.runner import ProjectionRunner
from projections.store import Advance, TrackingMoved
from reconciliation import replay as replay_module
from tests.conftest import fresh_store

DEFERRED_CENTS_PER_PURCHASE = 1200
"""80 Connects at $0.15: 12.00 deferred until spent or expired."""


def _purchase(app: EscrowLedger, n: int) -> None:
    app.purchase_connects(freelancer_id="f1", connects=80, payment_method="card",
                          actor="freelancer:f1", idempotency_key=f"purchase-{n}")


def _deferred_cents(runner: ProjectionRunner) -> int:
    rows = runner.projections["revenue"].view.fetch(  # type: ignore[attr-defined]
        "SELECT SUM(credits_minor) AS credits FROM {days} WHERE account LIKE 'deferred:%%'")
    return int(rows[0]["credits"] or 0)


def _deferred_balance(runner: ProjectionRunner) -> int:
    return sum(int(b.balance * 100) for b in runner.queries.all_balances()
               if b.account.startswith("deferred:connects"))


@pytest.fixture
def racing(app: EscrowLedger, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Runner ``late`` reads its positions; before it reads the notifications, runner
    ``first`` records everything so far and another purchase is written."""
    first, late = ProjectionRunner(app), ProjectionRunner(app)
    real_read = runner_module.read_notifications
    state = {"interleaved": False}

    def read_after_the_other_runner(app_: Any, start: int, limit: int) -> Any:
        if not state["interleaved"]:
            state["interleaved"] = True
            first.catch_up()
            _purchase(app, 2)
        return real_read(app_, start, limit)

    monkeypatch.setattr(runner_module, "read_notifications", read_after_the_other_runner)
    return {"first": first, "late": late, "state": state}


def test_a_batch_overlapping_what_another_runner_recorded_is_not_applied_twice(
        app: EscrowLedger, racing: dict[str, Any]) -> None:
    _purchase(app, 1)
    late: ProjectionRunner = racing["late"]
    assert late.catch_up() == app.position()
    assert racing["state"]["interleaved"], "the race was not staged"
    # two purchases, each 12.00 deferred: 24.00, not the first one counted twice (36.00)
    assert _deferred_cents(late) == 2 * DEFERRED_CENTS_PER_PURCHASE
    assert _deferred_balance(late) == 2 * DEFERRED_CENTS_PER_PURCHASE
    for name, projection in late.projections.items():
        assert projection.position() == app.position(), name


def test_the_same_views_rebuilt_from_zero_agree(app: EscrowLedger,
                                                racing: dict[str, Any]) -> None:
    _purchase(app, 1)
    late: ProjectionRunner = racing["late"]
    late.catch_up()
    raced = (_deferred_cents(late), late.queries.all_balances(),
             late.projections["jss"].queries.rows())  # type: ignore[attr-defined]
    late.rebuild()
    assert (_deferred_cents(late), late.queries.all_balances(),
            late.projections["jss"].queries.rows()) == raced  # type: ignore[attr-defined]


def test_runners_in_threads_catching_up_while_purchases_are_written(
        app: EscrowLedger) -> None:
    """No staging: three runners race each other and the writer for real."""
    runners = [ProjectionRunner(app) for _ in range(3)]
    purchases, done, errors = 60, threading.Event(), []

    def project(runner: ProjectionRunner) -> None:
        try:
            while not done.is_set():
                runner.catch_up()
        except Exception as e:  # reported below; a silent thread would pass the test
            errors.append(e)

    threads = [threading.Thread(target=project, args=(r,)) for r in runners]
    for t in threads:
        t.start()
    try:
        for n in range(purchases):
            _purchase(app, n)
    finally:
        done.set()
        for t in threads:
            t.join(timeout=30)
    assert not errors
    runners[0].catch_up()
    assert _deferred_cents(runners[0]) == purchases * DEFERRED_CENTS_PER_PURCHASE
    assert _deferred_balance(runners[0]) == purchases * DEFERRED_CENTS_PER_PURCHASE


def test_a_views_commit_does_not_wait_for_the_disk_and_the_logs_still_does(
        postgres_available: None) -> None:
    """Views are derived and commit with their tracking: losing the last of them in a
    crash costs a replay. The log's own commits must still wait for the flush."""
    with fresh_store("postgres") as url:
        app = EscrowLedger(store_from_url(url).env)
        try:
            view: Any = ProjectionRunner(app).projections["revenue"].view
            with view.writing(Advance("probe", 1)) as cursor:
                cursor.execute("SHOW synchronous_commit")
                assert cursor.fetchone()["synchronous_commit"] == "off"
            with app.recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute("SHOW synchronous_commit")
                assert cursor.fetchone()["synchronous_commit"] == "on"
        finally:
            app.close()


def test_a_view_refusing_a_row_is_raised_and_reported_not_retried_forever(
        app: EscrowLedger, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a moved tracking position means "another runner was first". A CHECK that
    refuses a row is a fault: the catch-up must raise it (and health report it), where
    catching every integrity error spun on the same batch with the runner's lock held."""
    _purchase(app, 1)
    runner = ProjectionRunner(app)
    monkeypatch.setattr(revenue, "day_deltas", lambda batch: [
        ("2026-03-02", "revenue:forged", "USD", -1, 0)])  # credits_minor >= 0 refuses it
    outcome: list[BaseException | int] = []

    def catch_up() -> None:
        try:
            outcome.append(runner.catch_up())
        except BaseException as e:  # the outcome under test
            outcome.append(e)

    worker = threading.Thread(target=catch_up, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "the runner retried a refused row forever"
    assert isinstance(outcome[0], IntegrityError), outcome
    assert not isinstance(outcome[0], TrackingMoved)
    assert runner.last_error is outcome[0]
    assert runner.projections["revenue"].position() == 0  # nothing of the batch recorded


def test_the_replay_check_is_not_fooled_by_the_projector_moving_during_its_replay(
        app: EscrowLedger, monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay takes seconds on a real log; the background projector moves on. The
    view must be compared as of the position replayed to, not as it is afterwards
    (every posting in between was reported as a break, and the check failed)."""
    runner = ProjectionRunner(app)
    _purchase(app, 1)
    runner.catch_up()
    real = replay_module.replay_balances

    def while_the_projector_moves_on(app_: Any, upto: int | None = None) -> Any:
        _purchase(app, 2)
        runner.catch_up()
        return real(app_, upto=upto)

    monkeypatch.setattr(replay_module, "replay_balances", while_the_projector_moves_on)
    before = app.position()
    report = replay_module.compare_with_projection(app, runner.queries)
    assert report.position == before < app.position()
    assert report.breaks == []
    assert report.ok


def test_replay_checks_while_commands_and_the_projector_run_find_no_break(
        app: EscrowLedger) -> None:
    """No staging: purchases and catch-ups in a thread, replay checks meanwhile."""
    runner, checker = ProjectionRunner(app), ProjectionRunner(app)
    done, errors = threading.Event(), []

    def write_and_project() -> None:
        try:
            n = 0
            while not done.is_set():
                _purchase(app, n)
                runner.catch_up()
                n += 1
        except Exception as e:  # reported below
            errors.append(e)

    def moved_past(position: int) -> None:
        """Each check waits for the projector to have moved on, so the checks cannot
        all run before the worker's first commit (a fast check loop did, on SQLite)."""
        deadline = time.monotonic() + 20
        while checker.queries.balances_and_position()[0] <= position and not errors:
            assert time.monotonic() < deadline, "the projector never moved"
            time.sleep(0.002)

    worker = threading.Thread(target=write_and_project)
    worker.start()
    try:
        reports = []
        for _ in range(15):
            moved_past(reports[-1].position if reports else 0)
            reports.append(replay_module.compare_with_projection(app, checker.queries))
    finally:
        done.set()
        worker.join(timeout=30)
    assert not errors
    assert [r.breaks for r in reports if not r.ok] == []
    assert len({r.position for r in reports}) == 15  # each check at its own position
