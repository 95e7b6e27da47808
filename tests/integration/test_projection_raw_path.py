"""The fast rebuild reads the same journal as decoding every event, one at a time, did.

``projections.postings.PostingReader`` skips events that cannot post and reads the
postings of the rest from the stored JSON; the runner rebuilds in batches of thousands
and writes postings by COPY on PostgreSQL. Each shortcut is held here to the plain path
(``rows_for`` over every decoded event, a projection fed one event per transaction) on
a history mixing every capability, and on events stored by the first versions of the
code (which need upcasting, so must be decoded).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent, Tracking

from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from projections.postings import PostingReader, rows_for
from projections.runner import ProjectionRunner
from tests.integration.test_projection_rebuild import dump, history

GOLDEN = Path(__file__).parent / "golden"


def every_notification(app: EscrowLedger) -> list[Any]:
    return list(app.recorder.select_notifications(start=1, limit=100_000))


def decoded_rows(app: EscrowLedger, notifications: list[Any]) -> list[Any]:
    return [row for n in notifications for row in rows_for(app.mapper.to_domain_event(n), n.id)]


def test_raw_postings_are_the_decoded_postings_on_a_mixed_history(
        app: EscrowLedger, clock: FakeClock, projector: ProjectionRunner) -> None:
    history(app, clock, projector)
    notifications = every_notification(app)
    reader = PostingReader(app.mapper)
    expected = decoded_rows(app, notifications)
    assert len(expected) > 20
    assert reader.rows(notifications, app.mapper.to_domain_event) == expected

    skipped = [n for n in notifications if not reader.may_post(n)]
    assert skipped, "nothing was skipped: the filter does no good"
    assert all(rows_for(app.mapper.to_domain_event(n), n.id) == [] for n in skipped)
    read_raw = [n for n in notifications if reader.raw_rows(n)]
    posting = {row.notification_id for row in expected}
    assert {n.id for n in read_raw} == posting, "every posting event is read without decoding"


@pytest.mark.parametrize("name", ["fixed_price_v1.json", "hourly_v1.json"])
def test_events_of_the_first_versions_are_decoded_and_give_the_same_postings(
        app: EscrowLedger, name: str) -> None:
    golden = json.loads((GOLDEN / name).read_text())
    app.recorder.insert_events([
        StoredEvent(originator_id=UUID(e["originator_id"]),
                    originator_version=e["originator_version"], topic=e["topic"],
                    state=e["state"].encode()) for e in golden["events"]])
    notifications = every_notification(app)
    reader = PostingReader(app.mapper)
    decoded: list[int] = []

    def decode(n: Any) -> Any:
        decoded.append(n.id)
        return app.mapper.to_domain_event(n)

    expected = decoded_rows(app, notifications)
    assert expected
    assert reader.rows(notifications, decode) == expected
    assert decoded, "old versions need their upcasters: they must go through the mapper"


def test_a_batched_rebuild_writes_the_rows_of_one_event_per_transaction(
        app: EscrowLedger, clock: FakeClock, projector: ProjectionRunner) -> None:
    history(app, clock, projector)
    assert projector.rebuild("journal") == app.position()
    batched = dump(projector.journal)
    assert batched["postings"]
    assert batched["balances"]

    journal = projector.journal
    journal.reset()
    for n in every_notification(app):
        journal.handle([(n.id, app.mapper.to_domain_event(n))], Tracking(journal.name, n.id))
    assert dump(journal) == batched
    assert journal.position() == app.position()
