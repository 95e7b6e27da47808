"""The command engine: every command runs through ``execute`` (load, decide, save).

It answers a known idempotency key from its record; otherwise it opens a unit
of work, lets the domain decide, and saves every changed aggregate, the
records of any deadlines fired on the way, *and* the key's record in one
atomic ``save``. The first attempt decides on cached aggregates with no query,
the write proving them current (``ledger.read_set``). A version conflict
(another writer got there first) reloads and decides again after a short random
pause, a bounded number of times, then surfaces as ``ConcurrencyConflict``.
Capabilities (``ledger.commands``) build on this class; none of them writes to
the store any other way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import JSONTranscoder, RecordConflictError

from domain.balances.client_credit import ClientCredit
from domain.bookkeeping import accounts
from domain.bookkeeping.postings import JournalEntry
from domain.deadlines import Deadline, DeadlineKind
from domain.errors import (
    ConcurrencyConflict,
    IdempotencyKeyReused,
    InvalidInput,
    LedgerError,
    UnknownDeadlineKind,
)
from domain.fees.schedule import DEFAULT_SCHEDULE, FeeSchedule
from ledger import aggregate_cache
from ledger.batch import MAX_COMMANDS as MAX_BATCH_COMMANDS
from ledger.batch import Batch, current_batch
from ledger.clock import Clock, SystemClock
from ledger.idempotency import CommandRecord, request_fingerprint
from ledger.log_positions import notification_id_of
from ledger.processing import collected
from ledger.read_set import READS, ChecksReads, ReadSet, StaleRead, current_reads
from ledger.request_context import current_request_id
from ledger.retries import MAX_ATTEMPTS, pause_after_conflict
from ledger.topics import register_moved_topics
from ledger.transcodings import register_domain_transcodings
from ledger.unit_of_work import Handler, UnitOfWork

log = logging.getLogger(__name__)
A = TypeVar("A")

@dataclass(frozen=True)
class CommandResult:
    """What a command answers: its response, the log position, and whether replayed."""

    response: dict[str, Any]
    position: int
    replayed: bool = False
    also_fired: tuple[tuple[Deadline, dict[str, Any]], ...] = ()
    """Deadlines that fell due first and fired in the same unit, with their answers."""


@dataclass
class Decision:
    """What a command decided: the response, and the contract a caller may send If-Match for."""

    response: dict[str, Any]
    contract: Any = None


Decide = Callable[[UnitOfWork], Decision]


class CommandEngine(Application[UUID]):
    """The shared command path; ``DEADLINES`` maps each deadline kind to what fires it."""

    DEADLINES: ClassVar[Mapping[DeadlineKind, Handler]] = {}

    def __init__(
        self, env: Mapping[str, str] | None = None, *, clock: Clock | None = None,
        fees: FeeSchedule = DEFAULT_SCHEDULE, cache_size: int = aggregate_cache.DEFAULT_SIZE,
    ) -> None:
        register_moved_topics()
        super().__init__(env)
        self.clock: Clock = clock or SystemClock()
        self.fees = fees
        self.aggregates = (aggregate_cache.AggregateCache(self.repository, cache_size)
                           if cache_size > 0 else None)
        # Checked whether or not the cache is on: the check is also what makes a command
        # serialisable over what it only read (a client's standing, say).
        self._read_checker: ChecksReads | None = (
            self.recorder if isinstance(self.recorder, ChecksReads) else None)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder)

    # ---- the command path --------------------------------------------------

    def execute(
        self, command: str, idempotency_key: str | None, request: dict[str, Any],
        decide: Decide, *, at: datetime | None = None,
    ) -> CommandResult:
        """Runs one command; ``at`` fixes its effective time (a deadline's due time)."""
        fingerprint = request_fingerprint(command, request)
        batch = current_batch.get()
        if batch is not None and batch.engine is self:
            return self._decide_in_batch(batch, command, idempotency_key, fingerprint, decide, at)
        checks_reads = self._read_checker is not None
        for attempt in range(1, MAX_ATTEMPTS + 1):
            uow = UnitOfWork(self, at or self.clock.now(), idempotency_key)
            # The first attempt decides on cached aggregates as they are; its write
            # proves them current (ledger.read_set). Later attempts read them first.
            reads = ReadSet(trusting=checks_reads and attempt == 1)
            token = current_reads.set(reads)
            try:
                decision = decide(uow)
                self._follow_credit(uow)
                to_save = uow.changed()
            except Exception as refusal:
                current_reads.reset(token)
                if reads.trusting and self._changed_since(reads.versions):
                    # Decided on a stale copy (a refusal, or any error a stale state
                    # can raise): decide again on the store's state.
                    continue
                if not isinstance(refusal, LedgerError):
                    raise
                # A replayed key whose command no longer fits the state (approve twice)
                # answers from its record; a fresh key gets the refusal.
                replay = self._find_replay(idempotency_key, fingerprint)
                if replay is not None:
                    return replay
                raise
            except BaseException:
                current_reads.reset(token)
                raise
            current_reads.reset(token)
            if decision.contract is not None:
                # what a caller sends back as If-Match for its next decision
                decision.response["contract_version"] = decision.contract.version
            to_save += uow.records
            if idempotency_key is not None:
                to_save.append(CommandRecord.accept(
                    key=idempotency_key, command=command, request_hash=fingerprint,
                    response=decision.response, at=uow.at, request_id=current_request_id(),
                ))
            check = {READS: reads.unwritten(to_save)} if checks_reads else {}
            try:
                recordings = self.save(*to_save, **check)
            except StaleRead:
                log.info("%s read a changed aggregate (attempt %d), deciding again",
                         command, attempt)
                continue
            except RecordConflictError:
                # Either another writer changed an aggregate (decide again) or the
                # key's record already exists (answer from it): nothing was written.
                replay = self._find_replay(idempotency_key, fingerprint)
                if replay is not None:
                    return replay
                log.info("version conflict on %s (attempt %d), retrying", command, attempt)
                if attempt < MAX_ATTEMPTS:
                    pause_after_conflict(attempt)
                continue
            if self.aggregates is not None:
                self.aggregates.saved(a for a in to_save if not isinstance(a, CommandRecord))
            position = max((r.notification.id for r in recordings), default=None)
            return CommandResult(decision.response,
                                 position if position is not None else self.position(),
                                 also_fired=tuple(zip(uow.fired, (r.response for r in uow.records),
                                                      strict=True)))
        raise ConcurrencyConflict(
            f"{command}: the aggregates kept changing under {MAX_ATTEMPTS} attempts; retry later"
        )

    def _changed_since(self, versions: dict[UUID, int]) -> bool:
        return self._read_checker is not None and self._read_checker.changed_since(versions)

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """The library's ``save``, collecting the events the fast way (ledger.processing)."""
        processing_event = collected(objs, kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # the library's deprecated hook, kept in step
        return recordings

    def _follow_credit(self, uow: UnitOfWork) -> None:
        """Moves client credit as a contract's new events say, never below zero."""
        for agg in uow.changed():
            client_id = getattr(agg, "client_id", None)
            if client_id is None or isinstance(agg, ClientCredit):
                continue
            if _moves_account(agg.pending_events, accounts.client_credit(client_id)):
                uow.add(self.client_credit(uow, client_id)).follow(agg.pending_events, uow.at)

    # ---- batches (ledger/batch.py) -----------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        """Commands issued inside decide on one another's results and wait for ``commit_batch``."""
        batch = Batch(self)
        token = current_batch.set(batch)
        try:
            yield batch
        finally:
            current_batch.reset(token)

    def commit_batch(self, batch: Batch) -> int:
        """Saves all the batch decided in one transaction; answers the log position after it.

        A ``ConcurrencyConflict`` means another writer changed one of its
        aggregates (or used one of its keys) first: nothing was written, and the
        caller runs the batch again (keys stored meanwhile then answer as first).
        """
        to_save = [*batch.events, *batch.records]
        if not to_save:
            batch.position = self.position()
            return batch.position
        check = {READS: batch.unwritten_reads()} if self._read_checker is not None else {}
        try:
            recordings = self.save(*to_save, **check)
        except RecordConflictError as e:
            raise ConcurrencyConflict(
                "another command changed what this batch decided on first; run it again"
            ) from e
        if self.aggregates is not None:  # as stored now: the next commands read nothing first
            self.aggregates.saved(a for a in batch.loaded.values()
                                  if not isinstance(a, CommandRecord))
        # each command's answer says where its record is, as a replay of its key will
        by_id = {r.domain_event.originator_id: r.notification.id for r in recordings}
        batch.positions = {key: by_id[record.id] for key, record in batch.answered.items()
                           if record.id in by_id}
        batch.position = max(r.notification.id for r in recordings)
        return batch.position

    def run_batch(self, work: Callable[[], A]) -> tuple[A, Batch]:
        """``work``'s commands as one batch, run again after a conflict; (its answer, the batch)."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            with self.batch() as batch:
                answer = work()
            try:
                self.commit_batch(batch)
                return answer, batch
            except ConcurrencyConflict:
                if attempt == MAX_ATTEMPTS:
                    raise
                pause_after_conflict(attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _decide_in_batch(self, batch: Batch, command: str, key: str | None, fingerprint: str,
                         decide: Decide, at: datetime | None) -> CommandResult:
        """One command of a batch: decided now, written by ``commit_batch`` (position 0 here)."""
        if key is not None:
            # Keys are looked up before deciding, not after a refusal as alone: a refused
            # command may leave half-decided changes on aggregates later commands share.
            earlier = batch.answered.get(key)
            if earlier is not None:
                return self._answered_by(earlier, fingerprint, position=0)
            if (replay := self._find_replay(key, fingerprint)) is not None:
                return replay
        if batch.commands >= MAX_BATCH_COMMANDS:
            raise InvalidInput(f"a batch carries at most {MAX_BATCH_COMMANDS} commands")
        batch.commands += 1
        uow = UnitOfWork(self, at or self.clock.now(), key, batch)
        decision = decide(uow)  # a refusal refuses the whole batch: nothing is written
        self._follow_credit(uow)
        if decision.contract is not None:
            decision.response["contract_version"] = decision.contract.version
        batch.set_aside(uow.changed())
        for record in uow.records:
            batch.remember(record)
        if key is not None:
            batch.remember(CommandRecord.accept(
                key=key, command=command, request_hash=fingerprint, response=decision.response,
                at=uow.at, request_id=current_request_id()))
        return CommandResult(decision.response, 0, also_fired=tuple(zip(
            uow.fired, (r.response for r in uow.records), strict=True)))

    def client_credit(self, uow: UnitOfWork, client_id: str) -> ClientCredit:
        found = uow.get(ClientCredit, ClientCredit.id_for(client_id))
        return found if found is not None else ClientCredit.open(client_id, uow.at)

    def prefetch(self, ids: Iterable[UUID]) -> None:
        """In a batch: loads ``ids`` and what shares their clocks (two levels: a contract's
        relationship, its other contracts) in one query per level, for the batch's
        commands to use without a query each. Outside a batch, or without the cache,
        nothing to do."""
        batch = current_batch.get()
        if batch is None or batch.engine is not self or self.aggregates is None:
            return
        wanted = set(ids)
        for _ in range(3):
            wanted -= batch.current | batch.absent
            if not wanted:
                return
            current, absent = self.aggregates.prefetch(wanted)
            batch.current |= current
            batch.absent |= absent
            wanted = {companion for i in current
                      if (template := self.aggregates.peek(i)) is not None
                      for _, companion in self.companions(template)}

    def find(self, kind: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate with this id, or None when it was never created."""
        batch = current_batch.get()
        if batch is not None and batch.engine is not self:
            batch = None
        if batch is not None and aggregate_id in batch.absent:
            batch.reads.saw(aggregate_id, 0)
            return None
        reads = current_reads.get() if batch is None else batch.reads
        try:
            if self.aggregates is None:
                found: Any = self.repository.get(aggregate_id)
            else:
                found = self.aggregates.get(
                    aggregate_id,
                    current=(aggregate_id in batch.current) if batch is not None
                    else reads is not None and reads.trusting)
        except AggregateNotFoundError:
            if reads is not None:
                reads.saw(aggregate_id, 0)
            return None
        if reads is not None:
            reads.saw(aggregate_id, found.version)
        return found if isinstance(found, kind) else None

    def replay_of(self, command: str, key: str | None,
                  request: dict[str, Any]) -> CommandResult | None:
        """The first answer to a key already used for this request (a different one is refused)."""
        return self._find_replay(key, request_fingerprint(command, request))

    def _find_replay(self, key: str | None, fingerprint: str) -> CommandResult | None:
        """The first answer to this key, if the key was used; refuses a different request.

        Read only after a refusal or a conflict: the key record's uniqueness in the
        store is what stops a second write, so the common path never reads it.
        """
        if key is None:
            return None
        record = self.find(CommandRecord, CommandRecord.id_for(key))
        if record is None:
            return None
        position = notification_id_of(self.recorder, record.id, 1)
        return self._answered_by(record, fingerprint,
                                 position if position is not None else self.position())

    @staticmethod
    def _answered_by(record: CommandRecord, fingerprint: str, position: int) -> CommandResult:
        """The record's first answer, if it answered this very request; else refused."""
        if record.request_hash != fingerprint:
            raise IdempotencyKeyReused(
                f"this Idempotency-Key was already used for a different request "
                f"({record.command}); send a new key for a new request"
            )
        return CommandResult(record.response, position, replayed=True)

    def position(self) -> int:
        """The log's newest notification id (0 for an empty log)."""
        return self.recorder.max_notification_id() or 0

    # ---- deadlines -----------------------------------------------------------

    def companions(self, aggregate: Any) -> list[tuple[type[Any], UUID]]:
        """Aggregates whose clocks must fire in one due order with ``aggregate``'s."""
        return []

    def deadline_handler(self, kind: DeadlineKind | str) -> Handler:
        try:
            return self.DEADLINES[DeadlineKind(kind)]
        except (KeyError, ValueError):
            raise UnknownDeadlineKind(f"no command fires deadlines of kind {kind!r}") from None

    @staticmethod
    def deadline_request(deadline: Deadline) -> tuple[str, dict[str, Any]]:
        """The command and request every firing of a deadline shares, whoever fires it."""
        return f"deadline:{deadline.kind.value}", {
            "kind": deadline.kind.value, "subject": deadline.subject, "ref": deadline.ref,
            "due": deadline.due.isoformat(),
        }

    def deadline_record(self, deadline: Deadline, response: dict[str, Any],
                        at: datetime) -> CommandRecord:
        command, request = self.deadline_request(deadline)
        return CommandRecord.accept(key=deadline.idempotency_key, command=command,
                                    request_hash=request_fingerprint(command, request),
                                    response=response, at=at, request_id=current_request_id())

    def fire_deadline(self, deadline: Deadline, *, now: datetime | None = None) -> CommandResult:
        """Fires one deadline at its own due time; firing it again answers the first firing.

        ``now`` is the time the caller has reached (default: the clock); a
        deadline not yet due by then is refused.
        """
        reached = now or self.clock.now()
        if deadline.due > reached:
            raise InvalidInput(f"deadline {deadline.deadline_id} is not due until "
                               f"{deadline.due.isoformat()} (now {reached.isoformat()})")
        handler = self.deadline_handler(deadline.kind)
        command, request = self.deadline_request(deadline)

        def decide(uow: UnitOfWork) -> Decision:
            return Decision(handler(self, uow, deadline))

        return self.execute(command, deadline.idempotency_key, request, decide, at=deadline.due)

    def retire_deadline(self, deadline: Deadline, refusal: LedgerError) -> CommandResult:
        """Records that a deadline's command was refused for good, so it is not retried.

        The record answers any later firing with the same key, and the deadlines
        read model shows the deadline as retired with this reason.
        """
        command, request = self.deadline_request(deadline)
        reason = f"{type(refusal).__name__}: {refusal}"
        record = CommandRecord.accept(
            key=deadline.idempotency_key, command=command,
            request_hash=request_fingerprint(command, request),
            response={"retired": True, "deadline_id": deadline.deadline_id,
                      "kind": deadline.kind.value, "refusal": reason},
            at=deadline.due,
        )
        try:
            recordings = self.save(record)
        except RecordConflictError:
            replay = self._find_replay(deadline.idempotency_key,
                                       request_fingerprint(command, request))
            assert replay is not None
            return replay
        return CommandResult(record.response, recordings[-1].notification.id)


def _moves_account(events: list[Any], account: str) -> bool:
    return any(
        p.account == account
        for e in events if isinstance(getattr(e, "entry", None), JournalEntry)
        for p in e.entry.postings
    )
