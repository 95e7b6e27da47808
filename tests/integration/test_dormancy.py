"""Dormant fixed-price contracts through the application and the scheduler, exact figures.

A $1,000.00 milestone funded by card on 2026-03-02 09:00 (10% service fee, 5%
marketplace fee $50.00, initiation fee $9.95) and then left alone: notices on
day 76 (05-17) and 83 (05-24), dormant on day 90 (05-31), the client's 7 days
end 06-07, the freelancer's 7 days end 06-14, the client's 14 days after a
request made on 06-10 end 06-24.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.errors import DormancyStateError
from entrypoints.scheduler import tick
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from projections.runner import ProjectionRunner
from reconciliation.replay import compare_with_projection
from tests.integration.support import balance, funded

PENDING = "freelancer:f1:pending"
CLEARING = "processor:clearing"


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def move(app: EscrowLedger, projector: ProjectionRunner, clock: FakeClock,
         when: datetime) -> list[str]:
    clock.set(when)
    return [str(f.response.get("decided")) for f in tick(app, projector)
            if f.response.get("lapsed")]


def assert_books(app: EscrowLedger, projector: ProjectionRunner) -> None:
    projector.catch_up()
    assert projector.queries.trial_balance() == {"USD": Decimal("0.00")}
    report = compare_with_projection(app, projector.queries)
    assert report.ok, report


def test_notices_then_dormant_then_the_freelancer_is_paid_when_the_client_stays_silent(
        app, projector, clock):
    cid, [mid] = funded(app, ["1000.00"])
    assert move(app, projector, clock, at(5, 17, 8)) == []
    assert move(app, projector, clock, at(5, 17)) == ["notice day 76"]
    assert move(app, projector, clock, at(5, 24)) == ["notice day 83"]
    assert move(app, projector, clock, at(5, 31)) == ["dormant"]
    c = app.contract(cid)
    assert c.dormancy is not None
    assert (c.dormancy.stage.value, c.dormancy.due_at) == ("client_to_act", at(6, 7))
    with pytest.raises(DormancyStateError):  # the client still has its 7 days
        app.request_dormant_release(contract_id=cid, actor="f1")
    assert move(app, projector, clock, at(6, 7)) == ["client silent"]
    clock.set(at(6, 10))
    app.request_dormant_release(contract_id=cid, actor="f1")
    assert app.contract(cid).dormancy.due_at == at(6, 24)  # type: ignore[union-attr]
    assert move(app, projector, clock, at(6, 24)) == ["release"]
    assert balance(projector, PENDING) == Decimal("900.00")
    assert balance(projector, f"escrow:{cid}:{mid}") == Decimal("0.00")
    assert app.contract(cid).milestone(mid).status.value == "released"
    assert_books(app, projector)


def test_both_silent_refunds_the_client_and_closes_the_contract(app, projector, clock):
    cid, _ = funded(app, ["1000.00"])
    move(app, projector, clock, at(6, 7))
    assert move(app, projector, clock, at(6, 14)) == ["refund"]
    c = app.contract(cid)
    assert c.status.value == "ended"
    assert c.ended_by == "dormancy"
    # 1,059.95 charged; 1,000.00 + 50.00 + the 9.95 initiation fee (nothing released) back
    assert balance(projector, CLEARING) == Decimal("0.00")
    assert_books(app, projector)


def test_any_milestone_change_resets_the_ninety_days(app, projector, clock):
    cid, [mid] = funded(app, ["1000.00"])
    move(app, projector, clock, at(5, 31))
    assert app.contract(cid).dormancy is not None
    app.submit_work(contract_id=cid, milestone_id=mid, actor="f1")  # day 90: activity
    c = app.contract(cid)
    assert c.dormancy is None
    assert c.last_activity_at == at(5, 31)
    # the submission's own 14-day clock approves it long before the next dormancy
    move(app, projector, clock, at(6, 14))
    assert balance(projector, PENDING) == Decimal("900.00")
    assert_books(app, projector)


def test_the_client_may_dispute_the_release_request(app, projector, clock):
    cid, _ = funded(app, ["1000.00"])
    move(app, projector, clock, at(6, 7))
    clock.set(at(6, 8))
    app.request_dormant_release(contract_id=cid, actor="f1")
    opened = app.dispute_dormant_release(contract_id=cid, actor="c1").response
    assert opened["origin"] == "dormancy"
    assert opened["stage"] == "mediation"
    assert opened["amount"] == {"amount": "1000.00", "currency": "USD"}
    assert app.contract(cid).dormancy is None
    assert_books(app, projector)
