"""What one command read, so that its write can prove none of it changed meanwhile.

Why: a command used to bring every aggregate it read up to date with a query of
its own before deciding (two to four round trips a command, about a third of
its time on PostgreSQL). Now a command's first attempt decides on the cached
templates with no query at all, and its write proves them current instead:

* an aggregate it **writes** is proven by the store's uniqueness of
  (id, version): its first new event takes the version after the one it read,
  which another writer's newer event would already hold;
* an aggregate it only **reads** (a contract a withdrawal checks, a wallet
  found absent) is proven by the recorder, in the insert's own transaction and
  under the store's write lock: no event of it newer than the version read.

Either proof failing writes nothing (``StaleRead`` or the usual version
conflict), and the command decides again on aggregates read from the store. A
refusal decided on cached state is checked the same way before it is
answered, so a stale template can neither write nor refuse anything. The same
check makes every command serialisable over everything it read, which the
query-before-deciding path never was for what it only read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.persistence import RecordConflictError

READS = "unchanged_since"
"""The ``save``/``insert_events`` keyword carrying {aggregate id: version read} to check."""


class StaleRead(RecordConflictError):
    """An aggregate the command read had a newer event by its write: nothing was written."""


@runtime_checkable
class ChecksReads(Protocol):
    """A recorder that checks ``READS`` under its write lock (``ledger.recorders``)."""

    def changed_since(self, versions: Mapping[UUID, int]) -> bool:
        """Whether any of these aggregates has an event newer than its version here."""


@dataclass
class ReadSet:
    """The version of each aggregate a command read (0: found absent), first read wins."""

    trusting: bool
    """Cached templates are used as they are (first attempt); else each is read first."""
    versions: dict[UUID, int] = field(default_factory=dict)

    def saw(self, aggregate_id: UUID, version: int) -> None:
        self.versions.setdefault(aggregate_id, version)

    def unwritten(self, saved: Iterable[Any]) -> dict[UUID, int]:
        """What to check at the write: what was read and is not written (the store's
        uniqueness checks those)."""
        written = {a.id for a in saved}
        return {i: v for i, v in self.versions.items() if i not in written}


current_reads: ContextVar[ReadSet | None] = ContextVar("current_reads", default=None)
"""Set while a single command decides; ``CommandEngine.find`` records into it."""
