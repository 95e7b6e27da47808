"""Job Success Score inputs through the application, on both stores, against a hand table.

Freelancer f1 works four contracts for two clients from Monday 2 March 2026
(10% service fee): c-acme (never flagged) and c-bolt (flagged by finance on
10 April 2026).

- A, fixed-price, c-acme: three $400.00 milestones funded and approved on 2 Mar 09:00,
  20 Apr 10:00 and 15 Jun 10:00; the client ends (5 stars); the freelancer refunds
  $50.00 on 20 Jun. Gross 1,200.00, refunded by the freelancer 50.00, so 1,150.00:
  band 1.5 (over $1,000), plus 1 (2 Mar -> 15 Jun: 3 full months) = 2.50.
- B, fixed-price, c-acme: $300.00 funded 3 Mar; the client ends paying none (2 stars);
  the freelancer approves the refund on 4 Mar 10:00. No earnings (weight 0), 300.00
  escrow refunded, ended without work paid.
- C, fixed-price, c-bolt: $1,000.00 funded 5 Mar; the client ends paying none (3 stars);
  the freelancer disputes; the mediator's $600.00 is accepted on 8 Mar 12:00. Gross
  600.00 (net 540.00), 400.00 refunded by the dispute: weight 1.25.
- D, hourly $40/h, c-bolt: 5 h, 7.5 h and 2.5 h in the weeks of 9, 16 and 23 Mar,
  released 21 Mar, 28 Mar and 4 Apr 00:00 (200.00 + 300.00 + 100.00 = 600.00); the
  freelancer ends on 6 Apr (4 stars): weight 1.25.

c-acme's payments span 2 Mar -> 15 Jun (105 days: long-term); c-bolt's 8 Mar -> 4 Apr
(26 days). As of 1 July 2026: 4 eligible jobs of 2 clients (eligible); 12-month
earnings 1,200 + 600 + 600 - 50 = 2,350.00: Top Rated (>= $1,000), not Top Rated
Plus (< $10,000, no $5,000 contract).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from domain.contracts.feedback import Feedback
from domain.contracts.terms import Party
from domain.errors import ClientAlreadyFlagged, ClientNotFlagged, InvalidFeedback, InvalidInput
from entrypoints.scheduler import tick
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from ledger.settings import store_from_url
from projections.jss import JssProjection, JssQueries
from projections.jss_derived import full_months
from projections.runner import ProjectionRunner
from tests.integration.support import usd

ACME, BOLT = "c-acme", "c-bolt"


def at(month: int, day: int, hour: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def iso(month: int, day: int, hour: int = 0, year: int = 2026) -> str:
    return at(month, day, hour, year).isoformat()


def m(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


def move(clock: FakeClock, when: datetime) -> None:
    assert when >= clock.now()
    clock.set(when)


def tick_at(app: EscrowLedger, projector: ProjectionRunner, clock: FakeClock,
            when: datetime) -> None:
    move(clock, when)
    tick(app, projector)


def jss(projector: ProjectionRunner) -> JssQueries:
    projection = projector.projections["jss"]
    assert isinstance(projection, JssProjection)
    return projection.queries


def inputs(projector: ProjectionRunner, when: datetime) -> dict[str, Any]:
    position = projector.catch_up()
    return jss(projector).freelancer_inputs("f1", as_of=when, position=position)


def open_fixed(app: EscrowLedger, client: str) -> str:
    return str(app.open_contract(client_id=client, freelancer_id="f1", currency="USD",
                                 actor="t").response["contract_id"])


def funded(app: EscrowLedger, cid: str, amount: str, client: str) -> str:
    mid = str(app.add_milestone(contract_id=cid, title="m", amount=usd(amount),
                                actor="t").response["milestone_id"])
    app.fund_milestone(contract_id=cid, milestone_id=mid, actor=client)
    return mid


def paid_milestone(app: EscrowLedger, clock: FakeClock, cid: str, when: datetime) -> None:
    move(clock, when)
    mid = funded(app, cid, "400.00", ACME)
    app.approve_milestone(contract_id=cid, milestone_id=mid, actor=ACME)


def four_contracts(app: EscrowLedger, projector: ProjectionRunner,
                   clock: FakeClock) -> dict[str, str]:
    """The history of the module docstring; answers the ids the hand table needs."""
    a = open_fixed(app, ACME)
    paid_milestone(app, clock, a, at(3, 2, 9))

    move(clock, at(3, 3, 10))
    b = open_fixed(app, ACME)
    funded(app, b, "300.00", ACME)
    move(clock, at(3, 3, 11))
    ending = app.end_contract(contract_id=b, by=Party.CLIENT, pay="none", actor=ACME,
                              feedback=Feedback.given(2, "Did not deliver")).response
    move(clock, at(3, 4, 10))
    app.approve_refund_request(contract_id=b, request_id=ending["refund_request_id"],
                               actor="f1")

    move(clock, at(3, 5, 10))
    c = open_fixed(app, BOLT)
    funded(app, c, "1000.00", BOLT)
    move(clock, at(3, 5, 11))
    ending_c = app.end_contract(contract_id=c, by=Party.CLIENT, pay="none", actor=BOLT,
                                feedback=Feedback.given(3, "Mixed")).response
    move(clock, at(3, 6, 10))
    dispute = app.dispute_refund_request(contract_id=c, request_id=ending_c["refund_request_id"],
                                         actor="f1").response["dispute_id"]
    move(clock, at(3, 7, 10))
    app.respond_to_dispute(dispute_id=dispute, by=Party.CLIENT, actor=BOLT)
    move(clock, at(3, 8, 10))
    app.propose_dispute_settlement(dispute_id=dispute, release=usd("600.00"), actor="mediator")
    move(clock, at(3, 8, 11))
    app.accept_dispute_proposal(dispute_id=dispute, by=Party.FREELANCER, actor="f1")
    move(clock, at(3, 8, 12))
    app.accept_dispute_proposal(dispute_id=dispute, by=Party.CLIENT, actor=BOLT)

    move(clock, at(3, 9, 9))
    d = str(app.open_contract(kind="hourly", client_id=BOLT, freelancer_id="f1",
                              currency="USD", hourly_rate=usd("40.00"), weekly_limit_hours=20,
                              manual_time_allowed=False, actor="t").response["contract_id"])
    for week, minutes in ((date(2026, 3, 9), 300), (date(2026, 3, 16), 450),
                          (date(2026, 3, 23), 150)):
        tick_at(app, projector, clock, at(week.month, week.day, 12))  # last week invoiced
        move(clock, at(week.month, week.day, 18))
        app.log_time(contract_id=d, worked_on=week, minutes=minutes, manual=False, actor="f1")
    tick_at(app, projector, clock, at(4, 4))  # the third week's review ended
    move(clock, at(4, 6, 10))
    app.end_contract(contract_id=d, by=Party.FREELANCER, pay=None, actor="f1",
                     feedback=Feedback.given(4, "Good client"))
    move(clock, at(4, 10, 9))
    app.flag_client(client_id=BOLT, reason="chargeback pattern", actor="finance")

    paid_milestone(app, clock, a, at(4, 20, 10))
    paid_milestone(app, clock, a, at(6, 15, 10))
    app.end_contract(contract_id=a, by=Party.CLIENT, pay=None, actor=ACME,
                     feedback=Feedback.given(5, "Superb"))
    move(clock, at(6, 20, 10))
    refund = app.refund_client(contract_id=a, amount=usd("50.00"), actor="f1")
    return {"a": a, "b": b, "c": c, "d": d, "dispute": dispute,
            "request_b": ending["refund_request_id"], "refund_a": refund.response["refund_id"]}


# --- the hand table, as the read answers it ------------------------------------------------


def earning(when: str, event: str, gross: str, net: str) -> dict[str, Any]:
    return {"at": when, "event_type": event, "gross": m(gross), "net": m(net)}


def refund(kind: str, ref: str, when: str, amount: str) -> dict[str, Any]:
    return {"kind": kind, "ref": ref, "at": when, "amount": m(amount), "reversed_at": None}


def contract(ids: dict[str, str], key: str, client: str, kind: str, opened: str,
             ended: str | None, by: str | None, feedback: tuple[int, str] | None,
             flagged: bool, earnings: list[dict[str, Any]], total: str,
             refunds: list[dict[str, Any]], back: str, by_freelancer: str, net: str,
             weight: tuple[str, int, str], disputes: list[dict[str, Any]] | None = None,
             ) -> dict[str, Any]:
    return {
        "contract_id": ids[key], "client_id": client, "kind": kind, "job_id": None,
        "currency": "USD", "opened_at": opened, "ended_at": ended, "ended_by": by,
        "ended_with_work_paid": ended is not None and bool(earnings),
        "feedback": None if feedback is None
        else {"by": by, "rating": feedback[0], "comment": feedback[1]},
        "client_flagged": flagged,
        "client_flag_reason": "chargeback pattern" if flagged else None,
        "earnings": earnings, "earnings_total": m(total), "refunds": refunds,
        "refunded_to_client": m(back), "refunded_by_freelancer": m(by_freelancer),
        "net_earnings": m(net), "disputes": disputes or [],
        "earnings_weight": {"band": weight[0], "three_month_steps": weight[1],
                            "weight": weight[2]},
    }


RELEASED = "FixedPriceContract.MilestoneReleased"
WEEK = "HourlyContract.WeekReleased"


def expected_july(ids: dict[str, str]) -> dict[str, Any]:
    a = contract(
        ids, "a", ACME, "fixed_price", iso(3, 2, 9), iso(6, 15, 10), "client", (5, "Superb"),
        False, [earning(iso(3, 2, 9), RELEASED, "400.00", "360.00"),
                earning(iso(4, 20, 10), RELEASED, "400.00", "360.00"),
                earning(iso(6, 15, 10), RELEASED, "400.00", "360.00")], "1200.00",
        [refund("by_freelancer", ids["refund_a"], iso(6, 20, 10), "50.00")], "50.00", "50.00",
        "1150.00", ("1.50", 1, "2.50"))
    b = contract(
        ids, "b", ACME, "fixed_price", iso(3, 3, 10), iso(3, 4, 10), "client",
        (2, "Did not deliver"), False, [], "0.00",
        [refund("escrow", ids["request_b"], iso(3, 4, 10), "300.00")], "300.00", "0.00",
        "0.00", ("0.00", 0, "0.00"))
    c = contract(
        ids, "c", BOLT, "fixed_price", iso(3, 5, 10), iso(3, 8, 12), "client", (3, "Mixed"),
        True, [earning(iso(3, 8, 12), "FixedPriceContract.DisputeResolved", "600.00",
                       "540.00")], "600.00",
        [refund("dispute", ids["dispute"], iso(3, 8, 12), "400.00")], "400.00", "0.00",
        "600.00", ("1.25", 0, "1.25"),
        [{"dispute_id": ids["dispute"], "kind": "fixed_price", "origin": "refund_request",
          "opened_at": iso(3, 6, 10), "amount": m("1000.00"),
          "outcome": "mediation_accepted", "resolved_at": iso(3, 8, 12),
          "released": m("600.00"), "refunded": m("400.00")}])
    d = contract(
        ids, "d", BOLT, "hourly", iso(3, 9, 9), iso(4, 6, 10), "freelancer",
        (4, "Good client"), True,
        [earning(iso(3, 21), WEEK, "200.00", "180.00"),
         earning(iso(3, 28), WEEK, "300.00", "270.00"),
         earning(iso(4, 4), WEEK, "100.00", "90.00")], "600.00", [], "0.00", "0.00",
        "600.00", ("1.25", 0, "1.25"))
    return {
        "freelancer_id": "f1", "as_of": iso(7, 1),
        "contracts": [a, b, c, d],
        "clients": [
            {"client_id": ACME, "flagged": False, "first_payment_at": iso(3, 2, 9),
             "last_payment_at": iso(6, 15, 10), "payment_span_days": 105, "long_term": True},
            {"client_id": BOLT, "flagged": True, "first_payment_at": iso(3, 8, 12),
             "last_payment_at": iso(4, 4), "payment_span_days": 26, "long_term": False},
        ],
        "eligibility": {"since": iso(7, 1, year=2024),
                        "jobs": [ids["a"], ids["b"], ids["c"], ids["d"]],
                        "clients": [ACME, BOLT], "eligible": True},
        "badges": {
            "since": iso(7, 1, year=2025), "earnings_12_months": m("2350.00"),
            "top_rated": {"threshold": m("1000.00"), "met": True},
            "top_rated_plus": {"threshold": m("10000.00"),
                               "large_contract_threshold": m("5000.00"),
                               "large_contracts": [], "met": False},
        },
    }


@pytest.fixture
def ids(app: EscrowLedger, projector: ProjectionRunner, clock: FakeClock) -> dict[str, str]:
    return four_contracts(app, projector, clock)


def test_four_contracts_match_the_hand_table(ids: dict[str, str], app: EscrowLedger,
                                            projector: ProjectionRunner) -> None:
    answer = inputs(projector, at(7, 1))
    assert answer.pop("position") == app.position()
    assert answer == expected_july(ids)


def test_as_of_early_march_counts_only_what_had_happened(
    ids: dict[str, str], projector: ProjectionRunner,
) -> None:
    answer = inputs(projector, at(3, 4, 12))
    july = expected_july(ids)
    a, b = july["contracts"][0], july["contracts"][1]
    assert [c["contract_id"] for c in answer["contracts"]] == [ids["a"], ids["b"]]
    assert answer["contracts"][0] == {
        **a, "ended_at": None, "ended_by": None, "ended_with_work_paid": False,
        "feedback": None, "earnings": a["earnings"][:1], "earnings_total": m("400.00"),
        "refunds": [], "refunded_to_client": m("0.00"), "refunded_by_freelancer": m("0.00"),
        "net_earnings": m("400.00"),
        "earnings_weight": {"band": "1.25", "three_month_steps": 0, "weight": "1.25"}}
    assert answer["contracts"][1] == b
    assert answer["clients"] == [
        {"client_id": ACME, "flagged": False, "first_payment_at": iso(3, 2, 9),
         "last_payment_at": iso(3, 2, 9), "payment_span_days": 0, "long_term": False}]
    assert answer["eligibility"] == {"since": iso(3, 4, 12, year=2024),
                                     "jobs": [ids["a"], ids["b"]], "clients": [ACME],
                                     "eligible": False}
    assert answer["badges"]["earnings_12_months"] == m("400.00")
    assert answer["badges"]["top_rated"]["met"] is False


def test_the_flag_and_the_disputes_outcome_count_from_their_own_times(
    ids: dict[str, str], projector: ProjectionRunner,
) -> None:
    before_flag = inputs(projector, at(4, 9))
    assert [c["client_flagged"] for c in before_flag["contracts"]] == [False] * 4
    mid_dispute = inputs(projector, at(3, 7))
    [dispute] = mid_dispute["contracts"][2]["disputes"]
    assert dispute == {"dispute_id": ids["dispute"], "kind": "fixed_price",
                       "origin": "refund_request", "opened_at": iso(3, 6, 10),
                       "amount": m("1000.00"), "outcome": None, "resolved_at": None,
                       "released": None, "refunded": None}
    assert mid_dispute["contracts"][2]["ended_at"] is None


def test_a_year_later_only_the_last_12_months_count_toward_badges(
    ids: dict[str, str], projector: ProjectionRunner,
) -> None:
    answer = inputs(projector, at(5, 1, year=2027))
    # since 1 May 2026: A's third $400 less the $50 refund; C and D were paid before
    assert answer["badges"]["since"] == iso(5, 1, year=2026)
    assert answer["badges"]["earnings_12_months"] == m("350.00")
    assert answer["badges"]["top_rated"]["met"] is False
    assert answer["eligibility"]["eligible"] is True  # 24 months still hold all four
    assert [c["earnings_weight"]["weight"] for c in answer["contracts"]] == \
        ["2.50", "0.00", "1.25", "1.25"]


def test_rebuilding_the_jss_projection_gives_identical_rows(
    ids: dict[str, str], projector: ProjectionRunner,
) -> None:
    projector.catch_up()
    queries = jss(projector)
    before = queries.rows()
    assert {t: len(rows) for t, rows in before.items()} == {
        "contracts": 4, "earnings": 7, "refunds": 3, "disputes": 1, "flags": 1}
    answer = queries.freelancer_inputs("f1", as_of=at(7, 1), position=0)
    projector.rebuild("jss")
    assert queries.rows() == before
    assert queries.freelancer_inputs("f1", as_of=at(7, 1), position=0) == answer
    assert queries.position() == projector.app.position()


# --- refunds taken from earnings: a charged-back bonus, then won ---------------------------


def test_a_bonus_charged_back_is_a_refund_until_the_chargeback_is_won(
    app: EscrowLedger, projector: ProjectionRunner, clock: FakeClock,
) -> None:
    cid = open_fixed(app, ACME)
    bonus = app.pay_bonus(contract_id=cid, amount=usd("100.00"), actor=ACME).response
    move(clock, at(3, 3, 9))
    chargeback = app.receive_chargeback(payment_id=bonus["payment_id"], reason="fraud",
                                        actor="processor").response["chargeback_id"]
    charged_back = inputs(projector, at(3, 3, 12))["contracts"][0]
    assert charged_back["earnings"] == [
        earning(iso(3, 2, 9), "FixedPriceContract.BonusPaid", "100.00", "90.00")]
    assert charged_back["refunds"] == [refund("chargeback", chargeback, iso(3, 3, 9), "90.00")]
    assert charged_back["refunded_by_freelancer"] == m("90.00")
    assert charged_back["net_earnings"] == m("10.00")

    move(clock, at(3, 4, 9))
    app.decide_chargeback(chargeback_id=chargeback, won=True, actor="processor")
    won = inputs(projector, at(3, 4, 12))["contracts"][0]
    assert won["refunds"] == [{**refund("chargeback", chargeback, iso(3, 3, 9), "90.00"),
                               "reversed_at": iso(3, 4, 9)}]
    assert won["refunded_by_freelancer"] == m("0.00")
    assert won["net_earnings"] == m("100.00")
    # as of before the win, the debit still counted
    assert inputs(projector, at(3, 3, 12))["contracts"][0]["net_earnings"] == m("10.00")
    [row] = jss(projector).rows()["contracts"]
    assert row["refunded_minor"] == 0


# --- feedback and flags: refusals write nothing ----------------------------------------------


@pytest.mark.parametrize(("rating", "comment"), [
    (0, None), (6, None), (True, None), ("5", None), (4.0, None), (5, "x" * 2001), (5, 7),
])
def test_feedback_out_of_bounds_is_refused_before_anything_is_written(
    rating: object, comment: object,
) -> None:
    with pytest.raises(InvalidFeedback):
        Feedback.given(rating, comment)


def test_feedback_bounds_are_inclusive() -> None:
    assert Feedback.given(1, "x" * 2000) == Feedback(1, "x" * 2000)
    assert Feedback.given(5) == Feedback(5, None)
    assert Feedback.comment_only("Great work") == Feedback(None, "Great work")


def test_flagging_twice_is_refused_and_writes_nothing(app: EscrowLedger) -> None:
    first = app.flag_client(client_id=BOLT, reason="abuse", actor="finance",
                            idempotency_key="f-1")
    assert first.response == {"client_id": BOLT, "flagged": True, "reason": "abuse"}
    position = app.position()
    replay = app.flag_client(client_id=BOLT, reason="abuse", actor="finance",
                             idempotency_key="f-1")
    assert replay.replayed
    assert replay.response == first.response
    with pytest.raises(ClientAlreadyFlagged):
        app.flag_client(client_id=BOLT, reason="again", actor="finance", idempotency_key="f-2")
    with pytest.raises(InvalidInput):
        app.flag_client(client_id=ACME, reason="  ", actor="finance", idempotency_key="f-3")
    with pytest.raises(ClientNotFlagged):
        app.unflag_client(client_id=ACME, reason="", actor="finance", idempotency_key="u-0")
    assert app.position() == position
    lifted = app.unflag_client(client_id=BOLT, reason="resolved", actor="finance")
    assert lifted.response == {"client_id": BOLT, "flagged": False, "reason": None}


# --- events stored before feedback ratings still load ------------------------------------------


def test_endings_stored_before_ratings_load_without_feedback(
    tmp_path: Path, clock: FakeClock,
) -> None:
    """An ``EscrowRefundRequested`` of version 1 (no refund choice, no feedback) and an
    ``Ended`` of version 1 (a comment, no rating) load, and the JSS reads them."""
    first = EscrowLedger(store_from_url(f"sqlite:///{tmp_path / 'a.db'}").env, clock=clock)
    cid = open_fixed(first, ACME)
    funded(first, cid, "300.00", ACME)
    ending = first.end_contract(contract_id=cid, by=Party.CLIENT, pay="none", actor=ACME,
                                feedback=Feedback.given(2, "Slow")).response
    first.approve_refund_request(contract_id=cid, request_id=ending["refund_request_id"],
                                 actor="f1")
    stored = []
    for n in first.recorder.select_notifications(start=1, limit=1000):
        state = json.loads(n.state.decode())
        if n.topic.endswith(".EscrowRefundRequested"):
            for key in ("class_version", "refund_to", "feedback", "feedback_rating"):
                state.pop(key)
        if n.topic.endswith(".Ended"):
            state.pop("class_version")
            state.pop("feedback_rating")
            state["feedback"] = "Slow (before ratings)"
        stored.append(StoredEvent(originator_id=n.originator_id,
                                  originator_version=n.originator_version, topic=n.topic,
                                  state=json.dumps(state).encode()))
    first.close()
    old = EscrowLedger(store_from_url(f"sqlite:///{tmp_path / 'b.db'}").env, clock=clock)
    old.recorder.insert_events(stored)
    loaded = old.contract(cid)
    assert loaded.status.value == "ended"
    assert loaded.ending_feedback is None
    runner = ProjectionRunner(old)
    runner.catch_up()
    [row] = jss(runner).rows()["contracts"]
    assert (row["contract_id"], row["feedback_rating"], row["feedback_comment"]) == \
        (cid, None, "Slow (before ratings)")
    assert UUID(cid) == loaded.id
    old.close()


def test_full_months_count_to_a_short_months_end() -> None:
    assert full_months(at(1, 31), at(4, 30)) == 3
    assert full_months(at(1, 31), at(4, 29)) == 2
    assert full_months(at(3, 2, 9), at(6, 2, 8)) == 2
    assert full_months(at(3, 2, 9), at(6, 2, 9)) == 3
    assert full_months(at(3, 2, 9), at(3, 2, 9)) == 0
