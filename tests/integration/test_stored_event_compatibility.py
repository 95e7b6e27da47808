"""Events stored by earlier code must still load: history is never rewritten.

``golden/fixed_price_v1.json`` holds the raw stored events (topic and JSON state)
of a worked history, as this code first wrote them. If a change to an event
class, a topic or a transcoding makes them unreadable, this test fails: add an
upcaster (``class_version`` and ``upcast_v1_v2``) or register the old topic,
never edit the file. Regenerate it only for a brand-new history, with
``LEDGER_WRITE_GOLDEN=1``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from domain.balances.freelancer_balance import FreelancerBalance
from domain.contracts.terms import Party
from domain.money import money
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from ledger.settings import store_from_url
from tests.integration.support import funded

GOLDEN = Path(__file__).parent / "golden" / "fixed_price_v1.json"


def write_golden(tmp: Path) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    app = EscrowLedger(store_from_url(f"sqlite:///{tmp / 'g.db'}").env, clock=clock)
    cid, (m1, _m2) = funded(app, ("500.00", "300.00"))
    app.submit_work(contract_id=cid, milestone_id=m1, actor="f1", idempotency_key="g1")
    app.approve_milestone(contract_id=cid, milestone_id=m1, actor="c1",
                          amount=money("200.00", "USD"))
    clock.advance(timedelta(days=5))
    app.release_matured_earnings(freelancer_id="f1")
    app.end_contract(contract_id=cid, by=Party.FREELANCER, pay=None, actor="f1")
    rows = [
        {"originator_id": str(n.originator_id), "originator_version": n.originator_version,
         "topic": n.topic, "state": n.state.decode()}
        for n in app.recorder.select_notifications(start=1, limit=10_000)
    ]
    GOLDEN.write_text(json.dumps({"contract_id": cid, "events": rows}, indent=1) + "\n")
    app.close()


def test_events_stored_by_the_first_version_still_load_and_replay(tmp_path: Path) -> None:
    if os.environ.get("LEDGER_WRITE_GOLDEN") == "1":
        write_golden(tmp_path)
    golden = json.loads(GOLDEN.read_text())
    app = EscrowLedger(store_from_url(f"sqlite:///{tmp_path / 'replay.db'}").env)
    stored = [
        StoredEvent(originator_id=UUID(e["originator_id"]),
                    originator_version=e["originator_version"], topic=e["topic"],
                    state=e["state"].encode())
        for e in golden["events"]
    ]
    app.recorder.insert_events(stored)
    contract = app.contract(golden["contract_id"])
    assert contract.status.value == "ended"
    assert contract.total_released == money("200.00", "USD")
    assert contract.escrow_balance() == money("0.00", "USD")
    balance = app.find(FreelancerBalance, FreelancerBalance.id_for("f1"))
    assert balance is not None
    assert balance.available_in("USD") == money("180.00", "USD")
    assert balance.pending_in("USD") == money("0.00", "USD")
    app.close()
