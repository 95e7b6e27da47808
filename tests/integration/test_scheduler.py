"""The scheduler: each deadline fires once, however many schedulers poll and however they die.

Figures: a $500 milestone in 2026 pays a 10% service fee (net 450.00 to the
freelancer, pending for five days), a card marketplace fee of 25.00 and a
contract initiation fee of 9.95.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.deadlines import DeadlineKind
from domain.errors import StateConflict
from entrypoints import scheduler as scheduler_module
from entrypoints.scheduler import drain, start_scheduler, tick
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from ledger.settings import store_from_url
from projections.deadline_firing import EVERY_VIEW_AFTER, Fired, exclusive_tick, fire_due
from projections.runner import ProjectionRunner
from tests.conftest import fresh_store, require_backend
from tests.integration.support import balance, funded

CONTRACTS = 5
THREAD_TIMEOUT = 20.0  # seconds any concurrent step may take before the test fails


# ---- helpers -------------------------------------------------------------------


@contextmanager
def ledger_on(url: str, clock: FakeClock) -> Iterator[tuple[EscrowLedger, ProjectionRunner]]:
    """One scheduler process: its own application (own connection pool) and its own runner."""
    app = EscrowLedger(store_from_url(url).env, clock=clock)
    try:
        yield app, ProjectionRunner(app)
    finally:
        app.close()


def submitted_contracts(app: EscrowLedger, n: int) -> list[tuple[str, str]]:
    """``n`` contracts for f1, each with one funded, submitted $500 milestone.

    Each with its own client: contracts of one client and freelancer share
    lifetime billings, so the first firing among them settles every sibling due
    by then (in due order), and a scheduler would only replay the rest.
    """
    made = []
    for i in range(n):
        cid, (mid,) = funded(app, client_id=f"c{i + 1}")
        app.submit_work(contract_id=cid, milestone_id=mid, actor="f1")
        made.append((cid, mid))
    return made


def topics(app: EscrowLedger) -> list[str]:
    return [n.topic for n in app.recorder.select_notifications(start=1, limit=10_000)]


def releases_in_log(app: EscrowLedger) -> int:
    return sum(t.endswith(".MilestoneReleased") for t in topics(app))


def together(*steps: Callable[[], Any]) -> list[Any]:
    """Runs the steps in threads released at one moment; their results, or the test fails.

    A step that raises fails the test with its exception; a step that does not
    finish within ``THREAD_TIMEOUT`` fails it too (the thread is a daemon, so a
    hung step cannot hang the run).
    """
    barrier = threading.Barrier(len(steps), timeout=THREAD_TIMEOUT)
    results: list[Any] = [None] * len(steps)
    errors: list[BaseException | None] = [None] * len(steps)

    def run(i: int, step: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[i] = step()
        except BaseException as e:
            errors[i] = e

    threads = [threading.Thread(target=run, args=(i, s), daemon=True)
               for i, s in enumerate(steps)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(THREAD_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a concurrent step hung"
    for e in errors:
        if e is not None:
            raise e
    return results


def first_firings(fired: Sequence[Fired]) -> Counter[str]:
    """How many times each deadline was fired for the first time (not answered by replay)."""
    return Counter(f.deadline.idempotency_key for f in fired if not f.replayed)


def assert_five_auto_releases_happened_once(app: EscrowLedger,
                                            runner: ProjectionRunner) -> None:
    assert releases_in_log(app) == CONTRACTS
    assert balance(runner, "freelancer:f1:pending") == Decimal("2250.00")  # 5 x 450.00
    assert balance(runner, "revenue:service_fee") == Decimal("250.00")  # 5 x 50.00
    assert balance(runner, "revenue:marketplace_fee") == Decimal("125.00")  # 5 x 25.00
    assert balance(runner, "revenue:initiation_fee") == Decimal("49.75")  # 5 x 9.95
    assert runner.queries.trial_balance() == {"USD": Decimal("0.00")}
    assert runner.deadlines.queries.due(app.clock.now()) == []


@pytest.fixture
def postgres_url() -> Iterator[str]:
    require_backend("postgres")
    with fresh_store("postgres") as url:
        yield url


# ---- two schedulers on one store ---------------------------------------------------


@pytest.mark.postgres
def test_two_schedulers_started_at_once_on_one_postgres_store_fire_each_deadline_once(
        postgres_url, clock):
    with ledger_on(postgres_url, clock) as (a, runner_a), \
            ledger_on(postgres_url, clock) as (b, runner_b):
        submitted_contracts(a, CONTRACTS)
        clock.advance(timedelta(days=15))
        runner_a.catch_up()
        due = runner_a.deadlines.queries.due(clock.now())
        assert len(due) == CONTRACTS
        fired: list[Fired] = []
        for _ in range(5):  # batches of two: five deadlines take at least three ticks
            for result in together(lambda: tick(a, runner_a, batch_size=2),
                                   lambda: tick(b, runner_b, batch_size=2)):
                fired += result
        assert first_firings(fired) == Counter({d.idempotency_key: 1 for d in due})
        # the lock serialises the ticks, and each leaves the shared view caught up, so
        # the later one never even tries a deadline the earlier one fired
        assert [f.replayed for f in fired] == [False] * CONTRACTS
        assert all(f.response["released"] is True for f in fired)
        assert_five_auto_releases_happened_once(a, runner_a)
        assert_five_auto_releases_happened_once(b, runner_b)
        position = a.position()
        assert tick(a, runner_a) == []
        assert tick(b, runner_b) == []
        assert a.position() == position


def test_two_schedulers_that_bypass_the_lock_still_move_the_money_once(database_url, clock):
    with ledger_on(database_url, clock) as (a, runner_a), \
            ledger_on(database_url, clock) as (b, runner_b):
        submitted_contracts(a, CONTRACTS)
        clock.advance(timedelta(days=15))
        runner_a.catch_up()
        due = runner_a.deadlines.queries.due(clock.now())
        assert len(due) == CONTRACTS
        now = clock.now()
        fired_a, fired_b = together(lambda: fire_due(a, runner_a, now),
                                    lambda: fire_due(b, runner_b, now))
        # neither scheduler fired any deadline twice itself...
        for fired in (fired_a, fired_b):
            assert len({f.deadline.idempotency_key for f in fired}) == len(fired)
        # ...and between them each deadline was fired for the first time exactly once;
        # any it fired second was answered from the first firing's record
        assert first_firings([*fired_a, *fired_b]) == Counter(
            {d.idempotency_key: 1 for d in due})
        replays = [f for f in [*fired_a, *fired_b] if f.replayed]
        assert all(f.response["released"] is True for f in replays)
        assert_five_auto_releases_happened_once(a, runner_a)


# ---- the lock -----------------------------------------------------------------


def test_a_tick_while_another_scheduler_holds_the_stores_lock_does_nothing(
        app, projector, clock, database_url):
    cid, (mid,) = funded(app)
    app.submit_work(contract_id=cid, milestone_id=mid, actor="f1")
    clock.advance(timedelta(days=15))
    projector.catch_up()
    with ledger_on(database_url, clock) as (other, other_runner):
        position = app.position()
        with exclusive_tick(projector) as ours:
            assert ours is True
            # a lock file beside the SQLite database, an advisory lock on PostgreSQL
            assert tick(other, other_runner) == []
            assert app.position() == position
            assert len(other_runner.deadlines.queries.due(clock.now())) == 1
        fired = tick(other, other_runner)
    assert [f.response["net"]["amount"] for f in fired] == ["450.00"]
    assert balance(projector, "freelancer:f1:pending") == Decimal("450.00")


# ---- a scheduler killed between firing and its next poll --------------------------


def test_a_scheduler_restarted_after_firing_fires_nothing_twice(
        app, projector, clock, database_url):
    made = submitted_contracts(app, 2)
    clock.advance(timedelta(days=15))
    projector.catch_up()
    due = projector.deadlines.queries.due(clock.now())
    assert len(due) == 2
    fired = tick(app, projector)
    assert [f.replayed for f in fired] == [False, False]
    assert [f.response["net"]["amount"] for f in fired] == ["450.00", "450.00"]
    app.close()  # the scheduler process is killed here
    with ledger_on(database_url, clock) as (restarted, runner):
        position = restarted.position()
        # what a restarted scheduler holding the old list of due deadlines would do
        again = [restarted.fire_deadline(d, now=clock.now()) for d in due]
        assert [r.replayed for r in again] == [True, True]
        assert [r.response for r in again] == [f.response for f in fired]
        assert all(r.position <= position for r in again)  # the first firings' positions
        assert restarted.position() == position
        assert tick(restarted, runner) == []
        assert restarted.position() == position
        assert releases_in_log(restarted) == 2
        assert balance(runner, "freelancer:f1:pending") == Decimal("900.00")
        assert balance(runner, "revenue:service_fee") == Decimal("100.00")
        for cid, mid in made:
            assert balance(runner, f"escrow:{cid}:{mid}") == Decimal("0.00")
        # five days on, the security period ends once, in the new process: both lots
        # fall due at the same moment: one unit fires both (the one listed first matures
        # both lots; each answers what the unit made available), and it happens once
        clock.advance(timedelta(days=5))
        matured = tick(restarted, runner)
        assert [f.deadline.kind for f in matured] == [DeadlineKind.SECURITY_PERIOD] * 2
        assert [f.response["matured"] for f in matured] == [
            [{"amount": "900.00", "currency": "USD"}]] * 2
        assert balance(runner, "freelancer:f1:available") == Decimal("900.00")
        assert balance(runner, "freelancer:f1:pending") == Decimal("0.00")
        assert tick(restarted, runner) == []


# ---- a refusal that will not change ---------------------------------------------


def test_a_deadline_refused_for_good_is_retired_with_its_reason_and_not_retried(
        app, projector, clock, monkeypatch):
    def refusing(engine: Any, uow: Any, deadline: Any) -> dict[str, Any]:
        raise StateConflict("the milestone is frozen by a dispute")

    cid, (mid,) = funded(app)
    app.submit_work(contract_id=cid, milestone_id=mid, actor="f1")
    monkeypatch.setattr(app, "DEADLINES",
                        {**EscrowLedger.DEADLINES, DeadlineKind.AUTO_RELEASE: refusing})
    clock.advance(timedelta(days=15))
    position = app.position()
    # Until the scheduler retires it, the refused firing refuses any command on the
    # contract too (the deadline must fire before the command decides): nothing written.
    with pytest.raises(StateConflict, match="frozen by a dispute"):
        app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    assert app.position() == position

    fired = tick(app, projector)
    assert len(fired) == 1
    (retired,) = fired
    assert retired.retired is True
    assert retired.replayed is False
    assert retired.deadline.kind is DeadlineKind.AUTO_RELEASE
    assert (retired.deadline.subject, retired.deadline.ref) == (cid, mid)
    refusal = "StateConflict: the milestone is frozen by a dispute"
    assert retired.response == {"retired": True, "deadline_id": retired.deadline.deadline_id,
                                "kind": "auto_release", "refusal": refusal}
    assert app.position() == position + 1  # only the retirement's record
    rows = projector.deadlines.queries.page(status="retired", after=None, limit=10)
    assert [(r["deadline_id"], r["status"], r["refusal"]) for r in rows] == [
        (retired.deadline.deadline_id, "retired", refusal)]
    assert projector.deadlines.queries.due(clock.now()) == []
    assert tick(app, projector) == []
    assert app.position() == position + 1
    assert balance(projector, f"escrow:{cid}:{mid}") == Decimal("500.00")

    # The real handler is back; the retired firing stays retired (its record answers
    # the key), and a command on the contract is no longer blocked by it.
    monkeypatch.undo()
    assert app.fire_deadline(retired.deadline).response == retired.response
    assert tick(app, projector) == []
    approved = app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    assert approved.response["net"]["amount"] == "450.00"
    assert approved.response["service_fee"]["amount"] == "50.00"
    assert balance(projector, "freelancer:f1:pending") == Decimal("450.00")
    assert balance(projector, f"escrow:{cid}:{mid}") == Decimal("0.00")
    assert releases_in_log(app) == 1
    assert projector.queries.trial_balance() == {"USD": Decimal("0.00")}
    # the auto-release is no longer running: the retired row gave way to the approval
    assert projector.deadlines.queries.page(status="retired", after=None, limit=10) == []


# ---- bursts: many deadlines, one transaction ----------------------------------------


def counting_saves(app: EscrowLedger, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of events each ``save`` (one transaction) wrote, in order."""
    saves: list[int] = []
    original = app.save

    def save(*objs: Any, **kwargs: Any) -> Any:
        recordings = original(*objs, **kwargs)
        saves.append(len(recordings))
        return recordings

    monkeypatch.setattr(app, "save", save)
    return saves


def test_due_deadlines_fire_in_one_transaction_with_the_figures_of_firing_alone(
        app, projector, clock, monkeypatch):
    submitted_contracts(app, CONTRACTS)
    clock.advance(timedelta(days=15))
    saves = counting_saves(app, monkeypatch)
    fired = tick(app, projector)
    assert len(saves) == 1  # five auto-releases and their records: one transaction
    assert first_firings(fired) == Counter({f.deadline.idempotency_key: 1 for f in fired})
    assert [f.response["net"]["amount"] for f in fired] == ["450.00"] * CONTRACTS
    assert sorted(f.position or 0 for f in fired) == [f.position for f in fired]
    assert fired[-1].position == app.position()
    assert_five_auto_releases_happened_once(app, projector)
    assert tick(app, projector) == []


def test_one_refused_deadline_in_a_burst_is_retired_and_the_others_still_fire(
        app, projector, clock, monkeypatch):
    made = submitted_contracts(app, CONTRACTS)
    frozen = made[2][0]
    real = EscrowLedger.DEADLINES[DeadlineKind.AUTO_RELEASE]

    def refusing_one(engine: Any, uow: Any, deadline: Any) -> dict[str, Any]:
        if deadline.subject == frozen:
            raise StateConflict("the milestone is frozen by a dispute")
        return real(engine, uow, deadline)

    monkeypatch.setattr(app, "DEADLINES",
                        {**EscrowLedger.DEADLINES, DeadlineKind.AUTO_RELEASE: refusing_one})
    clock.advance(timedelta(days=15))
    fired = tick(app, projector)
    assert sorted((f.deadline.subject == frozen, f.retired) for f in fired) == [
        (False, False)] * (CONTRACTS - 1) + [(True, True)]
    assert releases_in_log(app) == CONTRACTS - 1
    assert balance(projector, "freelancer:f1:pending") == Decimal("1800.00")  # 4 x 450.00
    assert balance(projector, f"escrow:{frozen}:{made[2][1]}") == Decimal("500.00")
    assert projector.queries.trial_balance() == {"USD": Decimal("0.00")}
    assert tick(app, projector) == []


def test_rounds_of_many_firings_decode_each_event_once_for_every_view(
        app, projector, clock, monkeypatch):
    """After a round of many firings every view catches up, not the registry alone, so
    each notification is decoded once for all six (the registry's catch-up, then the
    others' at the end, decoded each twice: a tenth of a Monday burst)."""
    submitted_contracts(app, 2 * EVERY_VIEW_AFTER)
    clock.advance(timedelta(days=15))
    projector.catch_up()
    decoded: Counter[int] = Counter()
    real = app.mapper.to_domain_event

    def counting(stored: Any) -> Any:
        if hasattr(stored, "id"):  # a notification (an aggregate's prefetched events have none)
            decoded[stored.id] += 1
        return real(stored)

    monkeypatch.setattr(app.mapper, "to_domain_event", counting)
    fired = fire_due(app, projector, clock.now(), limit=1000, batch_size=EVERY_VIEW_AFTER)
    assert len(fired) == 2 * EVERY_VIEW_AFTER
    assert projector.position() == app.position()
    assert len(decoded) >= 2 * EVERY_VIEW_AFTER, decoded
    assert set(decoded.values()) == {1}, Counter(decoded.values())
    assert balance(projector, "freelancer:f1:pending") == Decimal("450.00") * 2 * EVERY_VIEW_AFTER


# ---- the background job -----------------------------------------------------------


def test_a_full_tick_is_followed_by_another_at_once_until_nothing_is_due(
        app, projector, clock):
    """One tick of ``batch_size`` per poll interval cleared a Monday burst of 100,000 in
    100 minutes (500 every 30 s). The job ticks again at once while ticks come back
    full; each tick is still bounded, and reported as it ends."""
    submitted_contracts(app, 5)
    clock.advance(timedelta(days=15))
    ticks: list[int] = []
    fired = drain(app, projector, lambda f: ticks.append(len(f)), batch_size=2)
    assert (fired, ticks) == (5, [2, 2, 1])
    assert projector.deadlines.queries.due(clock.now()) == []
    assert balance(projector, "freelancer:f1:pending") == Decimal("450.00") * 5


def test_a_scheduler_shutting_down_stops_after_the_tick_in_hand(app, projector, clock):
    submitted_contracts(app, 5)
    clock.advance(timedelta(days=15))
    ticks: list[int] = []
    fired = drain(app, projector, lambda f: ticks.append(len(f)), batch_size=2,
                  running=lambda: False)
    assert (fired, ticks) == (2, [2])
    assert len(projector.deadlines.queries.due(clock.now())) == 3  # left for the next start


def test_a_tick_that_finds_another_scheduler_working_ends_the_drain(app, projector, clock):
    submitted_contracts(app, 3)
    clock.advance(timedelta(days=15))
    ticks: list[int] = []
    other = ProjectionRunner(app)
    with exclusive_tick(other) as ours:
        assert ours
        fired = drain(app, projector, lambda f: ticks.append(len(f)), batch_size=2)
    assert (fired, ticks) == (0, [0])


def test_a_full_tick_of_replays_only_ends_the_drain(app, projector, monkeypatch):
    """Were the registry ever to keep listing deadlines that already fired, every tick
    would come back full of replays: draining must not spin on them."""
    ticks: list[int] = []

    def full_of_replays(*args: Any, **kwargs: Any) -> list[Fired]:
        ticks.append(1)  # full three times (not forever: without the guard, a hang)
        return [Fired(None, {}, False, True)] * 2 if len(ticks) <= 3 else []  # type: ignore[arg-type]

    monkeypatch.setattr(scheduler_module, "tick", full_of_replays)
    assert drain(app, projector, lambda f: None, batch_size=2) == 2
    assert ticks == [1]


def test_the_background_scheduler_ends_a_due_security_period_by_itself(
        app, projector, clock):
    cid, (mid,) = funded(app)
    app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    assert balance(projector, "freelancer:f1:pending") == Decimal("450.00")
    clock.advance(timedelta(days=5))
    scheduler = start_scheduler(app, projector, interval_seconds=0.2)
    try:
        give_up = time.monotonic() + 10
        while (balance(projector, "freelancer:f1:available") != Decimal("450.00")
               and time.monotonic() < give_up):
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
    assert balance(projector, "freelancer:f1:available") == Decimal("450.00")
    assert balance(projector, "freelancer:f1:pending") == Decimal("0.00")
    assert projector.deadlines.queries.due(clock.now()) == []
    assert sum(t.endswith(".EarningsMatured") for t in topics(app)) == 1
