"""The README's Connects month, through the application on both stores, exact figures."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.errors import InsufficientConnects, InsufficientFunds, InvalidInput
from entrypoints.scheduler import tick
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from projections.runner import ProjectionRunner
from reconciliation.replay import compare_with_projection

F = "freelancer-ada"


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 9, tzinfo=UTC)


def bal(projector: ProjectionRunner, account: str, currency: str = "USD") -> Decimal:
    projector.catch_up()
    lines = [b for b in projector.queries.balance(account) if b.currency == currency]
    return lines[0].balance if lines else Decimal("0")


def test_the_readme_month(app: EscrowLedger, projector: ProjectionRunner,
                          clock: FakeClock) -> None:
    clock.set(at(2026, 3, 2))
    bought = app.purchase_connects(freelancer_id=F, connects=80, payment_method="card",
                                   actor=F).response
    assert bought["price"] == {"amount": "12.00", "currency": "USD"}
    lot_a = bought["lot"]["lot_id"]
    assert bought["lot"]["expires_at"] == "2027-03-02T09:00:00+00:00"
    plus = app.start_membership(freelancer_id=F, plan="plus", actor=F).response
    assert (plus["charged"]["amount"], plus["granted"], plus["balance"]) == ("19.99", 100, 180)
    clock.set(at(2026, 3, 3))
    spent = app.spend_connects(freelancer_id=F, connects=16, reason="proposal",
                               job_id="job-1", actor=F).response
    assert spent["taken"] == [{"lot_id": lot_a, "connects": 16}]
    assert bal(projector, "revenue:connects") == Decimal("2.40")
    assert bal(projector, "deferred:connects") == Decimal("9.60")
    clock.set(at(2026, 3, 4))
    boost = app.boost_proposal(freelancer_id=F, job_id="job-2", connects=10,
                               job_posted_at=None, actor=F).response
    assert boost["auction_closes_at"] == "2026-03-11T09:00:00+00:00"
    assert bal(projector, "revenue:connects") == Decimal("3.90")
    clock.set(at(2026, 3, 5))
    back = app.outbid_boost(freelancer_id=F, boost_id=boost["boost_id"], actor=F).response
    assert (back["returned"], back["balance"]) == (10, 164)
    assert bal(projector, "revenue:connects") == Decimal("2.40")
    clock.set(at(2026, 4, 2))
    tick(app, projector)
    assert bal(projector, "revenue:membership") == Decimal("39.98")
    assert app.connects_view(F)["balance"] == 264
    statement = app.connects_statement(F, "2026-03")
    assert statement["opening_balance"] == 0
    assert statement["closing_balance"] == 164
    assert statement["bought"] == {"connects": 80, "paid": {"amount": "12.00", "currency": "USD"}}
    assert statement["granted"] == 100
    assert statement["spent"] == {"total": 26, "by_reason": {"boost": 10, "proposal": 16}}
    assert (statement["returned"], statement["expired"]) == (10, 0)
    assert statement["spent_on_jobs"]["no_contract"] == {"jobs": 2, "connects": 26}
    clock.set(at(2027, 3, 2))
    tick(app, projector)
    assert bal(projector, "revenue:connects_breakage") == Decimal("9.60")  # 64 x 0.15
    lots = {lot["lot_id"]: lot for lot in app.connects_view(F)["lots"]}
    assert (lots[lot_a]["remaining"], lots[lot_a]["expired"]) == (0, 64)
    assert bal(projector, "deferred:connects") == Decimal("0.00")
    assert bal(projector, f"connects:wallet:{F}", "CONNECTS") == Decimal(
        app.connects_view(F)["balance"])
    assert projector.queries.trial_balance() == {"USD": Decimal("0.00"),
                                                  "CONNECTS": Decimal("0")}
    assert compare_with_projection(app, projector.queries).ok


def test_refusals_write_nothing(app: EscrowLedger) -> None:
    app.purchase_connects(freelancer_id=F, connects=10, payment_method="card", actor=F)
    before = app.position()
    with pytest.raises(InsufficientConnects):
        app.spend_connects(freelancer_id=F, connects=11, reason="proposal", job_id="j",
                           actor=F)
    with pytest.raises(InvalidInput):
        app.spend_connects(freelancer_id=F, connects=17, reason="proposal", job_id="j",
                           actor=F)
    with pytest.raises(InsufficientFunds):
        app.purchase_connects(freelancer_id=F, connects=10,
                              payment_method="available_balance", actor=F)
    assert app.position() == before
