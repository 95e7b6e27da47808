"""The aggregates one command decides on, loaded once and brought up to the command's time.

Deadlines win even when the scheduler is late: before a command decides on an
aggregate, every deadline of it that fell due by the command's time is fired
first, in due order, each at its own due time and with the key the scheduler
would use. Those firings are saved in the same atomic unit as the command, so
a refused command still writes nothing, and a scheduler that fires the same
deadline later is answered from the firing's record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from domain.deadlines import Deadline, HasDeadlines, due_by
from ledger.idempotency import CommandRecord

if TYPE_CHECKING:
    from ledger.batch import Batch
    from ledger.engine import CommandEngine

A = TypeVar("A")


class UnitOfWork:
    def __init__(self, engine: CommandEngine, at: datetime, own_key: str | None,
                 batch: Batch | None = None) -> None:
        """In a ``batch`` the unit shares the batch's aggregates and fired deadlines."""
        self.engine = engine
        self.at = at
        self._loaded: dict[UUID, Any] = batch.loaded if batch is not None else {}
        self._mine: dict[UUID, None] = {}
        """What this command loaded, in order (in a batch, part of the shared ``_loaded``).
        Only these are settled: scanning every aggregate of a batch per command made
        bursts quadratic."""
        self._handled: set[str] = batch.handled if batch is not None else set()
        if own_key:
            self._handled.add(own_key)
        self._firing = False
        self.records: list[CommandRecord] = []
        self.fired: list[Deadline] = []

    def __contains__(self, aggregate_id: object) -> bool:
        return aggregate_id in self._mine

    def peek(self, kind: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate as the batch so far (or the store) has it, not yet settled."""
        found = self._loaded.get(aggregate_id)
        if found is None:
            return self.engine.find(kind, aggregate_id)
        return found if isinstance(found, kind) else None

    def get(self, kind: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate, loaded once per command and brought up to date with its clocks."""
        if aggregate_id in self._mine:
            cached = self._loaded[aggregate_id]
            return cached if isinstance(cached, kind) else None
        found = self.peek(kind, aggregate_id)
        if found is not None:
            self.adopt(found)
        return found

    def _load_companions(self, aggregate: Any) -> None:
        """Loads what shares clocks with ``aggregate`` (a contract's siblings in its
        relationship), so their deadlines fire in one due order before anything decides."""
        for kind, companion_id in self.engine.companions(aggregate):
            if companion_id not in self._mine:
                other = self.peek(kind, companion_id)
                if other is not None:
                    self._keep(other)
                    self._load_companions(other)

    def adopt(self, aggregate: A) -> A:
        """An aggregate the caller already loaded (to check its stored version), settled."""
        self._keep(aggregate)
        self._load_companions(aggregate)
        self.settle()
        return aggregate

    def add(self, aggregate: A) -> A:
        """A new aggregate this command creates."""
        self._keep(aggregate)
        return aggregate

    def _keep(self, aggregate: Any) -> None:
        self._loaded[aggregate.id] = aggregate
        self._mine[aggregate.id] = None

    def changed(self) -> list[Any]:
        return [a for i in self._mine if (a := self._loaded[i]).pending_events]

    @contextmanager
    def as_of(self, when: datetime) -> Iterator[None]:
        """Decides a deadline's firing at its own due time, not the command's."""
        outer, self.at = self.at, when
        try:
            yield
        finally:
            self.at = outer

    def settle(self) -> None:
        """Fires every loaded aggregate's due deadlines, earliest first, until none is left."""
        if self._firing:
            return  # aggregates loaded by a firing are settled by the loop below
        while True:
            due = sorted(
                d for agg in [self._loaded[i] for i in self._mine]
                if hasattr(agg, "running_deadlines")
                for d in due_by(cast(HasDeadlines, agg), self.at)
                if d.idempotency_key not in self._handled
            )
            if not due:
                return
            self._pre_fire(due[0])

    def _pre_fire(self, deadline: Deadline) -> None:
        self._handled.add(deadline.idempotency_key)
        if self.engine.find(CommandRecord, CommandRecord.id_for(deadline.idempotency_key)):
            return  # fired (or retired) before: its outcome is already in the state
        handler = self.engine.deadline_handler(deadline.kind)
        # A firing refused here refuses the command too (the aggregates may hold
        # half of it); the scheduler retires such a deadline with its reason,
        # after which it is skipped above.
        self._firing = True
        try:
            with self.as_of(deadline.due):
                response = handler(self.engine, self, deadline)
        finally:
            self._firing = False
        self.fired.append(deadline)
        self.records.append(self.engine.deadline_record(deadline, response, self.at))


Handler = Callable[["CommandEngine", UnitOfWork, Deadline], dict[str, Any]]
"""Fires one deadline inside a unit of work; answers what it did."""
