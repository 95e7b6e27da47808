"""Aggregates kept in memory between commands, so a long history is replayed once.

Why: without it every command replays its aggregates from their first event,
so a command on a contract with 500 events cost 31 ms against 2.7 ms on a new
one, growing with the history (and a relationship loads all of its contracts).
With it, a command costs one query for the events stored since the copy was
made (usually none, one round trip like the full load it replaces) and a
shallow copy.

How it stays correct:

* The cache holds *templates*: an aggregate as of its stored version, never
  handed out and never mutated. Every caller gets a shallow copy with its own
  pending-event list. Either the copy is brought up to date from the store
  first (reads, retries), or the command's write proves it was current
  (``ledger.read_set``): events written by another process (or a command that
  lost a race) are never missed: the store, not the cache, decides.
* A shallow copy is enough because every aggregate's state is copy-on-write:
  events' ``apply`` assign new dicts, tuples and frozen dataclasses to
  attributes and never mutate a container in place (tests/unit/
  test_aggregate_cache.py checks this for every aggregate the suite builds: a
  command that fails half-way leaves the template equal to a fresh replay).
* A template is replaced only by a newer version, so threads racing to refresh
  it cannot move it backwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from threading import Lock
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, LRUCache, Repository

from ledger import bulk_reads

DEFAULT_SIZE = 2000
"""Aggregates kept per process; ``LEDGER_AGGREGATE_CACHE_SIZE`` (0 turns the cache off)."""


def replayed(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's ``project_aggregate`` without its per-event ``isinstance`` check
    against a runtime protocol (about 50 µs each: 12% of a Monday burst's time)."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def working_copy(aggregate: Any) -> Any:
    """A copy a command may change: its own attributes and pending events, shared values.

    What ``copy.copy`` makes of an aggregate (no ``__slots__``, ``__copy__`` or
    ``__getstate__`` of ours or the library's), in a third of its time: a command on a
    contract copies every contract of its relationship.
    """
    clone = object.__new__(type(aggregate))
    clone.__dict__.update(aggregate.__dict__)
    clone._pending_events = []  # the library's list of new events
    return clone


class AggregateCache:
    def __init__(self, repository: Repository[UUID], maxsize: int = DEFAULT_SIZE) -> None:
        self._repository = repository
        self._templates: LRUCache[UUID, Any] = LRUCache(maxsize=maxsize)
        self._put_lock = Lock()
        self._absent = _AbsentIds(maxsize)
        """Ids last found with no event (a client with no standing record, a wallet not
        yet bought): a command trusting the cache reads them again only if its write
        finds one has appeared."""
        self.hits = 0
        self.misses = 0

    def prefetch(self, ids: Iterable[UUID]) -> tuple[set[UUID], set[UUID]]:
        """Brings the templates of ``ids`` up to date in one query: (current ids, absent ids).

        For a batch: its commands then get these without a query each
        (``get(current=True)``). A template read moments ago is as good as one read
        now for a batch, because its commit refuses to write over any change made
        since (a version conflict, and the batch is decided again).
        """
        held: dict[UUID, int] = {}
        for aggregate_id in set(ids):
            template = self._peek(aggregate_id)
            held[aggregate_id] = 0 if template is None else template.version
        stored = bulk_reads.events_after(self._repository.event_store.recorder, held)
        mapper = self._repository.event_store.mapper
        current: set[UUID] = set()
        absent: set[UUID] = set()
        for aggregate_id, version in held.items():
            new = [mapper.to_domain_event(e) for e in stored.get(aggregate_id, [])]
            if version == 0 and not new:
                absent.add(aggregate_id)
                continue
            template = None if version == 0 else self._peek(aggregate_id)
            if version and (template is None or template.version != version):
                continue  # evicted or moved meanwhile: its commands will read it themselves
            if new:
                self._keep(aggregate_id, replayed(
                    None if template is None else working_copy(template), new))
            current.add(aggregate_id)
        return current, absent

    def known_absent(self, aggregate_id: UUID) -> bool:
        """Whether this id was last found with no event (and nothing kept since)."""
        return aggregate_id in self._absent

    def peek(self, aggregate_id: UUID) -> Any:
        """The template itself, to read (never to change), or None."""
        return self._peek(aggregate_id)

    def _peek(self, aggregate_id: UUID) -> Any:
        try:
            return self._templates.get(aggregate_id)
        except KeyError:
            return None

    def get(self, aggregate_id: UUID, *, current: bool = False) -> Any:
        """The aggregate as stored now; raises ``AggregateNotFoundError`` like the repository.

        ``current``: no query is made for a held template, or for an id last found
        absent: a batch's ``prefetch`` brought it up to date, or the command's write
        will prove it current (``ledger.read_set``).
        """
        try:
            template = self._templates.get(aggregate_id)
        except KeyError:
            if current and aggregate_id in self._absent:
                raise AggregateNotFoundError(aggregate_id) from None
            self.misses += 1
            try:
                loaded: Any = self._repository.get(aggregate_id, projector_func=replayed)
            except AggregateNotFoundError:
                self._absent.add(aggregate_id)
                raise
            self._keep(aggregate_id, loaded)
            return loaded
        self.hits += 1
        copied = working_copy(template)
        if current:
            return copied
        newer = self._repository.event_store.get(originator_id=aggregate_id,
                                                 gt=copied.version)
        before = copied.version
        copied = replayed(copied, newer)
        if copied.version != before:
            self._keep(aggregate_id, copied)
        return copied

    def saved(self, aggregates: Iterable[Any]) -> None:
        """Keeps what a command just wrote as the templates (their events are stored now):
        the next command on them reads nothing first, its write proving them current."""
        for aggregate in aggregates:
            self._keep(aggregate.id, aggregate)

    def differing_from_replay(self) -> list[UUID]:
        """Ids whose template differs from a replay of the store at the template's version.

        Empty unless a command changed state in place (breaking copy-on-write);
        the tests run it after driving the whole marketplace.
        """
        with self._templates.lock:
            held = [(link[2], link[3]) for link in self._templates.cache.values()]
        return [aggregate_id for aggregate_id, template in held
                if _state(template) != _state(self._repository.get(aggregate_id,
                                                                     version=template.version))]

    def _keep(self, aggregate_id: UUID, aggregate: Any) -> None:
        self._absent.discard(aggregate_id)
        template = working_copy(aggregate)
        with self._put_lock:
            try:
                held = self._templates.get(aggregate_id)
            except KeyError:
                held = None
            if held is None or held.version < template.version:
                self._templates.put(aggregate_id, template)


class _AbsentIds:
    """A bounded set, oldest first out: ``LRUCache`` without the per-get reordering."""

    def __init__(self, maxsize: int) -> None:
        self._ids: dict[UUID, None] = {}
        self._maxsize = maxsize
        self._lock = Lock()

    def __contains__(self, aggregate_id: object) -> bool:
        return aggregate_id in self._ids

    def add(self, aggregate_id: UUID) -> None:
        with self._lock:
            self._ids[aggregate_id] = None
            if len(self._ids) > self._maxsize:
                del self._ids[next(iter(self._ids))]

    def discard(self, aggregate_id: UUID) -> None:
        with self._lock:
            self._ids.pop(aggregate_id, None)


def _state(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}
