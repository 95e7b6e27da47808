"""The ledger's recorders: the library's, plus the audit chain and the read check.

Each insert, in its own transaction and under the store's write lock (the
library's EXCLUSIVE lock on PostgreSQL's events table; SQLite's single writer):

* links the new events into the audit chain (``ledger.audit_chain``), from the
  fields in hand rather than read back;
* refuses with ``StaleRead`` when an aggregate the command only read has a
  newer event than the version it read (``ledger.read_set``), writing nothing.

On PostgreSQL a command's write is one round trip (``ONE_TRIP``): the lock,
the insert, the read check, the chain's links (SHA-256 computed by the server,
byte for byte the encoding ``ledger.audit_chain`` verifies) and the commit go
out as one pipeline. The lock is held only while the server works, never across
a client's turnaround or a wait for the GIL. The library's insert and the chain
took nine statements and four round trips. A store whose chain has no link yet
(a new store, or one written before the chain) takes the three-trip path once,
which links its old events first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore
from eventsourcing.utils import retry
from psycopg.pq import TransactionStatus
from psycopg.sql import SQL, Composed, Identifier, Literal

from ledger.audit_chain import (
    _LAST_LINK,
    CHAIN_TABLE,
    GENESIS,
    _link_range,
    _PostgresSQL,
    _SQLiteSQL,
    as_uuid,
    chain_links,
)
from ledger.read_set import READS, StaleRead

_INSERT_LINKS = "INSERT INTO {chain} (position, link) VALUES (%s, %s)"

READ_CHECK_CHUNK = 400
"""Ids per SQLite read-check statement (``bulk_reads.CHUNK`` reads the same way)."""

ONE_TRIP = (
    # In the snapshot taken after the lock: the chain's newest link, and whether an
    # aggregate the command only read has changed. Either refusal inserts nothing.
    "WITH RECURSIVE pre AS (SELECT"
    " (SELECT link FROM {chain} ORDER BY position DESC LIMIT 1) AS last_link,"
    " EXISTS ({newer}) AS stale),"
    " new AS (INSERT INTO {events} (originator_id, originator_version, topic, state)"
    " SELECT e.originator_id, e.originator_version, e.topic, e.state"
    " FROM unnest(%b::uuid[], %b::int8[], %b::text[], %b::bytea[]) WITH ORDINALITY"
    " AS e(originator_id, originator_version, topic, state, n), pre"
    " WHERE NOT pre.stale AND pre.last_link IS NOT NULL ORDER BY e.n"
    " RETURNING notification_id, originator_id, originator_version, topic, state),"
    # ledger.audit_chain's link_input, each event's part after the previous link
    " body AS MATERIALIZED (SELECT count(*) AS n,"
    " array_agg(notification_id ORDER BY notification_id) AS ids,"
    " array_agg(int8send(notification_id) || uuid_send(originator_id)"
    " || int8send(originator_version) || int4send(octet_length(convert_to(topic, 'UTF8')))"
    " || convert_to(topic, 'UTF8') || int4send(octet_length(state)) || state"
    " ORDER BY notification_id) AS parts FROM new),"
    " links(i, position, link) AS (SELECT 0::int8, NULL::int8, last_link FROM pre"
    " UNION ALL SELECT l.i + 1, b.ids[l.i + 1], sha256(l.link || b.parts[l.i + 1])"
    " FROM links l, body b WHERE l.i < b.n),"
    " linked AS (INSERT INTO {chain} (position, link)"
    " SELECT position, link FROM links WHERE i > 0 RETURNING position)"
    " SELECT pre.stale, pre.last_link IS NULL AS unlinked,"
    " (SELECT count(*) FROM linked) AS linked,"
    " ARRAY(SELECT notification_id FROM new) AS ids,"
    " ARRAY(SELECT originator_id FROM new) AS originator_ids,"
    " ARRAY(SELECT originator_version FROM new) AS versions FROM pre"
)
"""The whole write in one statement. Why the links in SQL: the link of each event
needs its notification id, which only the insert knows, and the previous link,
which only the store knows under the lock; computing them here spares the two
extra round trips that fetching them and sending the links back took.

Only this statement is prepared (psycopg's cache, ``prepare=True``); the others
of the pipeline go unprepared. A statement psycopg prepares inside a pipeline
after one that fails (COMMIT, behind an insert refused by a version conflict)
is never parsed by the server, yet psycopg counts it as prepared: every later
use on that connection failed with "prepared statement does not exist" (found by
``make bench`` with several server processes). Should it happen anyway (a lock
timeout before this statement's first use on a connection, or a server that
dropped its statements), the connection is closed and the write retried on a new
one. Unprepared, the server would plan this statement on every write, under the
lock (1 thread: 420 commands/s against 608 prepared in the same mix).
"""


def _stale(ids: Sequence[UUID]) -> StaleRead:
    return StaleRead(f"read {len(ids)} aggregate(s) that changed before this write")


class SQLiteLedgerRecorder(SQLiteApplicationRecorder):
    keeps_audit_chain = True

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name)
        self._sql = _SQLiteSQL(self)

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(),
                f"CREATE TABLE IF NOT EXISTS {CHAIN_TABLE} "
                "(position INTEGER PRIMARY KEY, link BLOB NOT NULL)"]

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        # The insert comes first: it takes the write lock, after which this
        # transaction reads the newest state, which the check and the link need.
        ids = super()._insert_events(c, stored_events, **kwargs)
        reads: Mapping[UUID, int] = kwargs.get(READS) or {}
        if reads and self._newer(c, reads):
            raise _stale(list(reads))  # the transaction rolls back
        if ids:
            d = self._sql
            c.execute(d.q(_LAST_LINK))
            last = c.fetchone()
            positions = [int(i) for i in ids]
            previous = GENESIS if last is None else bytes(last["link"])
            if last is None:  # a store from before the chain: its old events first
                previous, _ = _link_range(d, c, previous, after=None, before=min(positions))
            c.executemany(d.q(_INSERT_LINKS), chain_links(previous, stored_events, positions))
        return ids

    def _newer(self, c: SQLiteCursor, reads: Mapping[UUID, int]) -> bool:
        """Whether any id read has an event above the version read. In chunks: SQLite
        refuses an expression deeper than 1,000 terms, and a command on a contract
        reads every contract of its relationship (a busy pair has hundreds)."""
        table = self.events_table_name  # our own name and fixed text; the values are bound
        items = list(reads.items())
        for lo in range(0, len(items), READ_CHECK_CHUNK):
            chunk = items[lo:lo + READ_CHECK_CHUNK]
            where = " OR ".join(["(originator_id = ? AND originator_version > ?)"] * len(chunk))
            params = [p for aggregate_id, version in chunk for p in (aggregate_id.hex, version)]
            c.execute(f"SELECT 1 FROM {table} WHERE {where} LIMIT 1", params)  # noqa: S608
            if c.fetchone() is not None:
                return True
        return False

    def changed_since(self, versions: Mapping[UUID, int]) -> bool:
        if not versions:
            return False
        with self.datastore.transaction(commit=False) as c:
            return self._newer(c, versions)


class PostgresLedgerRecorder(PostgresApplicationRecorder):
    keeps_audit_chain = True

    def __init__(self, datastore: PostgresDatastore, *,
                 events_table_name: str = "stored_events") -> None:
        if datastore.enable_db_functions:
            # that path inserts through a stored function with no hook for the link
            raise ValueError("the audit chain needs POSTGRES_ENABLE_DB_FUNCTIONS off")
        super().__init__(datastore, events_table_name=events_table_name)
        self.sql_create_statements.append(SQL(
            "CREATE TABLE IF NOT EXISTS {}.{} (position bigint PRIMARY KEY, link bytea NOT NULL)"
        ).format(Identifier(datastore.schema), Identifier(CHAIN_TABLE)))
        self._sql = _PostgresSQL(self)
        schema = Identifier(datastore.schema)
        events = SQL("{}.{}").format(schema, Identifier(self.events_table_name))
        self._chain = SQL("{}.{}").format(schema, Identifier(CHAIN_TABLE))
        self._begin_and_lock = SQL("; ").join([
            SQL("BEGIN"), *self.lock_table_statements,
            SQL("NOTIFY {}").format(Identifier(self.channel_name))])
        # LATERAL ... LIMIT 1: an index probe per id read, whatever plan a prepared
        # statement settles on (a join let it hash the whole events table: 0.9 ms at 5,000
        # events, growing with the log).
        newer = SQL("SELECT 1 FROM unnest(%s::uuid[], %s::int8[]) AS r(id, v) CROSS JOIN "
                    "LATERAL (SELECT 1 FROM {} e WHERE e.originator_id = r.id "
                    "AND e.originator_version > r.v LIMIT 1) AS found").format(events)
        self._newer_sql = newer + SQL(" LIMIT 1")
        # One statement: the insert, and (in the snapshot taken after the lock, before
        # the insert) the chain's newest link and whether anything read has changed.
        self._insert_and_check = SQL(
            "WITH new AS (INSERT INTO {events} (originator_id, originator_version, topic, state)"
            " SELECT originator_id, originator_version, topic, state"
            " FROM unnest(%s::uuid[], %s::int8[], %s::text[], %s::bytea[])"
            " AS e(originator_id, originator_version, topic, state)"
            " RETURNING notification_id, originator_id, originator_version)"
            " SELECT notification_id, originator_id, originator_version,"
            " (SELECT link FROM {chain} ORDER BY position DESC LIMIT 1) AS last_link,"
            " EXISTS ({newer}) AS stale FROM new"
        ).format(events=events, chain=self._chain, newer=newer)
        self._one_trip = SQL(ONE_TRIP).format(events=events, chain=self._chain, newer=newer)
        self._opening = [SQL("BEGIN"), *self.lock_table_statements,
                         SQL("NOTIFY {}").format(Identifier(self.channel_name))]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        """The library's insert (its table lock, notification and insert) with the chain's
        links and the read check, in one round trip (``ONE_TRIP``); in three the first
        time a store's chain is empty."""
        if not stored_events:
            return []
        reads: Mapping[UUID, int] = kwargs.get(READS) or {}
        columns = ([as_uuid(e.originator_id) for e in stored_events],
                   [e.originator_version for e in stored_events],
                   [e.topic for e in stored_events], [e.state for e in stored_events])
        with self.datastore.get_connection() as conn:
            try:
                ids = self._in_one_trip(conn, stored_events, columns, reads)
            except psycopg.errors.InvalidSqlStatementName as e:
                # psycopg's cache and the server disagree (see ONE_TRIP); nothing was
                # written: a new connection starts clean, and the retry takes one
                conn.close()
                raise OperationalError(f"the write's prepared statement was lost: {e}") from e
            if ids is not None:
                return ids
            return self._in_three_trips(conn, stored_events, columns, reads)

    def _in_one_trip(self, conn: Any, stored_events: Sequence[StoredEvent],
                     columns: tuple[list[Any], ...], reads: Mapping[UUID, int],
                     ) -> Sequence[int] | None:
        """The ids the events got, or None when the chain had no link to follow (nothing
        was written)."""
        try:
            with conn.pipeline():
                curs = conn.cursor()
                for statement in self._opening:
                    curs.execute(statement, prepare=False)
                out = conn.cursor()
                # the read check's two arrays come first in the statement's text
                out.execute(self._one_trip, (list(reads), list(reads.values()), *columns),
                            prepare=True)
                curs.execute(SQL("COMMIT"), prepare=False)
        except BaseException:
            _roll_back(conn)
            raise
        row = out.fetchone()
        if row["stale"]:
            raise _stale(list(reads))
        if row["unlinked"]:
            return None
        if row["linked"] != len(stored_events) or len(row["ids"]) != len(stored_events):
            # cannot happen (one statement, all or nothing); never answer ids not written
            raise InterfaceError(f"wrote {row['linked']} links for {len(stored_events)} events")
        by_event = {(o, v): int(i) for i, o, v in
                    zip(row["ids"], row["originator_ids"], row["versions"], strict=True)}
        return [by_event[(as_uuid(e.originator_id), e.originator_version)]
                for e in stored_events]

    def _in_three_trips(self, conn: Any, stored_events: Sequence[StoredEvent],
                        columns: tuple[list[Any], ...], reads: Mapping[UUID, int],
                        ) -> Sequence[int]:
        """Begin and lock; insert, read the newest link and check the reads in one
        statement; links and commit. A store's first write links its older events first."""
        with conn.cursor() as curs:
            curs.execute(self._begin_and_lock)
            try:
                curs.execute(self._insert_and_check,
                             (*columns, list(reads), list(reads.values())), prepare=True)
                inserted = curs.fetchall()
                if inserted[0]["stale"]:
                    curs.execute("ROLLBACK")
                    raise _stale(list(reads))
                by_event = {(r["originator_id"], r["originator_version"]):
                            int(r["notification_id"]) for r in inserted}
                ids = [by_event[(as_uuid(e.originator_id), e.originator_version)]
                       for e in stored_events]
                last = inserted[0]["last_link"]
                previous = GENESIS if last is None else bytes(last)
                if last is None:  # a store from before the chain: its old events first
                    previous, _ = _link_range(self._sql, curs, previous, after=None,
                                              before=min(ids))
                links = chain_links(previous, stored_events, ids)
                curs.execute(self._links_and_commit(links))
            except BaseException:
                _roll_back(conn)
                raise
        return ids

    def _links_and_commit(self, links: list[tuple[int, bytes]]) -> Composed:
        """The chain's rows as literals, so that they and COMMIT go as one simple query."""
        values = SQL(", ").join(SQL("({}, {})").format(Literal(position), Literal(link))
                                for position, link in links)
        return SQL("INSERT INTO {} (position, link) VALUES {}; COMMIT").format(
            self._chain, values)

    def changed_since(self, versions: Mapping[UUID, int]) -> bool:
        if not versions:
            return False
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._newer_sql, (list(versions), list(versions.values())))
            return curs.fetchone() is not None


def _roll_back(conn: Any) -> None:
    """Ends a transaction a failure left open, so the pooled connection is clean."""
    if conn.pgconn.transaction_status != TransactionStatus.IDLE:
        with contextlib.suppress(psycopg.Error):
            conn.execute("ROLLBACK")

