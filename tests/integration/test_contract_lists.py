"""The contracts projection: lists of contracts, milestones and payments, on both stores.

Every state a row shows is checked against the aggregate itself (the state
after the event), and every state of every list is reached. Payments: a
$1,000.00 funding by card is charged $50.00 + $9.95; a client ending with
nothing paid gets the $1,000.00 back (`refunded`); a mediation releasing
$600.00 refunds $400.00 of it (`partially_refunded`); after a $300.00 partial
approval of a $500.00 milestone the $200.00 left is carried into the next
$400.00 milestone, which charges only $200.00 more, and a freelancer ending
refunds the $400.00 oldest money first: $200.00 of each charge.
"""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from domain.contracts.terms import Party
from domain.deadlines import epoch_us
from domain.errors import ContractNotFound, InvalidCursor, InvalidInput
from entrypoints.scheduler import tick
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from projections.contract_lists import (
    CONTRACT_STATES,
    MILESTONE_STATES,
    PAYMENT_STATES,
    ContractListQueries,
)
from projections.contracts import ContractsProjection
from projections.runner import ProjectionRunner
from tests.integration.support import funded, usd
from tests.integration.test_revenue_projection import crash_after


def m(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


def lists(projector: ProjectionRunner) -> ContractListQueries:
    projector.catch_up()
    projection = projector.projections["contracts"]
    assert isinstance(projection, ContractsProjection)
    return projection.queries


def every(fetch: Any, limit: int = 200, **kwargs: Any) -> list[dict[str, Any]]:
    """Every row of a list, walking its pages."""
    rows, cursor = [], None
    while True:
        page = fetch(limit=limit, cursor=cursor, **kwargs)
        rows += page.items
        cursor = page.next_cursor
        if cursor is None:
            return rows


def open_fp(app: EscrowLedger, client: str = "c1", freelancer: str = "f1") -> str:
    return str(app.open_contract(client_id=client, freelancer_id=freelancer, currency="USD",
                                 actor="t").response["contract_id"])


def add(app: EscrowLedger, cid: str, amount: str = "500.00", title: str = "m") -> str:
    return str(app.add_milestone(contract_id=cid, title=title, amount=usd(amount),
                                 actor="t").response["milestone_id"])


def fund(app: EscrowLedger, cid: str, mid: str) -> str:
    return str(app.fund_milestone(contract_id=cid, milestone_id=mid,
                                  actor="c").response["payment_id"])


# ---- states ---------------------------------------------------------------------------------


def many_states(app: EscrowLedger) -> dict[str, str]:
    """Contracts in every state, milestones in every state, payments in every state."""
    names: dict[str, str] = {}
    # active, with a milestone at each step of the work
    cid = names["active"] = open_fp(app)
    add(app, cid, title="created")
    fund(app, cid, add(app, cid, title="funded"))
    mid = add(app, cid, title="submitted")
    fund(app, cid, mid)
    app.submit_work(contract_id=cid, milestone_id=mid, actor="f1")
    mid = add(app, cid, title="changes")
    fund(app, cid, mid)
    app.submit_work(contract_id=cid, milestone_id=mid, actor="f1")
    app.request_changes(contract_id=cid, milestone_id=mid, note="more", actor="c1")
    mid = add(app, cid, title="released")
    fund(app, cid, mid)
    app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    app.pay_bonus(contract_id=cid, amount=usd("50.00"), actor="c1")
    # ending: a refund request awaits the freelancer; then ended with escrow refunded
    for name in ("ending", "refunded"):
        cid, _ = funded(app, ["1000.00"])
        names[name] = cid
        ended = app.end_contract(contract_id=cid, by=Party.CLIENT, pay="none", actor="c1")
        if name == "refunded":
            app.approve_refund_request(contract_id=cid,
                                       request_id=ended.response["refund_request_id"],
                                       actor="f1")
    # disputed, and a dispute mediated: $600.00 released, $400.00 refunded
    for name in ("disputed", "mediated"):
        cid, _ = funded(app, ["1000.00"])
        names[name] = cid
        ended = app.end_contract(contract_id=cid, by=Party.CLIENT, pay="none", actor="c1")
        dispute_id = app.dispute_refund_request(
            contract_id=cid, request_id=ended.response["refund_request_id"],
            actor="f1").response["dispute_id"]
        if name == "mediated":
            app.respond_to_dispute(dispute_id=dispute_id, by=Party.CLIENT, actor="c1")
            app.propose_dispute_settlement(dispute_id=dispute_id, release=usd("600.00"),
                                           actor="med")
            for party in (Party.FREELANCER, Party.CLIENT):
                app.accept_dispute_proposal(dispute_id=dispute_id, by=party, actor="x")
    # carried escrow refunded oldest money first
    cid = names["carried"] = open_fp(app)
    first = add(app, cid, "500.00")
    fund(app, cid, first)
    app.approve_milestone(contract_id=cid, milestone_id=first, actor="c1", amount=usd("300.00"))
    fund(app, cid, add(app, cid, "400.00"))
    app.end_contract(contract_id=cid, by=Party.FREELANCER, pay=None, actor="f1")
    # charged back (its client suspended: last for that client), and a chargeback won
    for name, client in (("charged_back", "c-lost"), ("chargeback_won", "c-won")):
        cid, _ = funded(app, ["1000.00"], client_id=client)
        names[name] = cid
        [payment_id] = app.contract(cid).charges
        cb = app.receive_chargeback(payment_id=payment_id, reason="fraud", actor="psp")
        if name == "chargeback_won":
            app.decide_chargeback(chargeback_id=cb.response["chargeback_id"], won=True,
                                  actor="psp")
    return names


def test_every_row_shows_the_aggregates_state_and_every_state_is_reached(app, projector):
    names = many_states(app)
    queries = lists(projector)
    contract_states, milestone_states, payment_states = set(), set(), set()
    for cid in names.values():
        c = app.any_contract(cid)
        [row] = [r for r in every(queries.contracts_of_freelancer, freelancer_id="f1")
                 if r["contract_id"] == cid]
        assert row["state"] == c.status.value
        contract_states.add(row["state"])
        for ms in every(queries.milestones_of, contract_id=cid):
            aggregate = c.milestones[ms["milestone_id"]]
            assert (ms["state"], ms["escrow"]) == (
                aggregate.status.value, m(f"{aggregate.escrow.amount}")), ms
            milestone_states.add(ms["state"])
        payments = every(queries.payments_of, contract_id=cid)
        assert {p["payment_id"] for p in payments} == set(c.charges)
        payment_states |= {p["state"] for p in payments}
    assert contract_states == set(CONTRACT_STATES)
    assert milestone_states == set(MILESTONE_STATES)
    assert payment_states == set(PAYMENT_STATES)


def test_payments_show_what_was_charged_and_what_went_back(app, projector):
    names = many_states(app)
    queries = lists(projector)

    def payments(name: str) -> list[tuple[Any, ...]]:
        return [(p["kind"], p["amount"]["amount"], p["marketplace_fee"]["amount"],
                 p["initiation_fee"]["amount"], p["total_charged"]["amount"],
                 p["refunded"]["amount"], p["state"])
                for p in every(queries.payments_of, contract_id=names[name])]

    assert payments("refunded") == [
        ("escrow_funding", "1000.00", "50.00", "9.95", "1059.95", "1000.00", "refunded")]
    assert payments("ending") == [
        ("escrow_funding", "1000.00", "50.00", "9.95", "1059.95", "0.00", "charged")]
    assert payments("mediated") == [
        ("escrow_funding", "1000.00", "50.00", "9.95", "1059.95", "400.00",
         "partially_refunded")]
    # newest first: the $200.00 top-up charge, then the first $500.00 charge
    assert payments("carried") == [
        ("escrow_funding", "200.00", "10.00", "0.00", "210.00", "200.00", "refunded"),
        ("escrow_funding", "500.00", "25.00", "9.95", "534.95", "200.00",
         "partially_refunded")]
    [lost] = every(queries.payments_of, contract_id=names["charged_back"])
    assert (lost["state"], lost["chargeback_status"]) == ("charged_back", "open")
    assert lost["chargeback_id"].startswith("cb_")
    [won] = every(queries.payments_of, contract_id=names["chargeback_won"])
    assert (won["state"], won["chargeback_status"]) == ("charged", "won")
    bonus = [p for p in every(queries.payments_of, contract_id=names["active"])
             if p["kind"] == "bonus"]
    assert [(p["amount"], p["marketplace_fee"], p["initiation_fee"], p["state"])
            for p in bonus] == [(m("50.00"), m("2.50"), m("0.00"), "charged")]

    [ended] = [r for r in every(queries.contracts_of_client, client_id="c1")
               if r["contract_id"] == names["refunded"]]
    assert ended["ended_at"] == ended["updated_at"] == "2026-03-02T09:00:00+00:00"
    assert (ended["kind"], ended["state"], ended["job_id"], ended["title"]) == (
        "fixed_price", "ended", None, None)


def test_an_hourly_weeks_refund_belongs_to_its_invoice(app, projector, clock):
    monday = date(2026, 3, 2)
    cid = app.open_contract(kind="hourly", client_id="c1", freelancer_id="f1", currency="USD",
                            hourly_rate=usd("40.00"), weekly_limit_hours=20,
                            manual_time_allowed=True, actor="t").response["contract_id"]
    for i in range(5):  # 25 h, 20 h billable: $800.00
        clock.set(datetime(2026, 3, 2 + i, 18, tzinfo=UTC))
        app.log_time(contract_id=cid, worked_on=monday + timedelta(days=i), minutes=300,
                     manual=False, actor="f1")
    clock.set(datetime(2026, 3, 9, 12, tzinfo=UTC))
    tick(app, projector)
    [invoice] = every(lists(projector).payments_of, contract_id=cid)
    assert (invoice["kind"], invoice["subject"], invoice["amount"], invoice["marketplace_fee"],
            invoice["initiation_fee"], invoice["state"]) == (
        "hourly_invoice", "2026-03-02", m("800.00"), m("40.00"), m("9.95"), "charged")
    assert invoice["charged_at"] == "2026-03-09T12:00:00+00:00"

    clock.set(datetime(2026, 3, 10, 10, tzinfo=UTC))
    dispute_id = app.open_hourly_dispute(contract_id=cid, week_start=monday, minutes=300,
                                         actor="c1").response["dispute_id"]
    app.settle_hourly_dispute(contract_id=cid, dispute_id=dispute_id, failed_minutes=None,
                              actor="f1")
    [invoice] = every(lists(projector).payments_of, contract_id=cid)
    assert (invoice["refunded"], invoice["state"]) == (m("200.00"), "partially_refunded")
    assert invoice["updated_at"] == "2026-03-10T10:00:00+00:00"
    [row] = every(lists(projector).contracts_of_client, client_id="c1")
    assert (row["kind"], row["state"]) == ("hourly", "active")
    assert every(lists(projector).milestones_of, contract_id=cid) == []


# ---- pages ----------------------------------------------------------------------------------


def seven_contracts(app: EscrowLedger, clock: FakeClock) -> list[str]:
    """Seven contracts of client cp: four opened a minute apart, then three at one instant."""
    cids = []
    for _ in range(4):
        clock.advance(timedelta(minutes=1))
        cids.append(open_fp(app, client="cp", freelancer="fp"))
    clock.advance(timedelta(minutes=1))
    cids += [open_fp(app, client="cp", freelancer="fp") for _ in range(3)]
    return cids


def newest_first(app: EscrowLedger, cids: list[str]) -> list[str]:
    def key(cid: str) -> tuple[int, str]:
        return epoch_us(app.any_contract(cid).opened_at), cid
    return sorted(cids, key=key, reverse=True)


def test_pages_walk_newest_first_without_gaps_or_repeats(app, projector, clock):
    cids = seven_contracts(app, clock)
    queries = lists(projector)
    expected = newest_first(app, cids)
    for fetch, owner in ((queries.contracts_of_client, {"client_id": "cp"}),
                         (queries.contracts_of_freelancer, {"freelancer_id": "fp"})):
        seen, sizes, cursor = [], [], None
        while True:
            page = fetch(limit=3, cursor=cursor, **owner)
            assert page.position == app.position()
            sizes.append(len(page.items))
            seen += [r["contract_id"] for r in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sizes == [3, 3, 1]
        assert seen == expected
    # exactly a page's worth: no empty page after it
    page = queries.contracts_of_client("cp", limit=7)
    assert (len(page.items), page.next_cursor) == (7, None)
    assert queries.contracts_of_client("nobody").items == []


def test_a_page_is_stable_when_newer_rows_arrive(app, projector, clock):
    cids = seven_contracts(app, clock)
    queries = lists(projector)
    first = queries.contracts_of_client("cp", limit=3)
    clock.advance(timedelta(minutes=1))
    open_fp(app, client="cp", freelancer="fp")  # newer: belongs before page one
    rest: list[dict[str, Any]] = []
    cursor = first.next_cursor
    while cursor is not None:
        page = lists(projector).contracts_of_client("cp", limit=3, cursor=cursor)
        rest += page.items
        cursor = page.next_cursor
    assert [r["contract_id"] for r in first.items + rest] == newest_first(app, cids)


def test_state_filters_page_too(app, projector, clock):
    cids = seven_contracts(app, clock)
    for cid in cids[:3]:
        app.end_contract(contract_id=cid, by=Party.FREELANCER, pay=None, actor="fp")
    queries = lists(projector)
    ended = every(queries.contracts_of_client, limit=2, client_id="cp", state="ended")
    assert [r["contract_id"] for r in ended] == newest_first(app, cids[:3])
    active = every(queries.contracts_of_freelancer, limit=2, freelancer_id="fp",
                   state="active")
    assert [r["contract_id"] for r in active] == newest_first(app, cids[3:])
    assert every(queries.contracts_of_client, client_id="cp", state="ending") == []


def test_milestones_and_payments_page_newest_first_by_state(app, projector, clock):
    cid = open_fp(app)
    mids = []
    for i in range(5):
        clock.advance(timedelta(minutes=1))
        mids.append(add(app, cid, f"{100 + i}.00", title=f"m{i}"))
    for mid in mids[:3]:
        fund(app, cid, mid)
    queries = lists(projector)
    walked = every(queries.milestones_of, limit=2, contract_id=cid)
    assert [r["milestone_id"] for r in walked] == mids[::-1]
    assert [r["title"] for r in walked] == ["m4", "m3", "m2", "m1", "m0"]
    assert walked[0]["amount"] == m("104.00")
    assert walked[-1]["escrow"] == m("100.00")
    funded_ = every(queries.milestones_of, limit=2, contract_id=cid, state="funded")
    assert [r["milestone_id"] for r in funded_] == mids[2::-1]
    assert every(queries.milestones_of, contract_id=cid, state="created") == [
        r for r in walked if r["milestone_id"] in mids[3:]]
    pays = every(queries.payments_of, limit=2, contract_id=cid)
    assert [p["subject"] for p in pays] == mids[2::-1]
    # the first charge carries the initiation fee ($100.00 - $499.99: $4.95)
    assert [p["initiation_fee"]["amount"] for p in pays] == ["0.00", "0.00", "4.95"]
    assert every(queries.payments_of, contract_id=cid, state="refunded") == []


def test_bad_limits_states_cursors_and_contracts_are_refused(app, projector):
    cid = open_fp(app)
    queries = lists(projector)
    for limit in (0, 201, -1):
        with pytest.raises(InvalidInput):
            queries.contracts_of_client("c1", limit=limit)
    assert len(queries.contracts_of_client("c1", limit=200).items) == 1
    with pytest.raises(InvalidInput, match="not a contract state"):
        queries.contracts_of_client("c1", state="paused")
    with pytest.raises(InvalidInput, match="not a milestone state"):
        queries.milestones_of(cid, state="ended")
    with pytest.raises(InvalidInput, match="not a payment state"):
        queries.payments_of(cid, state="funded")
    for cursor in ("not base64!", base64.urlsafe_b64encode(b'["x",1]').decode(),
                   base64.urlsafe_b64encode(b"[1]").decode(), "", "%%%"):
        with pytest.raises(InvalidCursor):
            queries.contracts_of_client("c1", cursor=cursor)
    for read in (queries.milestones_of, queries.payments_of):
        with pytest.raises(ContractNotFound):
            read("00000000-0000-0000-0000-000000000000")


# ---- rebuild and crash ----------------------------------------------------------------------


def test_rebuilding_from_zero_gives_identical_rows(app, projector):
    many_states(app)
    queries = lists(projector)
    before = queries.rows()
    assert all(before[table] for table in ("contracts", "milestones", "payments", "lines"))
    assert projector.rebuild("contracts") == app.position()
    assert queries.rows() == before
    assert queries.position() == app.position()


def test_a_crash_mid_batch_writes_nothing_and_the_next_catch_up_counts_once(
        app, projector, clock, monkeypatch):
    cid = open_fp(app)
    first = add(app, cid, "500.00")
    fund(app, cid, first)
    queries = lists(projector)
    position, before = queries.position(), queries.rows()
    app.approve_milestone(contract_id=cid, milestone_id=first, actor="c1", amount=usd("300.00"))
    fund(app, cid, add(app, cid, "400.00"))
    app.end_contract(contract_id=cid, by=Party.FREELANCER, pay=None, actor="f1")

    projection = projector.projections["contracts"]
    assert isinstance(projection, ContractsProjection)
    cursors = crash_after(monkeypatch, projection.view, allowed=6)
    with pytest.raises(RuntimeError, match="injected"):
        projector.catch_up()
    assert cursors[0].ran == 6
    assert queries.rows() == before
    assert queries.position() == position

    monkeypatch.undo()
    projector.catch_up()
    resumed = queries.rows()
    assert queries.position() == app.position()
    refunded = [(p["refunded"]["amount"], p["state"])
                for p in queries.payments_of(cid).items]
    assert refunded == [("200.00", "refunded"), ("200.00", "partially_refunded")]
    projector.rebuild("contracts")
    assert queries.rows() == resumed
