"""Firing what fell due: the scheduler's tick and the test clock's advance share this.

Deadlines fire in due-time order, each at its own due time, re-reading the
table after every firing (a release starts a security period that may itself
fall due before ``upto``). A command refused for a reason that will not change
retires its deadline with the refusal recorded; anything else (a conflict, a
store outage) is left for the next tick. Only one scheduler works a store at a
time: a PostgreSQL advisory lock, or a lock file beside a SQLite database; and
even if two did, each firing's derived idempotency key makes it happen once.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from domain.deadlines import Deadline
from domain.errors import ConcurrencyConflict, LedgerError
from ledger.application import EscrowLedger
from ledger.idempotency import CommandRecord
from ledger.stores import backend_of
from projections.runner import ProjectionRunner

log = logging.getLogger(__name__)

_LOCAL_LOCK = threading.Lock()


@dataclass(frozen=True)
class Fired:
    deadline: Deadline
    response: dict[str, Any]
    retired: bool
    replayed: bool
    position: int | None = None
    """The log position the firing's unit wrote (or its record, when replayed)."""

    def to_json(self) -> dict[str, Any]:
        d = self.deadline
        return {"deadline_id": d.deadline_id, "kind": d.kind.value, "subject": d.subject,
                "ref": d.ref, "due": d.due.isoformat(), "retired": self.retired,
                "outcome": self.response}


def fire_one(app: EscrowLedger, deadline: Deadline, now: datetime) -> list[Fired]:
    """The deadline's firing, after any that fell due before it and fired with it."""
    try:
        result = app.fire_deadline(deadline, now=now)
    except ConcurrencyConflict:
        raise
    except LedgerError as refusal:
        log.warning("deadline %s refused for good, retired: %s", deadline.deadline_id, refusal)
        retired = app.retire_deadline(deadline, refusal)
        # a racing scheduler may have fired it meanwhile: its record says which
        return [Fired(deadline, retired.response, bool(retired.response.get("retired")),
                      retired.replayed, retired.position)]
    return [*(Fired(d, response, False, False, result.position)
              for d, response in result.also_fired),
            Fired(deadline, result.response, bool(result.response.get("retired")),
                  result.replayed, result.position)]


FIRING_BATCH = 250
"""Deadlines fired in one transaction (``ledger/batch.py``); the Monday burst's unit of work."""


EVERY_VIEW_AFTER = 50
"""A round that fired at least this many is followed by every view's catch-up, not the
registry's alone. Why: the registry's catch-up between rounds, then the other views'
at the end, decoded each event twice (a tenth of a Monday burst: 5,000 invoices in 7.3 s
against 6.5 s). After a smaller round the registry alone is quicker (one transaction,
not six); the rest follow at the end."""


def fire_batch(app: EscrowLedger, deadlines: list[Deadline], now: datetime) -> list[Fired]:
    """All of ``deadlines`` fired in one transaction, each as it would fire alone.

    If one of them is refused, the batch wrote nothing, and each is fired
    alone instead, so the refused one is retired with its reason and the
    others still fire.
    """
    def work() -> list[Any]:
        app.prefetch([*(s for d in deadlines if (s := _uuid(d.subject)) is not None),
                      *(CommandRecord.id_for(d.idempotency_key) for d in deadlines)])
        return [app.fire_deadline(d, now=now) for d in deadlines]

    try:
        results, batch = app.run_batch(work)
    except ConcurrencyConflict:
        raise
    except LedgerError:
        return [f for d in deadlines for f in fire_one(app, d, now)]
    fired: list[Fired] = []
    reported: set[str] = set()
    for deadline, result in zip(deadlines, results, strict=True):
        for also, response in result.also_fired:
            reported.add(also.idempotency_key)
            fired.append(Fired(also, response, False, False,
                               batch.positions.get(also.idempotency_key, batch.position)))
        if deadline.idempotency_key in reported:
            continue  # an earlier deadline of the batch fired it first, and said so
        reported.add(deadline.idempotency_key)
        fired.append(Fired(deadline, result.response, bool(result.response.get("retired")),
                           result.replayed, result.position if result.replayed and
                           result.position else batch.positions.get(deadline.idempotency_key,
                                                                    batch.position)))
    return fired


def _untried(runner: ProjectionRunner, upto: datetime, tried: set[str],
             limit: int) -> list[Deadline]:
    """The earliest due deadlines, read far enough to hold one not yet tried (if any).

    Why not ``limit=len(tried) + room`` as before: fired deadlines leave the table,
    so the read grew with every round for nothing, and a burst of 100,000 read
    20 million rows. Only deadlines still pending after their try take room.
    """
    while True:
        due = runner.deadlines.queries.due(upto, limit=limit)
        if len(due) < limit or any(d.idempotency_key not in tried for d in due):
            return due
        limit *= 2


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


def fire_due(app: EscrowLedger, runner: ProjectionRunner, upto: datetime,
             *, limit: int = 1000, batch_size: int = FIRING_BATCH) -> list[Fired]:
    """Fires up to ``limit`` deadlines due by ``upto``, earliest first, in batches.

    Each round reads the earliest due deadlines again after the last round's
    firings are projected: a firing may start a deadline that falls due before
    ``upto`` (a release starts a security period). Within a round each
    aggregate still fires its own deadlines in due order, earlier ones first
    (the unit of work settles them), so batching changes only how many
    transactions the firings take.
    """
    fired: list[Fired] = []
    tried: set[str] = set()
    stuck = 0  # tried deadlines the last read still found pending (retired ones leave)
    last_round = 0
    while len(fired) < limit:
        runner.catch_up(only=None if last_round >= EVERY_VIEW_AFTER else ("deadlines",))
        room = min(batch_size, limit - len(fired))
        rows = _untried(runner, upto, tried, room + stuck)
        fresh = [d for d in rows if d.idempotency_key not in tried]
        stuck = len(rows) - len(fresh)
        due = fresh[:room]
        if not due:
            break
        tried.update(d.idempotency_key for d in due)
        this_round = fire_one(app, due[0], upto) if len(due) == 1 else fire_batch(
            app, due, upto)
        fired += this_round
        last_round = len(this_round)
    if fired:
        runner.catch_up()
    return fired


def advance_test_clock(app: EscrowLedger, runner: ProjectionRunner, to: datetime,
                       *, actor: str, idempotency_key: str | None) -> dict[str, Any]:
    """Moves the test clock to ``to``, firing everything that falls due on the way first.

    A replayed key answers the first advance; a move that is not forward is
    refused before anything fires.
    """
    to = to.astimezone(UTC)
    replay = app.replay_of("advance_test_clock", idempotency_key, {"to": to.isoformat()})
    if replay is not None:
        return {**replay.response, "position": replay.position, "replayed": True}
    app.check_clock_moves_to(to)
    with exclusive_tick(runner, wait=True):
        fired = fire_due(app, runner, to, limit=1_000_000)
    result = app.record_clock_advance(to=to, fired=[f.to_json() for f in fired], actor=actor,
                                      idempotency_key=idempotency_key)
    runner.catch_up()
    return {**result.response, "position": result.position, "replayed": result.replayed}


def _advisory_key(schema: str) -> int:
    digest = hashlib.sha256(f"escrow-ledger:scheduler:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def exclusive_tick(runner: ProjectionRunner, *, wait: bool = False) -> Iterator[bool]:
    """True while this process alone works the store's deadlines; False if another does.

    With ``wait`` it waits for the other to finish its tick instead (the test
    clock must fire everything before it moves).
    """
    view: Any = runner.deadlines.view
    if backend_of(view) == "postgres":
        key = _advisory_key(view.datastore.schema)
        with view.datastore.get_connection() as conn:
            if wait:
                conn.execute("SELECT pg_advisory_lock(%s)", [key])
                got = True
            else:
                row = conn.execute("SELECT pg_try_advisory_lock(%s) AS got", [key]).fetchone()
                got = bool(row and row["got"])
            try:
                yield got
            finally:
                if got:
                    conn.execute("SELECT pg_advisory_unlock(%s)", [key])
                conn.rollback()
        return
    name = str(view.datastore.pool.db_name)
    if ":memory:" in name or name.startswith("file:"):
        with _LOCAL_LOCK:
            yield True
        return
    with Path(name + ".scheduler.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
