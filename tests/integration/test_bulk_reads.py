"""Many aggregates' new events in one query (ledger/bulk_reads.py), the read a batch's
prefetch makes: the right events on both stores, and on PostgreSQL a plan that probes
the index per id instead of reading the whole log (which made the Monday burst's
prefetch grow with the log)."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from ledger import bulk_reads
from ledger.application import EscrowLedger


def _events(ids: list[UUID], versions: int) -> list[StoredEvent]:
    return [StoredEvent(originator_id=i, originator_version=v, topic="tests:Event",
                        state=b'{"v": %d}' % v) for v in range(1, versions + 1) for i in ids]


def test_each_id_gets_its_events_above_the_version_held_in_order(app: EscrowLedger) -> None:
    ids = [uuid4() for _ in range(5)]
    app.recorder.insert_events(_events(ids, 4))
    absent = uuid4()
    held = {ids[0]: 0, ids[1]: 2, ids[2]: 4, absent: 0}
    found = bulk_reads.events_after(app.recorder, held)
    assert sorted(found) == sorted([ids[0], ids[1]])  # nothing newer for ids[2], absent
    assert [e.originator_version for e in found[ids[0]]] == [1, 2, 3, 4]
    assert [e.originator_version for e in found[ids[1]]] == [3, 4]
    assert found[ids[1]][0].state == b'{"v": 3}'
    assert {str(e.originator_id) for e in found[ids[1]]} == {str(ids[1])}


def test_more_ids_than_one_statement_takes(app: EscrowLedger) -> None:
    ids = [uuid4() for _ in range(bulk_reads.CHUNK + 7)]
    app.recorder.insert_events(_events(ids, 2))
    found = bulk_reads.events_after(app.recorder, dict.fromkeys(ids, 1))
    assert len(found) == len(ids)
    assert all([e.originator_version for e in events] == [2] for events in found.values())


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_the_postgres_read_probes_the_index_per_id_without_statistics(
        app: EscrowLedger) -> None:
    """A table never analysed (autovacuum off, or the burst outran it) is where the
    planner merge-joined the whole log: the plan must stay a loop of index probes."""
    ids = [uuid4() for _ in range(3000)]
    app.recorder.insert_events(_events(ids, 2))
    recorder: object = app.recorder
    statement = bulk_reads.postgres_statement(recorder)  # type: ignore[arg-type]
    datastore = app.recorder.datastore  # type: ignore[attr-defined]
    with datastore.transaction(commit=False) as curs:
        curs.execute(b"EXPLAIN " + statement.as_bytes(curs), (ids[:400], [0] * 400))
        plan = "\n".join(next(iter(r.values())) for r in curs.fetchall())
    assert "Nested Loop" in plan, plan
    assert "Index" in plan, plan
    assert not any(word in plan for word in ("Merge Join", "Hash Join", "Seq Scan")), plan
