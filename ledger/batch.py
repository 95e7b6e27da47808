"""Many commands decided one after another and saved in one transaction: all or nothing.

Why: each command otherwise pays its own transaction (and, on PostgreSQL, its
own turn at the events table's lock); the Monday burst fires 100,000 invoices
and other services send runs of commands. Inside ``CommandEngine.batch()``
every command decides exactly as it would alone, on the aggregates as the
earlier commands of the batch left them, but writes nothing: its events, its
idempotency record and any deadline records wait in the ``Batch``, and
``CommandEngine.commit_batch`` saves them in one atomic ``save``. A refused
command refuses the batch (nothing is written); a version conflict at the
commit means another writer got there first, and the caller runs the whole
batch again. Every key is looked up before its command decides, so a batch
sent again answers each command from its record.

The batch is found through a context variable, so the code that issues the
commands (the HTTP routes, the scheduler's firing loop) is the same code that
issues them one at a time.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from ledger.idempotency import CommandRecord
from ledger.read_set import ReadSet

MAX_COMMANDS = 1000
"""The most commands one batch may carry."""


@dataclass
class Batch:
    engine: object
    """The application the batch belongs to; another application's commands are not batched."""
    loaded: dict[UUID, Any] = field(default_factory=dict)
    """Aggregates as the batch's commands so far have left them (pending events included)."""
    handled: set[str] = field(default_factory=set)
    """Deadline keys fired (or skipped) by a command of this batch: never fired twice."""
    events: list[Any] = field(default_factory=list)
    """The events of the commands decided so far, in order, waiting for the commit."""
    records: list[CommandRecord] = field(default_factory=list)
    answered: dict[str, CommandRecord] = field(default_factory=dict)
    """The record of every key a command of this batch has answered, by key."""
    commands: int = 0
    current: set[UUID] = field(default_factory=set)
    """Aggregates ``CommandEngine.prefetch`` brought up to date for this run of the batch."""
    absent: set[UUID] = field(default_factory=set)
    """Ids the prefetch found nothing stored for (a key never used, say)."""
    position: int = 0
    """After the commit: the log position at which everything the batch wrote is visible."""
    positions: dict[str, int] = field(default_factory=dict)
    """After the commit: the log position of each key's record (what a replay answers)."""
    reads: ReadSet = field(default_factory=lambda: ReadSet(trusting=False))
    """The version of every aggregate the batch's commands read, which its commit proves
    unchanged as a single command's write does (``ledger.read_set``). Without it a batch
    funding a milestone could commit after another process suspended the client it had
    found in good standing."""

    def unwritten_reads(self) -> dict[UUID, int]:
        """What the commit checks: what was read and is not written (the store's version
        uniqueness checks those)."""
        written = {e.originator_id for e in self.events} | {r.id for r in self.records}
        return {i: v for i, v in self.reads.versions.items() if i not in written}

    def set_aside(self, changed: list[Any]) -> None:
        """Moves a decided command's new events here, so the next command's pending events
        are its own alone (answers are built from them: what matured, what was refunded)."""
        for aggregate in changed:
            self.events.extend(aggregate.collect_events())

    def remember(self, record: CommandRecord) -> None:
        self.records.append(record)
        self.answered[record.key] = record


current_batch: ContextVar[Batch | None] = ContextVar("ledger_batch", default=None)
