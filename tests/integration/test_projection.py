"""The journal view: exactly once, rebuildable from zero, and zero-sum where it is stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from eventsourcing.persistence import Tracking

from domain.errors import UnbalancedEntry
from domain.money import money
from ledger.application import EscrowLedger
from projections.journal import PostingRow
from projections.runner import ProjectionRunner


def history(app: EscrowLedger, clock) -> None:
    cid = app.open_contract(client_id="c1", freelancer_id="f1", currency="USD",
                            actor="t").response["contract_id"]
    for amount in ("500.00", "120.00"):
        mid = app.add_milestone(contract_id=cid, title="m", amount=money(amount, "USD"),
                                actor="t").response["milestone_id"]
        app.fund_milestone(contract_id=cid, milestone_id=mid, actor="c1")
        app.submit_work(contract_id=cid, milestone_id=mid, actor="f1")
    app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1",
                          amount=money("100.00", "USD"))
    clock.advance(timedelta(days=6))
    app.release_matured_earnings(freelancer_id="f1")


def snapshot(projector: ProjectionRunner) -> tuple:
    q = projector.queries
    postings = q.view.fetch("SELECT * FROM {postings} ORDER BY notification_id, line")
    deadlines = projector.deadlines.view.fetch("SELECT * FROM {deadlines} ORDER BY deadline_id")
    return q.all_balances(), postings, deadlines, q.position()


def test_rebuilding_from_position_zero_gives_the_same_tables(app, projector, clock):
    history(app, clock)
    projector.catch_up()
    before = snapshot(projector)
    assert before[1], "the history should have posted something"
    assert before[2], "a submission's review deadline should be due"
    assert projector.rebuild() == app.position()
    assert snapshot(projector) == before


def test_the_view_refuses_postings_that_do_not_sum_to_zero(app, projector, clock):
    history(app, clock)
    position = projector.catch_up()
    before = snapshot(projector)
    bad = [
        PostingRow(position + 1, 0, "x", 1, "Forged", 0, "forged", "processor:clearing",
                   "debit", 100, "USD"),
        PostingRow(position + 1, 1, "x", 1, "Forged", 0, "forged", "revenue:service_fee",
                   "credit", 99, "USD"),
    ]
    with pytest.raises(UnbalancedEntry):
        projector.journal.record(bad, Tracking(app.name, position + 1))
    assert snapshot(projector) == before


def test_the_runner_reads_every_views_position_in_one_query(app, projector, clock,
                                                             monkeypatch):
    """Six views, one tracking table: one query before each batch, not one per view."""
    history(app, clock)
    projector.catch_up(only=("deadlines",))
    each = {name: p.position() for name, p in projector.projections.items()}
    assert each["deadlines"] == app.position()
    assert each["journal"] == 0  # not started: zero, as its own position() says

    def asked_alone(*_: object) -> int:
        raise AssertionError("a view's position was read on its own")

    for p in projector.projections.values():
        monkeypatch.setattr(p.view, "max_tracking_id", asked_alone)
    assert projector.position() == 0
    assert projector.catch_up() == app.position()
    assert projector.position() == app.position()
