"""Test clocks (as in Stripe's): time a caller moves, recorded in the store.

Only with ``LEDGER_TEST_CLOCK=1``. The clock's time is an aggregate in the
log, so a restarted server and every process on the same store read the same
time, and moving it is a recorded fact like any other command. Deadlines that
fall due while it moves are fired by ``projections.deadline_firing``, each at
its own due time, before the clock records its new time.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import RecordConflictError

from domain.errors import ClockNotForward
from ledger.engine import CommandEngine, CommandResult, Decision
from ledger.unit_of_work import UnitOfWork

TEST_CLOCK_ID: UUID = uuid5(NAMESPACE_URL, "escrow-ledger:test-clock")


class TestClock(Aggregate):
    __test__ = False  # not a pytest test class

    class Started(Aggregate.Created):
        now: datetime

        def apply(self, clock: TestClock) -> None:
            clock.now = self.now

    class Advanced(Aggregate.Event):
        now: datetime
        actor: str

        def apply(self, clock: TestClock) -> None:
            clock.now = self.now

    if TYPE_CHECKING:
        now: datetime

    @classmethod
    def start(cls, at: datetime) -> TestClock:
        return cls._create(cls.Started, id=TEST_CLOCK_ID, timestamp=at, now=at)

    def advance(self, to: datetime, actor: str) -> None:
        if to <= self.now:
            raise ClockNotForward(
                f"the test clock shows {self.now.isoformat()}; it only moves forward, "
                f"not to {to.isoformat()}"
            )
        self.trigger_event(self.Advanced, timestamp=to, now=to, actor=actor)


class StoredClock:
    """The time the store's test clock shows.

    ``ensure_started`` records where it starts (once per store, when the
    ledger is built), so reading the time never writes: a refused command, or
    ``GET /v1/test-clock``, leaves the log as it was.
    """

    def __init__(self, engine: CommandEngine, start: datetime) -> None:
        self.engine = engine
        self.start = start.astimezone(UTC)

    def ensure_started(self) -> None:
        if self.engine.find(TestClock, TEST_CLOCK_ID) is None:
            with suppress(RecordConflictError):  # another process started it first
                self.engine.save(TestClock.start(self.start))

    def now(self) -> datetime:
        clock = self.engine.find(TestClock, TEST_CLOCK_ID)
        return self.start if clock is None else clock.now


class TestClockCommands(CommandEngine):
    __test__ = False

    def record_clock_advance(
        self, *, to: datetime, fired: list[dict[str, Any]], actor: str,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """Moves the test clock to ``to``; ``fired`` says which deadlines fell due on the way."""
        to = to.astimezone(UTC)
        request = {"to": to.isoformat()}

        def decide(uow: UnitOfWork) -> Decision:
            clock = uow.get(TestClock, TEST_CLOCK_ID)
            if clock is None:
                clock = uow.add(TestClock.start(uow.at))
            previous = clock.now
            clock.advance(to, actor)
            return Decision({"previous": previous.isoformat(), "now": to.isoformat(),
                             "fired": fired})

        return self.execute("advance_test_clock", idempotency_key, request, decide)

    def check_clock_moves_to(self, to: datetime) -> None:
        """Refuses, before anything fires, a move that is not forward."""
        to = to.astimezone(UTC)
        now = self.clock.now()
        if to <= now:
            raise ClockNotForward(
                f"the test clock shows {now.isoformat()}; it only moves forward, "
                f"not to {to.isoformat()}"
            )
