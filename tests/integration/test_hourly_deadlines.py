"""An hourly week's clocks stop when nothing is left to do, and restart when money returns."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from domain.money import money
from entrypoints.scheduler import tick
from tests.integration.support import balance

WEEK = date(2026, 3, 2)


def invoiced_week(app, clock, projector) -> str:
    """$40/h, 20 h limit, 300 minutes logged on Monday 2 March, invoiced 9 March 12:00."""
    cid = app.open_contract(kind="hourly", client_id="c1", freelancer_id="f1", currency="USD",
                            hourly_rate=money("40.00", "USD"), weekly_limit_hours=20,
                            manual_time_allowed=False, actor="t").response["contract_id"]
    app.log_time(contract_id=cid, worked_on=WEEK, minutes=300, manual=False, actor="f1")
    clock.set(datetime(2026, 3, 9, 12, tzinfo=UTC))
    tick(app, projector)
    return str(cid)


def pending_kinds(projector, cid: str) -> list[str]:
    projector.catch_up()
    rows = projector.deadlines.queries.page(status="pending", after=None, limit=100)
    return sorted(r["kind"] for r in rows if r["subject"] == cid)


def test_disputing_the_whole_week_stops_its_review_clock(app, clock, projector):
    cid = invoiced_week(app, clock, projector)
    assert pending_kinds(projector, cid) == ["hourly_review_end"]
    app.open_hourly_dispute(contract_id=cid, week_start=WEEK, minutes=300, actor="c1")
    assert pending_kinds(projector, cid) == ["hourly_dispute_response"]
    app.settle_hourly_dispute(contract_id=cid, dispute_id=_only_dispute(app, cid),
                              failed_minutes=None, actor="f1")
    assert pending_kinds(projector, cid) == []
    # 200.00 and its 10.00 marketplace fee went back; nothing is left in review or dispute
    assert balance(projector, f"hourly_review:{cid}:{WEEK}") == Decimal("0.00")
    assert balance(projector, f"escrow_dispute:{cid}") == Decimal("0.00")
    assert balance(projector, "processor:clearing") == Decimal("4.95")  # initiation fee kept


def test_money_a_review_returns_to_an_emptied_week_restarts_its_clock(app, clock, projector):
    cid = invoiced_week(app, clock, projector)
    app.open_hourly_dispute(contract_id=cid, week_start=WEEK, minutes=300, actor="c1")
    dispute_id = _only_dispute(app, cid)
    app.decline_hourly_dispute(contract_id=cid, dispute_id=dispute_id, actor="f1")
    clock.advance(timedelta(days=1))
    app.settle_hourly_dispute(contract_id=cid, dispute_id=dispute_id, failed_minutes=60,
                              actor="review")
    # 60 failed minutes: 40.00 + 2.00 back to the client; 160.00 returns to review
    assert pending_kinds(projector, cid) == ["hourly_review_end"]
    assert balance(projector, f"hourly_review:{cid}:{WEEK}") == Decimal("160.00")
    clock.set(datetime(2026, 3, 14, tzinfo=UTC))
    tick(app, projector)
    assert balance(projector, "freelancer:f1:pending") == Decimal("144.00")
    assert balance(projector, "revenue:service_fee") == Decimal("16.00")
    assert projector.queries.trial_balance() == {"USD": Decimal("0.00")}


def _only_dispute(app, cid: str) -> str:
    (dispute_id,) = app.hourly_contract(cid).disputes
    return str(dispute_id)
