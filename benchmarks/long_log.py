"""A long event log for the replay, audit and read benchmarks, shared so each builds it alike.

The log is the demo's stored events (real topics and bytes: decodable, every posting
balanced) copied under new aggregate ids until it holds the length asked for:

* the first ``through_recorder`` events go through the ledger's chained recorder in
  batches of 1,000 (one transaction each, the chain link written inside it), which is
  the write figure the audit benchmark reports;
* the rest are appended in bulk (COPY on PostgreSQL, one ``executemany`` per 10,000 on
  SQLite) with their chain links computed by ``ledger.audit_chain.next_link``, the
  function the recorder itself uses. Why: the library writes an array of composite
  values per insert, which runs at a few thousand events a second here; a million
  events that way took minutes of ``make bench`` and measured nothing new. ``verify``
  then recomputes every link from the raw rows, as it would for any log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import StoredEvent
from psycopg.sql import SQL, Identifier

from entrypoints.demo import seed_demo
from ledger import audit_chain
from ledger.application import EscrowLedger
from ledger.settings import store_from_url
from ledger.stores import backend_of

BULK_BATCH = 10_000


@dataclass(frozen=True)
class Filled:
    events: int
    """Events written after the template (the demo's own are in the store before them)."""
    recorder_events_per_s: float
    """Through the chained recorder, batches of 1,000 per transaction."""
    bulk_events_per_s: float
    seconds: float


def template_events(url: str) -> list[StoredEvent]:
    """Seeds the demo into the store at ``url`` and returns its stored events, in log order."""
    app = EscrowLedger(store_from_url(url).env)
    try:
        seed_demo(app)
        rows = app.recorder.select_notifications(start=1, limit=10_000)
        return [StoredEvent(n.originator_id, n.originator_version, n.topic, n.state)
                for n in rows]
    finally:
        app.close()


def copies(template: list[StoredEvent], count: int) -> list[StoredEvent]:
    """``count`` events: whole copies of the template under new ids, the last one cut short
    (its aggregates lack their later versions, which nothing here reads)."""
    batch: list[StoredEvent] = []
    while len(batch) < count:
        ids: dict[Any, UUID] = {}
        for e in template:
            new = ids.setdefault(e.originator_id, uuid4())
            batch.append(StoredEvent(new, e.originator_version, e.topic, e.state))
    return batch[:count]


def fill(url: str, template: list[StoredEvent], events: int, *,
         through_recorder: int = 20_000, progress: bool = True) -> Filled:
    """Appends ``events`` events after the template (see the module docstring)."""
    app = EscrowLedger(store_from_url(url).env)
    started = time.monotonic()
    try:
        first = min(events, through_recorder)
        written = 0
        while written < first:
            batch = copies(template, min(1000, first - written))
            app.recorder.insert_events(batch)
            written += len(batch)
        recorded = time.monotonic()
        while written < events:
            _bulk_append(app, copies(template, min(BULK_BATCH, events - written)))
            written += min(BULK_BATCH, events - written)
            if progress and written % 100_000 < BULK_BATCH:
                print(f"    {written:>9,} events written", flush=True)
        done = time.monotonic()
    finally:
        app.close()
    return Filled(events, first / (recorded - started) if first else 0.0,
                  (events - first) / (done - recorded) if events > first else 0.0,
                  done - started)


def _bulk_append(app: EscrowLedger, batch: list[StoredEvent]) -> None:
    """One transaction: the events at the next positions and their links after the head."""
    head = audit_chain.head(app)
    previous, position = bytes.fromhex(head.link_hex), head.position
    events: list[tuple[int, UUID, int, str, bytes]] = []
    links: list[tuple[int, bytes]] = []
    for e in batch:
        position += 1
        oid = UUID(str(e.originator_id))
        previous = audit_chain.next_link(previous, audit_chain.Row(
            position, oid, e.originator_version, e.topic, e.state))
        events.append((position, oid, e.originator_version, e.topic, e.state))
        links.append((position, previous))
    recorder: Any = app.recorder
    if backend_of(recorder) == "sqlite":
        with recorder.datastore.transaction(commit=True) as c:
            c.executemany(f"INSERT INTO {recorder.events_table_name} "
                          "(rowid, originator_id, originator_version, topic, state) "
                          "VALUES (?, ?, ?, ?, ?)",
                          [(p, str(o), v, t, s) for p, o, v, t, s in events])
            c.executemany(f"INSERT INTO {audit_chain.CHAIN_TABLE} (position, link) "
                          "VALUES (?, ?)", links)
        return
    schema, table = Identifier(recorder.datastore.schema), recorder.events_table_name
    with recorder.datastore.transaction(commit=True) as curs:
        with curs.copy(SQL("COPY {}.{} (notification_id, originator_id, originator_version, "
                           "topic, state) FROM STDIN").format(schema, Identifier(table))) as cp:
            for event in events:
                cp.write_row(event)
        with curs.copy(SQL("COPY {}.{} (position, link) FROM STDIN").format(
                schema, Identifier(audit_chain.CHAIN_TABLE))) as cp:
            for link in links:
                cp.write_row(link)
        # the library's inserts take their ids from the sequence: move it past ours
        curs.execute(SQL("SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s)"),
                     [f'"{recorder.datastore.schema}"."{table}"', position])


def analyze(url: str) -> None:
    """Fresh planner statistics (and no dead rows) after a bulk load, as autovacuum would
    leave them in production: the shared benchmark server may run with it off."""
    app = EscrowLedger(store_from_url(url).env)
    try:
        recorder: Any = app.recorder
        if backend_of(recorder) == "sqlite":
            with recorder.datastore.transaction(commit=True) as c:
                c.execute("ANALYZE")
            return
        schema = recorder.datastore.schema
        with recorder.datastore.get_connection() as conn:
            conn.commit()
            conn.autocommit = True
            try:
                tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s",
                                      [schema]).fetchall()
                for row in tables:
                    conn.execute(SQL("VACUUM ANALYZE {}.{}").format(
                        Identifier(schema), Identifier(row["tablename"])))
            finally:
                conn.autocommit = False
    finally:
        app.close()
