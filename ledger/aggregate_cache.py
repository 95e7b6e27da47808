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
  pending-event list, and the copy is brought up to date from the store, so
  events written by another process (or a command that lost a race) are never
  missed: the store, not the cache, decides what is current.
* A shallow copy is enough because every aggregate's state is copy-on-write:
  events' ``apply`` assign new dicts, tuples and frozen dataclasses to
  attributes and never mutate a container in place (tests/unit/
  test_aggregate_cache.py checks this for every aggregate the suite builds: a
  command that fails half-way leaves the template equal to a fresh replay).
* A template is replaced only by a newer version, so threads racing to refresh
  it cannot move it backwards.
"""

from __future__ import annotations

import copy
from threading import Lock
from typing import Any
from uuid import UUID

from eventsourcing.application import LRUCache, Repository, project_aggregate

DEFAULT_SIZE = 2000
"""Aggregates kept per process; ``LEDGER_AGGREGATE_CACHE_SIZE`` (0 turns the cache off)."""


def working_copy(aggregate: Any) -> Any:
    """A copy a command may change: its own attributes and pending events, shared values."""
    clone = copy.copy(aggregate)
    clone._pending_events = []  # the library's list of new events
    return clone


class AggregateCache:
    def __init__(self, repository: Repository[UUID], maxsize: int = DEFAULT_SIZE) -> None:
        self._repository = repository
        self._templates: LRUCache[UUID, Any] = LRUCache(maxsize=maxsize)
        self._put_lock = Lock()
        self.hits = 0
        self.misses = 0

    def get(self, aggregate_id: UUID) -> Any:
        """The aggregate as stored now; raises ``AggregateNotFoundError`` like the repository."""
        try:
            template = self._templates.get(aggregate_id)
        except KeyError:
            self.misses += 1
            loaded: Any = self._repository.get(aggregate_id)
            self._keep(aggregate_id, loaded)
            return loaded
        self.hits += 1
        current = working_copy(template)
        newer = self._repository.event_store.get(originator_id=aggregate_id,
                                                 gt=current.version)
        before = current.version
        current = project_aggregate(current, newer)
        assert current is not None  # events only ever move an existing aggregate forward
        if current.version != before:
            self._keep(aggregate_id, current)
        return current

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
        template = working_copy(aggregate)
        with self._put_lock:
            try:
                held = self._templates.get(aggregate_id)
            except KeyError:
                held = None
            if held is None or held.version < template.version:
                self._templates.put(aggregate_id, template)


def _state(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}
