"""Hourly events stored by this version must still load: history is never rewritten.

``golden/hourly_v1.json`` holds the raw stored events of a worked hourly
history (time, a Monday invoice, a dispute accepted, the review's end, a
bonus, a refund, maturity) as this code first wrote them. If a change to an
event class, a topic or a transcoding makes them unreadable, this test fails:
add an upcaster or register the old topic, never edit the file. Regenerate it
only for a brand-new history, with ``LEDGER_WRITE_GOLDEN=1``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from domain.balances.freelancer_balance import FreelancerBalance
from domain.balances.relationship import Relationship
from domain.money import money
from entrypoints.scheduler import tick
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from ledger.settings import store_from_url
from projections.runner import ProjectionRunner

GOLDEN = Path(__file__).parent / "golden" / "hourly_v1.json"
MONDAY = date(2026, 3, 2)


def write_golden(tmp: Path) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    app = EscrowLedger(store_from_url(f"sqlite:///{tmp / 'g.db'}").env, clock=clock)
    runner = ProjectionRunner(app)
    cid = app.open_contract(kind="hourly", client_id="c1", freelancer_id="f1", currency="USD",
                            hourly_rate=money("40.00", "USD"), weekly_limit_hours=20,
                            manual_time_allowed=True, actor="t").response["contract_id"]
    app.log_time(contract_id=cid, worked_on=MONDAY, minutes=600, manual=False, actor="f1")
    app.log_time(contract_id=cid, worked_on=MONDAY, minutes=60, manual=True, actor="f1")
    app.change_weekly_limit(contract_id=cid, hours=30, actor="c1")
    clock.set(datetime(2026, 3, 9, 12, tzinfo=UTC))
    tick(app, runner)  # invoice: 660 minutes, 440.00
    dispute = app.open_hourly_dispute(contract_id=cid, week_start=MONDAY, minutes=60,
                                      actor="c1").response["dispute_id"]
    app.settle_hourly_dispute(contract_id=cid, dispute_id=dispute, failed_minutes=None,
                              actor="f1")
    app.resume_contract(contract_id=cid, actor="c1")
    clock.set(datetime(2026, 3, 14, tzinfo=UTC))
    tick(app, runner)  # review ends: 400.00 paid, 360.00 net
    app.pay_bonus(contract_id=cid, amount=money("50.00", "USD"), actor="c1")
    clock.advance(timedelta(days=6))
    tick(app, runner)
    app.refund_client(contract_id=cid, amount=money("20.00", "USD"), actor="f1")
    rows = [
        {"originator_id": str(n.originator_id), "originator_version": n.originator_version,
         "topic": n.topic, "state": n.state.decode()}
        for n in app.recorder.select_notifications(start=1, limit=10_000)
    ]
    GOLDEN.write_text(json.dumps({"contract_id": cid, "events": rows}, indent=1) + "\n")
    app.close()


def test_hourly_events_stored_by_the_first_version_still_load_and_replay(tmp_path: Path) -> None:
    if os.environ.get("LEDGER_WRITE_GOLDEN") == "1" or not GOLDEN.exists():
        assert os.environ.get("LEDGER_WRITE_GOLDEN") == "1", f"{GOLDEN} is missing"
        write_golden(tmp_path)
    golden = json.loads(GOLDEN.read_text())
    app = EscrowLedger(store_from_url(f"sqlite:///{tmp_path / 'replay.db'}").env)
    app.recorder.insert_events([
        StoredEvent(originator_id=UUID(e["originator_id"]),
                    originator_version=e["originator_version"], topic=e["topic"],
                    state=e["state"].encode())
        for e in golden["events"]
    ])
    c = app.hourly_contract(golden["contract_id"])
    week = c.invoices[MONDAY]
    assert (week.minutes_logged, week.minutes_billed, week.manual_minutes_billed) == (660, 660, 60)
    assert week.amount == money("440.00", "USD")
    assert week.refunded == money("40.00", "USD")
    assert week.released == money("400.00", "USD")
    assert week.service_fee == money("40.00", "USD")
    assert c.limits[-1].hours == 0
    assert not c.paused
    balance = app.find(FreelancerBalance, FreelancerBalance.id_for("f1"))
    assert balance is not None
    # 360.00 matured, 45.00 bonus matured too (6 days on); a 20.00 refund from available
    assert balance.available_in("USD") == money("385.00", "USD")
    assert balance.pending_in("USD") == money("0.00", "USD")
    relationship = app.find(Relationship, Relationship.id_for("c1", "f1", "USD"))
    assert relationship is not None
    assert relationship.lifetime_billings == money("430.00", "USD")
    assert relationship.contract_ids == (golden["contract_id"],)
    runner = ProjectionRunner(app)
    runner.catch_up()
    assert runner.queries.trial_balance() == {"USD": money("0.00", "USD").amount}
    app.close()
