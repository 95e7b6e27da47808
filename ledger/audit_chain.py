"""The hash chain over the log: every stored event linked to the one before it, in log order.

Why: an auditor must be able to trust history without trusting us. Each stored
event's link is SHA-256 over the previous link and the event's raw stored
fields; keeping the newest link (a digest) lets anyone later check that nothing
at or before it changed, was removed, reordered or slipped in.

The encoding (``link_input``), one unambiguous byte string per event::

    previous link        32 bytes (32 zero bytes before the first event)
    position              8 bytes, big-endian signed (the notification id)
    aggregate id         16 bytes (the UUID's bytes)
    aggregate version     8 bytes, big-endian signed
    len(topic)            4 bytes, big-endian unsigned, then the topic in UTF-8
    len(state)            4 bytes, big-endian unsigned, then the stored bytes

The link is written by the recorder in the same transaction as the event, after
the insert (PostgreSQL: under the library's EXCLUSIVE lock on the events table;
SQLite: its single writer), into ``audit_chain(position, link)``. The ledger
gets these recorders (``ledger/recorders.py``) through the library's own
``APPLICATION_RECORDER_TOPIC`` (``ledger/settings.py``). A store written
before the chain existed has events without links: the first write links them
first, in the same transaction (or call ``backfill`` beforehand); a store
where some events are linked and older ones are not is left as it is, and
``verify`` names the first unlinked one.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier
from psycopg.types.string import ByteaBinaryLoader

from ledger.stores import backend_of

CHAIN_TABLE = "audit_chain"
GENESIS = bytes(32)
BATCH = 10_000

ENCODING = (
    "link(n) = SHA-256(link(previous event) [32 zero bytes before the first] || "
    "position int64 BE || aggregate id 16-byte UUID || version int64 BE || "
    "uint32 BE len(topic) || topic UTF-8 || uint32 BE len(state) || state)"
)


@dataclass(frozen=True)
class Row:
    """One stored event as the chain sees it: its raw fields, nothing decoded."""

    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


def link_input(previous: bytes, row: Row) -> bytes:
    topic = row.topic.encode("utf-8")
    return b"".join((
        previous, struct.pack(">q", row.position), row.originator_id.bytes,
        struct.pack(">q", row.originator_version),
        struct.pack(">I", len(topic)), topic, struct.pack(">I", len(row.state)), row.state,
    ))


def next_link(previous: bytes, row: Row) -> bytes:
    return _link(previous, row.position, row.originator_id.bytes, row.originator_version,
                 row.topic.encode("utf-8"), row.state)


_FIXED = struct.Struct(">q16sqI")  # position, aggregate id, version, len(topic)
_LENGTH = struct.Struct(">I")


def _link(previous: bytes, position: int, originator_id: bytes, version: int, topic: bytes,
          state: bytes) -> bytes:
    """``link_input`` hashed with no ``Row`` built: verify's inner loop."""
    return hashlib.sha256(b"".join((
        previous, _FIXED.pack(position, originator_id, version, len(topic)), topic,
        _LENGTH.pack(len(state)), state))).digest()


# ---- the two dialects: the same few queries ---------------------------------------------


class _SQLiteSQL:
    def __init__(self, recorder: SQLiteApplicationRecorder) -> None:
        self.events = recorder.events_table_name
        self.datastore = recorder.datastore
        self.mark = "?"

    def q(self, text: str) -> str:
        return text.format(events=self.events, chain=CHAIN_TABLE, id="rowid").replace("%s", "?")

    def row(self, r: Any) -> Row:
        return Row(int(r["position"]), UUID(r["originator_id"]), int(r["originator_version"]),
                   r["topic"], bytes(r["state"]))

    def read(self, statement: str, params: Sequence[Any]) -> list[Any]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.q(statement), params)
            return list(c.fetchall())

    def tuples(self, statement: str, params: Sequence[Any]) -> list[Any]:
        with self.datastore.transaction(commit=False) as c:
            c.sqlite_cursor.row_factory = None  # plain tuples: this cursor only
            c.execute(self.q(statement), params)
            return list(c.fetchall())

    @staticmethod
    def id_bytes(value: Any) -> bytes:  # canonical text as stored: no UUID object
        raw = bytes.fromhex(value.replace("-", ""))
        return raw if len(raw) == 16 else UUID(value).bytes


class _PostgresSQL:
    def __init__(self, recorder: PostgresApplicationRecorder) -> None:
        self.schema = recorder.datastore.schema
        self.events = recorder.events_table_name
        self.datastore = recorder.datastore
        self.mark = "%s"

    def q(self, text: str) -> Composed:
        return SQL(text).format(  # our own fixed text, never a caller's
            events=SQL("{}.{}").format(Identifier(self.schema), Identifier(self.events)),
            chain=SQL("{}.{}").format(Identifier(self.schema), Identifier(CHAIN_TABLE)),
            id=SQL("notification_id"))

    def row(self, r: Any) -> Row:
        return Row(int(r["position"]), r["originator_id"], int(r["originator_version"]),
                   r["topic"], bytes(r["state"]))

    def read(self, statement: str, params: Sequence[Any]) -> list[Any]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self.q(statement), params)
            return list(curs.fetchall())

    def tuples(self, statement: str, params: Sequence[Any]) -> list[Any]:
        """Binary tuples, UUIDs as 16 raw bytes: nothing to parse (hex bytea was half)."""
        with self.datastore.transaction(commit=False) as curs:
            cur = curs.connection.cursor(binary=True, row_factory=tuple_row)
            cur.adapters.register_loader("uuid", ByteaBinaryLoader)  # this cursor only
            cur.execute(self.q(statement), params)
            return list(cur.fetchall())

    id_bytes = staticmethod(bytes)  # ``tuples`` read the id as its raw bytes


Dialect = _SQLiteSQL | _PostgresSQL

_EVENTS = ("SELECT {id} AS position, originator_id, originator_version, topic, state "
           "FROM {events} ")
_LINKS = "SELECT position, link FROM {chain}"
_BEFORE_ALL = -(2**63)
_LAST_LINK = "SELECT position, link FROM {chain} ORDER BY position DESC LIMIT 1"


def as_uuid(value: UUID | str) -> UUID:
    """A stored event's id as a UUID (the library keeps either)."""
    return value if isinstance(value, UUID) else UUID(value)


def chain_links(previous: bytes, stored_events: Sequence[Any],
                ids: Sequence[int]) -> list[tuple[int, bytes]]:
    """(position, link) for events just inserted at ``ids``, from the fields in hand: the
    same bytes the store now holds, so nothing needs reading back."""
    links = []
    for position, e in sorted(zip(ids, stored_events, strict=True), key=lambda p: p[0]):
        previous = _link(previous, int(position), as_uuid(e.originator_id).bytes,
                         e.originator_version, e.topic.encode("utf-8"), e.state)
        links.append((int(position), previous))
    return links


def _link_range(d: Dialect, cur: Any, previous: bytes, *, after: int | None,
                before: int | None) -> tuple[bytes, int]:
    """Links every event in (after, before), in batches on ``cur``; the last link and count."""
    count = 0
    while True:
        where = ["{id} > %s" if after is not None else "1=1"]
        params: list[Any] = [] if after is None else [after]
        if before is not None:
            where.append("{id} < %s")
            params.append(before)
        cur.execute(d.q(_EVENTS + "WHERE " + " AND ".join(where)
                        + f" ORDER BY {{id}} LIMIT {BATCH}"), params)
        rows = [d.row(r) for r in cur.fetchall()]
        if not rows:
            return previous, count
        links = []
        for row in rows:
            previous = next_link(previous, row)
            links.append((row.position, previous))
        cur.executemany(d.q("INSERT INTO {chain} (position, link) VALUES (%s, %s)"), links)
        after, count = rows[-1].position, count + len(rows)


def _dialect(app: Application[Any]) -> Dialect:
    recorder = app.recorder
    if not getattr(recorder, "keeps_audit_chain", False):  # ledger.recorders
        raise TypeError("this ledger does not keep the audit chain (APPLICATION_RECORDER_TOPIC)")
    if backend_of(recorder) == "sqlite":
        assert isinstance(recorder, SQLiteApplicationRecorder)
        return _SQLiteSQL(recorder)
    assert isinstance(recorder, PostgresApplicationRecorder)
    return _PostgresSQL(recorder)


def backfill(app: Application[Any]) -> int:
    """Links a pre-chain store's events now (instead of on its first write); how many.

    Only when the chain is empty; runs under the same write lock as an insert.
    """
    d = _dialect(app)
    if isinstance(d, _SQLiteSQL):
        with d.datastore.transaction(commit=True) as c:
            c.execute(d.q("DELETE FROM {chain} WHERE 0 = 1"))  # takes the write lock now
            c.execute(d.q(_LAST_LINK))
            if c.fetchone() is not None:
                return 0
            return _link_range(d, c, GENESIS, after=None, before=None)[1]
    with d.datastore.transaction(commit=True) as curs:
        curs.execute(SQL("LOCK TABLE {}.{} IN EXCLUSIVE MODE").format(
            Identifier(d.schema), Identifier(d.events)))
        curs.execute(d.q(_LAST_LINK))
        if curs.fetchone() is not None:
            return 0
        return _link_range(d, curs, GENESIS, after=None, before=None)[1]


# ---- reading the chain: head, verify, prefix, proof ---------------------------------------


@dataclass(frozen=True)
class Digest:
    """The chain's head: whoever keeps it can later prove nothing up to it changed."""

    position: int
    link_hex: str
    at: datetime

    def as_json(self) -> dict[str, Any]:
        return {"position": self.position, "link": self.link_hex, "at": self.at.isoformat()}


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    checked: int  # events whose link was recomputed and matched
    head: int  # the last position looked at (the chain's head when ok)
    first_bad: int | None = None
    reason: str | None = None


def _now(app: Application[Any]) -> datetime:
    clock = getattr(app, "clock", None)
    return clock.now() if clock is not None else datetime.now(UTC)


def head(app: Application[Any]) -> Digest:
    """The newest link; position 0 and 32 zero bytes on an empty chain."""
    d = _dialect(app)
    found = d.read(_LAST_LINK, [])
    if not found:
        return Digest(0, GENESIS.hex(), _now(app))
    return Digest(int(found[0]["position"]), bytes(found[0]["link"]).hex(), _now(app))


def _stream(d: Dialect, select: str, column: str, *, after: int, upto: int) -> Iterator[Any]:
    """Rows of ``select`` with ``after < column <= upto`` in that order, 10,000 at a time, as
    plain tuples (``d.tuples``). ``upto`` is applied here: with both bounds in SQL,
    PostgreSQL's planner (on a table not yet analysed) sorted the whole remaining range
    for every page, quadratic in the log; ORDER BY ... LIMIT walks the primary key."""
    statement = select + f" WHERE {column} > %s ORDER BY {column} LIMIT {BATCH}"
    while rows := d.tuples(statement, [after]):
        if int(rows[-1][0]) > upto:
            yield from (r for r in rows if int(r[0]) <= upto)
            return
        yield from rows
        if len(rows) < BATCH:
            return
        after = int(rows[-1][0])


def verify(app: Application[Any], *, upto: int | None = None,
           progress: Callable[[int, int], None] | None = None) -> VerifyReport:
    """Recomputes the chain from the raw stored rows and names the first position that fails.

    Streams both tables in position order (memory flat in the log's length); stops at
    ``upto`` or, by default, at the newest event or link when the call starts (rows
    written meanwhile are left for the next run). ``progress(done, total_hint)``.
    """
    d = _dialect(app)
    if upto is None:
        top = d.read("SELECT (SELECT MAX({id}) FROM {events}) AS e, "
                     "(SELECT MAX(position) FROM {chain}) AS c", [])[0]
        upto = max(int(top["e"] or 0), int(top["c"] or 0))
    events = _stream(d, _EVENTS, "{id}", after=_BEFORE_ALL, upto=upto)
    chain = _stream(d, _LINKS, "position", after=_BEFORE_ALL, upto=upto)
    previous, checked, last = GENESIS, 0, 0
    topics: dict[str, bytes] = {}
    id_bytes = d.id_bytes
    link_row = next(chain, None)
    for position, originator_id, version, topic, state in events:
        if link_row is not None and link_row[0] < position:
            return VerifyReport(False, checked, last, int(link_row[0]),
                                "a link for a missing event")
        if link_row is None or link_row[0] > position:
            return VerifyReport(False, checked, last, position, "an event without a link")
        encoded = topics.get(topic) or topics.setdefault(topic, topic.encode("utf-8"))
        previous = _link(previous, position, id_bytes(originator_id), version, encoded,
                         bytes(state))
        if bytes(link_row[1]) != previous:
            return VerifyReport(False, checked, last, position,
                                "the event's link does not match its stored fields")
        checked, last = checked + 1, position
        if progress is not None and checked % BATCH == 0:
            progress(checked, upto)
        link_row = next(chain, None)
    if link_row is not None:
        return VerifyReport(False, checked, last, int(link_row[0]),
                            "a link for a missing event")
    if progress is not None:
        progress(checked, upto)
    return VerifyReport(True, checked, last)


def links(app: Application[Any], positions: Sequence[int]) -> dict[int, str]:
    """The stored link (hex) of each of these positions that has one; nothing when this
    ledger keeps no chain. Read 500 positions a query, so a long contract costs few."""
    try:
        d = _dialect(app)
    except TypeError:
        return {}
    found: dict[int, str] = {}
    wanted = sorted(set(positions))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        marks = ",".join(["%s"] * len(chunk))
        for r in d.read(_LINKS + f" WHERE position IN ({marks})", chunk):
            found[int(r["position"])] = bytes(r["link"]).hex()
    return found


def _stored_link(d: Dialect, position: int) -> bytes | None:
    found = d.read(_LINKS + " WHERE position = %s", [position])
    return bytes(found[0]["link"]) if found else None


def is_prefix(app: Application[Any], digest: Digest) -> bool:
    """Whether an earlier digest is a prefix of today's chain: its link is still stored at its
    position and everything up to it still recomputes to it."""
    if digest.position == 0:
        return digest.link_hex == GENESIS.hex()
    d = _dialect(app)
    if _stored_link(d, digest.position) != bytes.fromhex(digest.link_hex):
        return False
    report = verify(app, upto=digest.position)
    return report.ok and report.head == digest.position


def _row_json(row: Row, link: bytes | None) -> dict[str, Any]:
    return {"position": row.position, "originator_id": row.originator_id.hex,
            "originator_version": row.originator_version, "topic": row.topic,
            "state_b64": base64.b64encode(row.state).decode("ascii"),
            "stored_link": None if link is None else link.hex()}


def proof(app: Application[Any], position: int, digest: Digest) -> dict[str, Any]:
    """What an auditor needs to recompute the chain from the event at ``position`` to a digest
    they trust: the link before it and every event from it to the digest, raw.

    ``entrypoints/verify_proof.py`` checks it with the standard library alone.
    """
    if not 0 < position <= digest.position:
        raise ValueError(f"position {position} is not within the digest (1..{digest.position})")
    d = _dialect(app)
    before = d.read("SELECT link FROM {chain} WHERE position < %s "
                    "ORDER BY position DESC LIMIT 1", [position])
    links = {int(r[0]): bytes(r[1]) for r in _stream(
        d, _LINKS, "position", after=position - 1, upto=digest.position)}
    events = [_row_json(row, links.get(row.position)) for row in (
        Row(int(p), UUID(bytes=d.id_bytes(o)), int(v), t, bytes(s)) for p, o, v, t, s in
        _stream(d, _EVENTS, "{id}", after=position - 1, upto=digest.position))]
    return {
        "encoding": ENCODING,
        "position": position,
        "previous_link": (bytes(before[0]["link"]) if before else GENESIS).hex(),
        "events": events,
        "digest": digest.as_json(),
    }
