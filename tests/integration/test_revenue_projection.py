"""The revenue projection: revenue per fee kind per UTC day and deferred balances, exact.

2026-03-02, per-contract era: a $1,000.00 milestone funded by card posts a
$50.00 marketplace fee (5%) as revenue and a $9.95 initiation fee (tier under
$2,000) as deferred; approving it releases $1,000.00 with a $100.00 service fee
(10%) and recognises the $9.95. A contract that ends with nothing released
gives both back: the $50.00 is debited from marketplace revenue with the
refunded escrow, the $9.95 leaves deferred for the client. Connects bought
($0.15 each) are deferred until spent. Every figure below is the postings'.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest

from domain.contracts.terms import Party
from domain.errors import InvalidPeriod
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from projections.revenue import RevenueProjection, RevenueQueries
from projections.runner import ProjectionRunner
from tests.integration.support import funded

MAR = 3


def day(n: int, hour: int = 9, minute: int = 0, second: int = 0, us: int = 0) -> datetime:
    return datetime(2026, MAR, n, hour, minute, second, us, tzinfo=UTC)


def fee(kind: str, gross: str, reversed_: str = "0.00", net: str | None = None,
        **extra: str) -> dict[str, str]:
    return {**extra, "kind": kind, "currency": "USD", "gross": gross, "reversed": reversed_,
            "net": gross if net is None else net}


def deferred(kind: str, opening: str, added: str, released: str,
             closing: str) -> dict[str, str]:
    return {"kind": kind, "currency": "USD", "opening": opening, "added": added,
            "released": released, "closing": closing}


def revenue(projector: ProjectionRunner) -> RevenueQueries:
    projector.catch_up()
    projection = projector.projections["revenue"]
    assert isinstance(projection, RevenueProjection)
    return projection.queries


def report(projector: ProjectionRunner, first: int, last: int) -> dict[str, Any]:
    found = revenue(projector).report(date(2026, MAR, first), date(2026, MAR, last))
    assert found["position"] == projector.app.position()
    return found


def fund_and_approve(app: EscrowLedger, clock: FakeClock) -> tuple[str, str]:
    """$1,000.00 funded 2026-03-02 09:00, approved 2026-03-05 09:00."""
    cid, [mid] = funded(app, ["1000.00"])
    clock.set(day(5))
    app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    return cid, mid


# ---- figures ------------------------------------------------------------------------------


def test_revenue_is_booked_on_the_day_the_postings_say(app, projector, clock):
    fund_and_approve(app, clock)

    first_day = report(projector, 2, 2)
    assert first_day["fees"] == [fee("marketplace_fee", "50.00")]
    assert first_day["days"] == [fee("marketplace_fee", "50.00", day="2026-03-02")]
    assert first_day["totals"] == [{"currency": "USD", "gross": "50.00", "reversed": "0.00",
                                    "net": "50.00"}]
    assert first_day["deferred"] == [deferred("initiation_fee", "0.00", "9.95", "0.00", "9.95")]

    whole = report(projector, 2, 5)
    assert (whole["from"], whole["to"]) == ("2026-03-02", "2026-03-05")
    assert whole["fees"] == [fee("initiation_fee", "9.95"), fee("marketplace_fee", "50.00"),
                             fee("service_fee", "100.00")]
    assert whole["days"] == [
        fee("marketplace_fee", "50.00", day="2026-03-02"),
        fee("initiation_fee", "9.95", day="2026-03-05"),
        fee("service_fee", "100.00", day="2026-03-05"),
    ]
    assert whole["totals"] == [{"currency": "USD", "gross": "159.95", "reversed": "0.00",
                                "net": "159.95"}]
    assert whole["deferred"] == [deferred("initiation_fee", "0.00", "9.95", "9.95", "0.00")]

    # a period after the funding opens with the deferred fee and closes without it
    later = report(projector, 3, 5)
    assert later["fees"] == [fee("initiation_fee", "9.95"), fee("service_fee", "100.00")]
    assert later["deferred"] == [deferred("initiation_fee", "9.95", "0.00", "9.95", "0.00")]

    # a quiet day between them: no revenue, the fee still deferred
    quiet = report(projector, 3, 4)
    assert (quiet["fees"], quiet["days"], quiet["totals"]) == ([], [], [])
    assert quiet["deferred"] == [deferred("initiation_fee", "9.95", "0.00", "0.00", "9.95")]

    # before anything happened: nothing at all
    before = revenue(projector).report(date(2026, 3, 1), date(2026, 3, 1))
    assert (before["fees"], before["totals"], before["deferred"]) == ([], [], [])


def test_refunded_escrow_reverses_its_marketplace_fee_and_returns_the_initiation_fee(
        app, projector, clock):
    cid, _ = funded(app, ["1000.00"])
    clock.set(day(3))
    ended = app.end_contract(contract_id=cid, by=Party.CLIENT, pay="none", actor="c1")
    clock.set(day(4))
    app.approve_refund_request(contract_id=cid, request_id=ended.response["refund_request_id"],
                               actor="f1")

    found = report(projector, 2, 4)
    assert found["fees"] == [fee("marketplace_fee", "50.00", "50.00", "0.00")]
    assert found["days"] == [fee("marketplace_fee", "50.00", day="2026-03-02"),
                             fee("marketplace_fee", "0.00", "50.00", "-50.00", day="2026-03-04")]
    assert found["totals"] == [{"currency": "USD", "gross": "50.00", "reversed": "50.00",
                                "net": "0.00"}]
    # returned to the client, never recognised: it leaves deferred without becoming revenue
    assert found["deferred"] == [deferred("initiation_fee", "0.00", "9.95", "9.95", "0.00")]
    assert report(projector, 4, 4)["fees"] == [fee("marketplace_fee", "0.00", "50.00",
                                                   "-50.00")]


def test_days_are_utc_days_to_the_microsecond(app, projector, clock):
    clock.set(day(2, 23, 59, 59, 999_999))
    cid, [mid] = funded(app, ["1000.00"])
    clock.set(day(3, 0, 0))
    app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    assert report(projector, 2, 2)["fees"] == [fee("marketplace_fee", "50.00")]
    assert report(projector, 3, 3)["fees"] == [fee("initiation_fee", "9.95"),
                                               fee("service_fee", "100.00")]
    assert report(projector, 3, 3)["deferred"] == [
        deferred("initiation_fee", "9.95", "0.00", "9.95", "0.00")]


def test_connects_money_is_deferred_until_spent_and_fees_of_every_contract_add_up(
        app, projector, clock):
    app.purchase_connects(freelancer_id="f1", connects=20, payment_method="card", actor="f1")
    clock.set(day(3))
    app.spend_connects(freelancer_id="f1", connects=4, reason="proposal", job_id="job-1",
                       actor="f1")
    # two contracts each defer their own initiation fee; one deferred line holds both
    funded(app, ["1000.00"])
    funded(app, ["100.00"], client_id="c2")

    found = report(projector, 2, 3)
    assert found["fees"] == [fee("connects", "0.60"), fee("marketplace_fee", "55.00")]
    assert found["deferred"] == [
        deferred("connects", "0.00", "3.00", "0.60", "2.40"),
        deferred("initiation_fee", "0.00", "14.90", "0.00", "14.90"),  # 9.95 + 4.95
    ]


def test_the_daily_rows_sum_to_the_journal_per_account(app, projector, clock):
    """Every revenue account, and every deferred account summed by kind, as the journal has it."""
    fund_and_approve(app, clock)
    cid, _ = funded(app, ["250.00"], client_id="c2")
    ended = app.end_contract(contract_id=cid, by=Party.CLIENT, pay="none", actor="c2")
    app.approve_refund_request(contract_id=cid, request_id=ended.response["refund_request_id"],
                               actor="f1")
    app.purchase_connects(freelancer_id="f1", connects=10, payment_method="card", actor="f1")
    rows = revenue(projector).rows()
    assert rows
    summed: dict[str, list[int]] = {}
    for r in rows:
        t = summed.setdefault(r["account"], [0, 0])
        t[0] += int(r["credits_minor"])
        t[1] += int(r["debits_minor"])
    journal: dict[str, list[int]] = {}
    for b in projector.queries.all_balances():
        family = ":".join(b.account.split(":")[:2])
        if family.split(":")[0] in ("revenue", "deferred"):
            t = journal.setdefault(family, [0, 0])
            t[0] += int(b.credits * 100)
            t[1] += int(b.debits * 100)
    assert summed == journal
    assert summed["revenue:marketplace_fee"] == [5000 + 1250, 1250]
    assert summed["deferred:initiation_fee"] == [995 + 495, 995 + 495]


# ---- the period -----------------------------------------------------------------------------


def test_a_period_runs_forwards_for_at_most_366_days(app, projector):
    queries = revenue(projector)
    with pytest.raises(InvalidPeriod, match="after"):
        queries.report(date(2026, 3, 5), date(2026, 3, 4))
    with pytest.raises(InvalidPeriod, match="367 days"):
        queries.report(date(2026, 1, 1), date(2027, 1, 2))
    assert queries.report(date(2024, 1, 1), date(2024, 12, 31))["fees"] == []  # a leap year
    assert queries.report(date(2026, 3, 4), date(2026, 3, 4))["days"] == []


# ---- rebuild and crash ----------------------------------------------------------------------


def test_rebuilding_from_zero_gives_identical_rows(app, projector, clock):
    fund_and_approve(app, clock)
    cid, _ = funded(app, ["250.00"], client_id="c2")
    app.end_contract(contract_id=cid, by=Party.FREELANCER, pay=None, actor="f1")
    queries = revenue(projector)
    before = queries.rows()
    assert len(before) >= 4
    assert projector.rebuild("revenue") == app.position()
    assert queries.rows() == before
    assert queries.position() == app.position()


class FailingCursor:
    """A cursor that runs ``allowed`` statements, then raises: a crash inside the batch."""

    def __init__(self, cursor: Any, allowed: int) -> None:
        self.cursor = cursor
        self.allowed = allowed
        self.ran = 0

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        if self.ran >= self.allowed:
            raise RuntimeError("injected crash mid-batch")
        self.ran += 1
        return self.cursor.execute(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cursor, name)


def crash_after(monkeypatch: pytest.MonkeyPatch, view: Any, allowed: int) -> list[FailingCursor]:
    """Makes the view's next write raise after ``allowed`` statements inside its transaction."""
    original = view.writing
    opened: list[FailingCursor] = []

    @contextmanager
    def writing(tracking: Any) -> Iterator[FailingCursor]:
        with original(tracking) as cursor:
            opened.append(FailingCursor(cursor, allowed))
            yield opened[-1]

    monkeypatch.setattr(view, "writing", writing)
    return opened


def test_a_crash_mid_batch_writes_nothing_and_the_next_catch_up_counts_once(
        app, projector, clock, monkeypatch):
    cid, [mid] = funded(app, ["1000.00"])
    queries = revenue(projector)
    position, before = queries.position(), queries.rows()
    clock.set(day(5))
    app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")  # three daily rows
    app.purchase_connects(freelancer_id="f1", connects=20, payment_method="card", actor="f1")

    projection = projector.projections["revenue"]
    assert isinstance(projection, RevenueProjection)
    cursors = crash_after(monkeypatch, projection.view, allowed=2)
    with pytest.raises(RuntimeError, match="injected"):
        projector.catch_up()
    assert cursors[0].ran == 2, "the crash should come after rows were written"
    assert queries.rows() == before
    assert queries.position() == position

    monkeypatch.undo()
    projector.catch_up()
    resumed = queries.rows()
    assert queries.position() == app.position()
    assert report(projector, 2, 5)["fees"] == [
        fee("initiation_fee", "9.95"), fee("marketplace_fee", "50.00"),
        fee("service_fee", "100.00")]
    projector.rebuild("revenue")
    assert queries.rows() == resumed
