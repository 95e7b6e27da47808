"""Connects over HTTP, on both stores, with every figure pinned.

The test clock starts Monday 2 March 2026, 09:00 UTC and stands still between
commands. A Connect costs $0.15; a lot expires 12 months after it was issued
(a lot bought 2026-03-02 09:00 expires 2027-03-02 09:00); Freelancer Plus costs
$19.99 a month and grants 100 Connects a month, basic grants 10 a month for
nothing; a boost's auction closes 7 days after the job was posted.

Connects are a second unit of account (``CONNECTS``) in double entry:
``connects:issued`` (debit-normal) == ``connects:wallet:<id>`` + ``connects:spent``
+ ``connects:expired``. The money of a paid lot sits in ``deferred:connects``
until its Connects are spent (``revenue:connects``) or expire
(``revenue:connects_breakage``). ``Api.net`` reads only the USD line of an account,
so the CONNECTS balances are read with ``units``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.api.conftest import AUDIT_KEY, FINANCE_KEY, Api, assert_problem, usd

ADVANCE = "/v1/test-clock/advance"
ADA = "freelancer-ada"
BOB = "freelancer-bob"
CLEARING = "processor:clearing"
AVAILABLE = "freelancer:freelancer-ada:available"
DEFERRED = "deferred:connects"
REVENUE = "revenue:connects"
BREAKAGE = "revenue:connects_breakage"
MEMBERSHIP = "revenue:membership"
WALLET = "connects:wallet:freelancer-ada"
ISSUED = "connects:issued"
SPENT = "connects:spent"
EXPIRED = "connects:expired"
ONE_YEAR_ON = "2027-03-02T09:00:00Z"


# --- helpers --------------------------------------------------------------------------------------


def path(step: str = "", freelancer: str = ADA) -> str:
    return f"/v1/freelancers/{freelancer}/connects" + (f"/{step}" if step else "")


def advance(api: Api, to: str) -> list[dict[str, Any]]:
    """Moves the test clock; answers what fired."""
    fired: list[dict[str, Any]] = api.ok(ADVANCE, {"to": to})["fired"]
    return fired


def fired_kinds(fired: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(f["kind"], f["due"]) for f in fired]


def buy(api: Api, connects: int, method: str = "card",
        freelancer: str = ADA) -> dict[str, Any]:
    return api.ok(path("purchases", freelancer),
                  {"connects": connects, "payment_method": method}, status=201)


def grant(api: Api, connects: int, reason: str = "welcome bonus") -> dict[str, Any]:
    return api.ok(path("grants"), {"connects": connects, "reason": reason}, status=201)


def spend(api: Api, connects: int, job_id: str | None = None,
          reason: str = "proposal") -> dict[str, Any]:
    body: dict[str, Any] = {"connects": connects, "reason": reason}
    if job_id is not None:
        body["job_id"] = job_id
    return api.ok(path("spends"), body, status=201)


def boost(api: Api, connects: int, job_id: str,
          job_posted_at: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"connects": connects, "job_id": job_id}
    if job_posted_at is not None:
        body["job_posted_at"] = job_posted_at
    return api.ok(path("boosts"), body, status=201)


def give_back(api: Api, spend_id: str,
              reason: str = "job_cancelled_before_contract") -> dict[str, Any]:
    return api.ok(path("returns"), {"spend_id": spend_id, "reason": reason})


def units(api: Api, account: str) -> str | None:
    """The account's CONNECTS balance on its normal side, or None when it never moved."""
    lines = [b for b in api.balance(account)["balances"] if b["currency"] == "CONNECTS"]
    assert len(lines) <= 1
    return str(lines[0]["amount"]) if lines else None


def view(api: Api, freelancer: str = ADA, **params: Any) -> dict[str, Any]:
    response = api.get(path(freelancer=freelancer), params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def statement(api: Api, month: str, freelancer: str = ADA) -> dict[str, Any]:
    response = api.get(path("statement", freelancer), params={"month": month})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def lots(api: Api, freelancer: str = ADA) -> list[tuple[str, int, int, int]]:
    """Each lot, oldest first, as (issued_at, issued, remaining, expired)."""
    return [(lot["issued_at"], lot["issued"], lot["remaining"], lot["expired"])
            for lot in view(api, freelancer)["lots"]]


def taken(answer: dict[str, Any]) -> list[tuple[str, int]]:
    return [(t["lot_id"], t["connects"]) for t in answer["taken"]]


def money_of(api: Api, *accounts: str) -> dict[str, str | None]:
    return {a: api.net(a) for a in accounts}


def assert_books_zero(api: Api, *, usd_moved: bool = True) -> None:
    """The trial balance nets to zero in CONNECTS and (when any moved) in USD, and a
    fresh replay of the log equals the journal view."""
    response = api.get("/v1/finance/trial-balance", key=FINANCE_KEY)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["balanced"] is True, data
    assert {c["currency"]: c["net"] for c in data["currencies"]} == (
        {"CONNECTS": "0", "USD": "0.00"} if usd_moved else {"CONNECTS": "0"})
    replay = api.get("/v1/audit/replay-check", key=AUDIT_KEY)
    assert replay.status_code == 200, replay.text
    assert replay.json()["ok"] is True, replay.json()


def assert_connects_conserved(api: Api) -> None:
    """issued == every wallet + spent + expired, in whole Connects."""
    wallets = sum(int(units(api, f"connects:wallet:{f}") or 0) for f in (ADA, BOB))
    assert int(units(api, ISSUED) or 0) == (
        wallets + int(units(api, SPENT) or 0) + int(units(api, EXPIRED) or 0))


# --- buying and spending --------------------------------------------------------------------------


def test_buying_80_by_card_costs_12_and_defers_it_until_spent(tapi: Api) -> None:
    bought = buy(tapi, 80)
    lot = bought["lot"]
    assert bought["price"] == usd("12.00")
    assert bought["payment_method"] == "card"
    assert bought["balance"] == 80
    assert lot["source"] == "purchase"
    assert lot["unit_price"] == usd("0.15")
    assert (lot["issued"], lot["remaining"], lot["expired"]) == (80, 80, 0)
    assert lot["issued_at"] == "2026-03-02T09:00:00+00:00"
    assert lot["expires_at"] == "2027-03-02T09:00:00+00:00"
    assert money_of(tapi, CLEARING, DEFERRED, REVENUE) == {
        CLEARING: "12.00", DEFERRED: "12.00", REVENUE: None}
    assert units(tapi, WALLET) == "80"
    assert units(tapi, ISSUED) == "80"

    spent = spend(tapi, 16, "job-1")
    assert spent["status"] == "spent"
    assert spent["reason"] == "proposal"
    assert spent["job_id"] == "job-1"
    assert spent["connects"] == 16
    assert spent["revenue"] == usd("2.40")
    assert taken(spent) == [(lot["lot_id"], 16)]
    assert spent["balance"] == 64
    assert spent["auction_closes_at"] is None
    assert money_of(tapi, CLEARING, DEFERRED, REVENUE) == {
        CLEARING: "12.00", DEFERRED: "9.60", REVENUE: "2.40"}
    assert (units(tapi, WALLET), units(tapi, SPENT)) == ("64", "16")
    assert lots(tapi) == [("2026-03-02T09:00:00+00:00", 80, 64, 0)]
    assert view(tapi)["balance"] == 64
    assert_connects_conserved(tapi)
    assert_books_zero(tapi)


def test_a_spend_bigger_than_the_oldest_lot_empties_it_and_takes_the_rest_from_the_next(
        tapi: Api) -> None:
    first = buy(tapi, 10)["lot"]["lot_id"]
    advance(tapi, "2026-03-03T09:00:00Z")
    second = buy(tapi, 80)["lot"]["lot_id"]
    assert tapi.net(DEFERRED) == "13.50"

    spent = spend(tapi, 16, "job-1")
    assert taken(spent) == [(first, 10), (second, 6)]
    assert spent["revenue"] == usd("2.40")
    assert spent["balance"] == 74
    assert lots(tapi) == [("2026-03-02T09:00:00+00:00", 10, 0, 0),
                          ("2026-03-03T09:00:00+00:00", 80, 74, 0)]
    assert money_of(tapi, DEFERRED, REVENUE) == {DEFERRED: "11.10", REVENUE: "2.40"}
    assert units(tapi, WALLET) == "74"
    assert_books_zero(tapi)


def test_free_connects_are_spent_first_when_older_and_recognise_no_revenue(tapi: Api) -> None:
    free = grant(tapi, 5)
    assert free["lot"]["unit_price"] == usd("0.00")
    assert free["lot"]["source"] == "grant: welcome bonus"
    assert free["price"] is None
    assert tapi.net(DEFERRED) is None  # a grant moves no money
    advance(tapi, "2026-03-03T09:00:00Z")
    paid = buy(tapi, 80)["lot"]["lot_id"]

    spent = spend(tapi, 16, "job-1")
    assert taken(spent) == [(free["lot"]["lot_id"], 5), (paid, 11)]
    assert spent["revenue"] == usd("1.65")  # 11 paid Connects at $0.15, 5 free ones
    assert money_of(tapi, DEFERRED, REVENUE) == {DEFERRED: "10.35", REVENUE: "1.65"}
    assert_books_zero(tapi)


def test_lots_issued_at_the_same_moment_are_spent_in_the_order_they_were_issued(
        tapi: Api) -> None:
    """The clock stands still: eight lots of one bought, then one granted, all at 09:00.
    The first bought is the oldest, whatever its lot id sorts like as a string."""
    bought = [buy(tapi, 1)["lot"]["lot_id"] for _ in range(8)]
    granted = grant(tapi, 1)["lot"]["lot_id"]
    spent = spend(tapi, 1, "job-1")
    assert taken(spent) == [(bought[0], 1)]
    assert spent["revenue"] == usd("0.15")
    assert [lot["lot_id"] for lot in view(tapi)["lots"]] == [*bought, granted]


# --- expiry ---------------------------------------------------------------------------------------


def test_a_year_later_the_paid_connects_left_expire_into_breakage(tapi: Api) -> None:
    old = buy(tapi, 80)["lot"]["lot_id"]
    spend(tapi, 16, "job-1")
    advance(tapi, "2026-03-03T09:00:00Z")
    young = buy(tapi, 10)["lot"]["lot_id"]
    assert money_of(tapi, DEFERRED, REVENUE) == {DEFERRED: "11.10", REVENUE: "2.40"}

    fired = advance(tapi, ONE_YEAR_ON)
    assert fired_kinds(fired) == [("connects_expiry", "2027-03-02T09:00:00+00:00")]
    assert fired[0]["ref"] == old
    assert fired[0]["outcome"] == {"freelancer_id": ADA, "lot_id": old, "expired": 64,
                                   "breakage": usd("9.60")}
    # 64 x $0.15 = $9.60 from deferred to breakage; what is left deferred is the young lot's
    assert money_of(tapi, DEFERRED, REVENUE, BREAKAGE) == {
        DEFERRED: "1.50", REVENUE: "2.40", BREAKAGE: "9.60"}
    assert (units(tapi, WALLET), units(tapi, EXPIRED), units(tapi, SPENT)) == ("10", "64", "16")
    wallet = view(tapi)
    assert wallet["balance"] == 10
    assert [(lot["lot_id"], lot["remaining"], lot["expired"]) for lot in wallet["lots"]] == [
        (old, 0, 64), (young, 10, 0)]
    assert wallet["history"][-1]["event"] == "LotExpired"
    assert wallet["history"][-1]["connects"] == -64
    assert wallet["history"][-1]["breakage"] == usd("9.60")

    # the expired lot is gone for spending: only the young lot's 10 are left
    tapi.refused(409, "insufficient-connects", path("spends"),
                 {"connects": 11, "job_id": "job-2"})

    fired = advance(tapi, "2027-03-03T09:00:00Z")
    assert [f["outcome"]["expired"] for f in fired] == [10]
    assert money_of(tapi, DEFERRED, REVENUE, BREAKAGE) == {
        DEFERRED: "0.00", REVENUE: "2.40", BREAKAGE: "11.10"}
    assert units(tapi, WALLET) == "0"
    assert_connects_conserved(tapi)
    assert_books_zero(tapi)


def test_free_connects_expire_without_moving_money(tapi: Api) -> None:
    grant(tapi, 30)
    fired = advance(tapi, ONE_YEAR_ON)
    assert [f["outcome"]["expired"] for f in fired] == [30]
    assert fired[0]["outcome"]["breakage"] == usd("0.00")
    assert money_of(tapi, DEFERRED, BREAKAGE) == {DEFERRED: None, BREAKAGE: None}  # no $0 legs
    assert (units(tapi, WALLET), units(tapi, EXPIRED)) == ("0", "30")
    assert_books_zero(tapi, usd_moved=False)


# --- boosts ---------------------------------------------------------------------------------------


def test_an_outbid_boost_comes_back_into_its_lots_with_their_original_expiry(
        tapi: Api) -> None:
    first = buy(tapi, 10)["lot"]["lot_id"]
    advance(tapi, "2026-03-03T09:00:00Z")
    second = buy(tapi, 80)["lot"]["lot_id"]
    before = view(tapi)["lots"]

    bid = boost(tapi, 20, "job-b", job_posted_at="2026-03-02T12:00:00Z")
    boost_id = bid["boost_id"]
    assert bid["spend_id"] == boost_id
    assert bid["reason"] == "boost"
    assert bid["status"] == "spent"
    assert bid["auction_closes_at"] == "2026-03-09T12:00:00+00:00"
    assert taken(bid) == [(first, 10), (second, 10)]
    assert bid["revenue"] == usd("3.00")
    assert bid["balance"] == 70
    assert money_of(tapi, DEFERRED, REVENUE) == {DEFERRED: "10.50", REVENUE: "3.00"}

    out = tapi.ok(path(f"boosts/{boost_id}/outbid"))
    assert out["status"] == "outbid"
    assert out["returned"] == 20
    assert out["balance"] == 90
    assert view(tapi)["lots"] == before  # same lots, same expiry, all Connects back
    assert money_of(tapi, DEFERRED, REVENUE) == {DEFERRED: "13.50", REVENUE: "0.00"}
    assert (units(tapi, WALLET), units(tapi, SPENT)) == ("90", "0")

    tapi.refused(409, "spend-state", path(f"boosts/{boost_id}/outbid"))
    assert_books_zero(tapi)


def test_a_boost_cannot_be_outbid_once_its_auction_closed(tapi: Api) -> None:
    buy(tapi, 80)
    boost_id = boost(tapi, 12, "job-b")["boost_id"]  # posted now: closes 2026-03-09 09:00
    fired = advance(tapi, "2026-03-09T09:00:01Z")
    assert fired_kinds(fired) == [("boost_auction_close", "2026-03-09T09:00:00+00:00")]
    assert fired[0]["outcome"] == {"freelancer_id": ADA, "boost_id": boost_id, "closed": True}
    tapi.refused(409, "spend-state", path(f"boosts/{boost_id}/outbid"))
    assert money_of(tapi, DEFERRED, REVENUE) == {DEFERRED: "10.20", REVENUE: "1.80"}
    assert_books_zero(tapi)


def test_boosting_a_closed_auction_or_a_hired_job_is_409(tapi: Api) -> None:
    buy(tapi, 80)
    tapi.refused(409, "spend-state", path("boosts"),
                 {"connects": 5, "job_id": "job-old", "job_posted_at": "2026-02-23T09:00:00Z"})
    # a job posted in the future is a malformed bid, not a closed auction
    tapi.refused(422, "invalid-input", path("boosts"),
                 {"connects": 5, "job_id": "job-later", "job_posted_at": "2026-03-03T09:00:00Z"})
    boost_id = boost(tapi, 5, "job-h")["boost_id"]
    tapi.open_contract(job_id="job-h")
    tapi.refused(409, "spend-state", path(f"boosts/{boost_id}/outbid"))
    tapi.refused(409, "spend-state", path("boosts"), {"connects": 5, "job_id": "job-h"})
    tapi.refused(404, "spend-not-found", path("boosts/no-such-boost/outbid"))


def test_only_a_boost_can_be_outbid(tapi: Api) -> None:
    buy(tapi, 80)
    spend_id = spend(tapi, 16, "job-1")["spend_id"]
    tapi.refused(409, "spend-state", path(f"boosts/{spend_id}/outbid"))


# --- returns --------------------------------------------------------------------------------------


def test_a_job_cancelled_before_any_contract_returns_the_connects_into_their_lots(
        tapi: Api) -> None:
    first = buy(tapi, 10)["lot"]["lot_id"]
    advance(tapi, "2026-03-03T09:00:00Z")
    second = buy(tapi, 80)["lot"]["lot_id"]
    before = view(tapi)["lots"]
    spent = spend(tapi, 16, "job-c")
    spend_id = spent["spend_id"]
    assert taken(spent) == [(first, 10), (second, 6)]

    tapi.refused(422, "invalid-input", path("returns"),
                 {"spend_id": spend_id, "reason": "proposal_declined"})
    tapi.refused(422, "invalid-input", path("returns"),
                 {"spend_id": spend_id, "reason": "freelancer_withdrew"})

    back = give_back(tapi, spend_id)
    assert back["status"] == "returned"
    assert back["returned"] == 16
    assert back["balance"] == 90
    assert taken(back) == [(first, 10), (second, 6)]
    assert view(tapi)["lots"] == before
    assert money_of(tapi, DEFERRED, REVENUE) == {DEFERRED: "13.50", REVENUE: "0.00"}
    assert (units(tapi, WALLET), units(tapi, SPENT)) == ("90", "0")

    tapi.refused(409, "spend-state", path("returns"),
                 {"spend_id": spend_id, "reason": "job_cancelled_before_contract"})
    tapi.refused(409, "spend-state", path("returns"),
                 {"spend_id": spend_id, "reason": "job_removed_for_violation"})
    tapi.refused(404, "spend-not-found", path("returns"),
                 {"spend_id": "no-such-spend", "reason": "job_cancelled_before_contract"})
    assert_books_zero(tapi)


def test_a_job_that_led_to_a_contract_returns_connects_only_when_removed_for_violation(
        tapi: Api) -> None:
    buy(tapi, 80)
    spend_id = spend(tapi, 16, "job-h")["spend_id"]
    tapi.open_contract(job_id="job-h")

    tapi.refused(409, "spend-state", path("returns"),
                 {"spend_id": spend_id, "reason": "job_cancelled_before_contract"})
    back = give_back(tapi, spend_id, "job_removed_for_violation")
    assert back["status"] == "returned"
    assert back["returned"] == 16
    assert back["balance"] == 80
    assert money_of(tapi, DEFERRED, REVENUE) == {DEFERRED: "12.00", REVENUE: "0.00"}
    assert_books_zero(tapi)


def test_a_spend_for_no_job_is_never_returned(tapi: Api) -> None:
    buy(tapi, 80)
    spend_id = spend(tapi, 8, reason="availability_badge")["spend_id"]
    tapi.refused(409, "spend-state", path("returns"),
                 {"spend_id": spend_id, "reason": "job_cancelled_before_contract"})


def test_connects_returned_into_an_expired_lot_expire_again_at_once(tapi: Api) -> None:
    """16 spent from a 10-lot (expires 2027-03-02) and an 80-lot (2027-03-03), returned
    at 2027-03-02 09:00: the 10 expire again at once, the 6 are back until tomorrow."""
    first = buy(tapi, 10)["lot"]["lot_id"]
    advance(tapi, "2026-03-03T09:00:00Z")
    second = buy(tapi, 80)["lot"]["lot_id"]
    spend_id = spend(tapi, 16, "job-x")["spend_id"]
    assert money_of(tapi, DEFERRED, REVENUE) == {DEFERRED: "11.10", REVENUE: "2.40"}

    fired = advance(tapi, ONE_YEAR_ON)
    assert [(f["kind"], f["outcome"]["expired"]) for f in fired] == [("connects_expiry", 0)]
    assert units(tapi, WALLET) == "74"

    back = give_back(tapi, spend_id)
    assert back["returned"] == 16
    assert back["balance"] == 80  # 74 + 6: the first lot's 10 came back expired
    assert [(lot["lot_id"], lot["remaining"], lot["expired"])
            for lot in view(tapi)["lots"]] == [(first, 0, 10), (second, 80, 0)]
    # $2.40 of revenue reversed: $0.90 back to deferred, $1.50 on to breakage
    assert money_of(tapi, DEFERRED, REVENUE, BREAKAGE) == {
        DEFERRED: "12.00", REVENUE: "0.00", BREAKAGE: "1.50"}
    assert (units(tapi, WALLET), units(tapi, SPENT), units(tapi, EXPIRED)) == ("80", "0", "10")
    assert view(tapi)["history"][-1]["connects"] == 6
    assert_connects_conserved(tapi)
    assert_books_zero(tapi)


def test_returning_a_spend_whose_lot_already_expired_changes_no_balance(tapi: Api) -> None:
    """The lot expired (64 left, $9.60 breakage); the 16 returned expire again at once:
    the balance stays 0 and the $2.40 of revenue moves to breakage."""
    buy(tapi, 80)
    spend_id = spend(tapi, 16, "job-x")["spend_id"]
    advance(tapi, ONE_YEAR_ON)
    assert money_of(tapi, DEFERRED, REVENUE, BREAKAGE) == {
        DEFERRED: "0.00", REVENUE: "2.40", BREAKAGE: "9.60"}

    back = give_back(tapi, spend_id)
    assert back["returned"] == 16
    assert back["balance"] == 0
    assert lots(tapi) == [("2026-03-02T09:00:00+00:00", 80, 0, 80)]
    assert money_of(tapi, DEFERRED, REVENUE, BREAKAGE) == {
        DEFERRED: "0.00", REVENUE: "0.00", BREAKAGE: "12.00"}
    assert (units(tapi, WALLET), units(tapi, SPENT), units(tapi, EXPIRED)) == ("0", "0", "80")

    march = statement(tapi, "2027-03")
    assert (march["opening_balance"], march["closing_balance"]) == (64, 0)
    assert (march["returned"], march["expired"]) == (16, 80)
    assert_books_zero(tapi)


# --- memberships ----------------------------------------------------------------------------------


def test_freelancer_plus_charges_19_99_a_month_and_grants_100(tapi: Api) -> None:
    plus = tapi.ok(path("memberships"), {"plan": "plus"}, status=201)
    assert plus["plan"] == "plus"
    assert plus["charged"] == usd("19.99")
    assert plus["granted"] == 100
    assert plus["next_cycle_at"] == "2026-04-02T09:00:00+00:00"
    assert plus["balance"] == 100
    assert money_of(tapi, MEMBERSHIP, CLEARING, DEFERRED) == {
        MEMBERSHIP: "19.99", CLEARING: "19.99", DEFERRED: None}
    [lot] = view(tapi)["lots"]
    assert lot["source"] == "monthly plus"
    assert lot["unit_price"] == usd("0.00")
    assert lot["expires_at"] == "2027-03-02T09:00:00+00:00"
    tapi.refused(409, "spend-state", path("memberships"), {"plan": "plus"})

    basic = tapi.ok(path("memberships", BOB), {"plan": "basic"}, status=201)
    assert basic["charged"] == usd("0.00")
    assert (basic["granted"], basic["balance"]) == (10, 10)
    tapi.refused(409, "spend-state", path("memberships", BOB), {"plan": "basic"})
    assert tapi.net(MEMBERSHIP) == "19.99"

    fired = advance(tapi, "2026-04-02T09:00:00Z")
    assert sorted((f["kind"], f["due"], f["outcome"]["charged"]["amount"]) for f in fired) == [
        ("connects_monthly", "2026-04-02T09:00:00+00:00", "0.00"),
        ("connects_monthly", "2026-04-02T09:00:00+00:00", "19.99")]
    # two months of Plus: 2 x $19.99
    assert money_of(tapi, MEMBERSHIP, CLEARING) == {MEMBERSHIP: "39.98", CLEARING: "39.98"}
    assert view(tapi)["balance"] == 200
    assert view(tapi)["next_cycle_at"] == "2026-05-02T09:00:00+00:00"
    assert view(tapi, BOB)["balance"] == 20
    assert units(tapi, "connects:wallet:freelancer-bob") == "20"

    spent = spend(tapi, 16, "job-1")
    assert spent["revenue"] == usd("0.00")  # granted Connects recognise no revenue
    assert tapi.net(REVENUE) is None

    april = statement(tapi, "2026-04")
    assert april["membership_charged"] == usd("19.99")
    assert (april["opening_balance"], april["granted"], april["closing_balance"]) == (
        100, 100, 184)
    assert_connects_conserved(tapi)
    assert_books_zero(tapi)


@pytest.mark.parametrize("clock_start", [datetime(2026, 1, 31, 9, tzinfo=UTC)])
def test_a_plan_started_on_the_31st_renews_on_each_month_s_last_day_without_drifting(
        tapi: Api) -> None:
    """Each month of a plan starts on the day it was started, or on the month's last day
    when it has no such day: 31 January, 28 February, 31 March, 30 April."""
    started = tapi.ok(path("memberships"), {"plan": "plus"}, status=201)
    assert started["next_cycle_at"] == "2026-02-28T09:00:00+00:00"
    fired = advance(tapi, "2026-04-30T09:00:00Z")
    assert [f["due"] for f in fired if f["kind"] == "connects_monthly"] == [
        "2026-02-28T09:00:00+00:00", "2026-03-31T09:00:00+00:00",
        "2026-04-30T09:00:00+00:00"]
    assert view(tapi)["next_cycle_at"] == "2026-05-31T09:00:00+00:00"
    assert tapi.net(MEMBERSHIP) == "79.96"  # four months of Plus


@pytest.mark.parametrize("plan", ["gold", "", None])
def test_an_unknown_plan_is_422(tapi: Api, plan: str | None) -> None:
    tapi.refused(422, "invalid-input", path("memberships"), {"plan": plan})


# --- paying from the available balance ------------------------------------------------------------


def test_paying_from_an_empty_available_balance_is_409_and_writes_nothing(tapi: Api) -> None:
    tapi.refused(409, "insufficient-funds", path("purchases"),
                 {"connects": 80, "payment_method": "available_balance"})
    # released money still in its security period is not available either
    contract_id, milestone_id = tapi.funded_milestone("500.00")
    tapi.ok(tapi.milestone_path(contract_id, milestone_id, "approve"), {})
    tapi.refused(409, "insufficient-funds", path("purchases"),
                 {"connects": 80, "payment_method": "available_balance"})


def test_paying_from_the_available_balance_takes_the_price_from_it(tapi: Api) -> None:
    contract_id, milestone_id = tapi.funded_milestone("500.00")
    tapi.ok(tapi.milestone_path(contract_id, milestone_id, "approve"), {})
    advance(tapi, "2026-03-07T09:00:00Z")  # the 5-day security period ends
    assert tapi.net(AVAILABLE) == "450.00"
    clearing = tapi.net(CLEARING)

    bought = buy(tapi, 100, "available_balance")
    assert bought["price"] == usd("15.00")
    assert bought["payment_method"] == "available_balance"
    assert money_of(tapi, AVAILABLE, DEFERRED, CLEARING) == {
        AVAILABLE: "435.00", DEFERRED: "15.00", CLEARING: clearing}
    # more than is left is refused and writes nothing
    tapi.refused(409, "insufficient-funds", path("purchases"),
                 {"connects": 2901, "payment_method": "available_balance"})
    bought = buy(tapi, 2900, "available_balance")
    assert bought["price"] == usd("435.00")
    assert money_of(tapi, AVAILABLE, DEFERRED) == {AVAILABLE: "0.00", DEFERRED: "450.00"}
    assert_books_zero(tapi)


# --- refusals -------------------------------------------------------------------------------------


def test_spending_more_than_the_balance_is_409_and_writes_nothing(tapi: Api) -> None:
    tapi.refused(409, "insufficient-connects", path("spends"),
                 {"connects": 1, "job_id": "job-1"})
    buy(tapi, 80)
    tapi.refused(409, "insufficient-connects", path("spends"),
                 {"connects": 81, "reason": "profile_boost"})
    tapi.refused(409, "insufficient-connects", path("boosts"),
                 {"connects": 81, "job_id": "job-1"})
    assert units(tapi, WALLET) == "80"


@pytest.mark.parametrize("body", [
    {"connects": 17, "job_id": "job-1"},
    {"connects": 0, "job_id": "job-1"},
    {"connects": -1, "job_id": "job-1"},
    {"connects": 16},
    {"connects": 16, "reason": "proposal", "job_id": None},
    {"connects": "16", "job_id": "job-1"},
    {"connects": 16.0, "job_id": "job-1"},
    {"connects": True, "job_id": "job-1"},
    {"connects": 4, "reason": "boost", "job_id": "job-1"},
    {"connects": 4, "reason": "coffee", "job_id": "job-1"},
])
def test_a_malformed_spend_is_422(tapi: Api, body: dict[str, Any]) -> None:
    buy(tapi, 80)
    tapi.refused(422, "invalid-input", path("spends"), body)


@pytest.mark.parametrize("body", [
    {"connects": "80"}, {"connects": 80.0}, {"connects": 0},
    {"connects": 80, "payment_method": "cash"}, {"connects": 1_000_001},
])
def test_a_malformed_purchase_is_422(tapi: Api, body: dict[str, Any]) -> None:
    tapi.refused(422, "invalid-input", path("purchases"), body)


@pytest.mark.parametrize("body", [
    {"connects": 5, "reason": "   "}, {"connects": 5}, {"connects": 5.0, "reason": "bonus"},
])
def test_a_malformed_grant_is_422(tapi: Api, body: dict[str, Any]) -> None:
    tapi.refused(422, "invalid-input", path("grants"), body)


def test_a_bad_freelancer_id_is_refused(tapi: Api) -> None:
    tapi.refused(422, "invalid-input", path("purchases", "a:b"), {"connects": 1})
    assert_problem(tapi.get(path(freelancer="nobody")), 404, "freelancer-not-found")


# --- reads ----------------------------------------------------------------------------------------


def test_the_wallet_lists_lots_oldest_first_and_pages_its_history(tapi: Api) -> None:
    first = grant(tapi, 5)["lot"]["lot_id"]
    advance(tapi, "2026-03-03T09:00:00Z")
    second = buy(tapi, 80)["lot"]["lot_id"]
    spend(tapi, 16, "job-1")
    advance(tapi, "2026-03-04T09:00:00Z")
    third = buy(tapi, 20)["lot"]["lot_id"]

    wallet = view(tapi)
    assert wallet["balance"] == 89
    assert wallet["plan"] is None
    assert [(lot["lot_id"], lot["remaining"]) for lot in wallet["lots"]] == [
        (first, 0), (second, 69), (third, 20)]
    assert [(h["version"], h["event"], h["connects"]) for h in wallet["history"]] == [
        (1, "Opened", 0), (2, "LotIssued", 5), (3, "LotIssued", 80),
        (4, "ConnectsSpent", -16), (5, "LotIssued", 20)]
    assert wallet["next_cursor"] is None

    pages, after = [], None
    while True:
        page = view(tapi, limit=2, **({} if after is None else {"after": after}))
        pages.append([h["version"] for h in page["history"]])
        after = page["next_cursor"]
        if after is None:
            break
    assert pages == [[1, 2], [3, 4], [5]]
    assert view(tapi, after=5)["history"] == []


def test_the_monthly_statement_counts_bought_granted_spent_returned_and_jobs(
        tapi: Api) -> None:
    grant(tapi, 5)  # 2026-03-02, expires 2027-03-02
    buy(tapi, 80)  # $12.00
    hired = spend(tapi, 16, "job-hired")
    spend(tapi, 10, "job-hired")  # a second proposal on the same job
    spend(tapi, 12, "job-idle")
    cancelled = spend(tapi, 6, "job-cancelled")["spend_id"]
    spend(tapi, 4, reason="availability_badge")
    bid = boost(tapi, 20, "job-idle")["boost_id"]
    tapi.open_contract(job_id="job-hired")
    tapi.ok(path(f"boosts/{bid}/outbid"))
    give_back(tapi, cancelled)
    advance(tapi, "2026-03-31T23:59:59Z")
    buy(tapi, 10)  # still March
    advance(tapi, "2026-04-01T00:00:00Z")
    buy(tapi, 40)  # April
    assert hired["taken"][0]["connects"] == 5  # the grant first

    march = statement(tapi, "2026-03")
    assert march["freelancer_id"] == ADA
    assert march["month"] == "2026-03"
    assert march["opening_balance"] == 0
    assert march["bought"] == {"connects": 90, "paid": usd("13.50")}
    assert march["granted"] == 5
    assert march["membership_charged"] == usd("0.00")
    assert march["spent"] == {"total": 68, "by_reason": {
        "availability_badge": 4, "boost": 20, "proposal": 44}}
    assert march["returned"] == 26
    assert march["expired"] == 0
    assert march["closing_balance"] == 5 + 90 - 68 + 26
    assert march["spent_on_jobs"] == {
        "led_to_contract": {"jobs": 1, "connects": 26},
        "no_contract": {"jobs": 2, "connects": 38},
    }

    april = statement(tapi, "2026-04")
    assert april["opening_balance"] == 53
    assert april["bought"] == {"connects": 40, "paid": usd("6.00")}
    assert april["spent"] == {"total": 0, "by_reason": {}}
    assert april["closing_balance"] == 93
    assert april["spent_on_jobs"] == {"led_to_contract": {"jobs": 0, "connects": 0},
                                      "no_contract": {"jobs": 0, "connects": 0}}
    assert view(tapi)["balance"] == 93
    assert units(tapi, WALLET) == "93"

    # a year on, the grant (empty), the first purchase (43 left) and March's last lot expire
    fired = advance(tapi, "2027-03-31T23:59:59Z")
    assert sorted((f["due"], f["outcome"]["expired"]) for f in fired) == [
        ("2027-03-02T09:00:00+00:00", 0), ("2027-03-02T09:00:00+00:00", 43),
        ("2027-03-31T23:59:59+00:00", 10)]
    march_next = statement(tapi, "2027-03")
    assert (march_next["opening_balance"], march_next["expired"]) == (93, 53)
    assert march_next["closing_balance"] == 40
    # the 80 bought: 37 spent for good ($5.55), 43 expired ($6.45); the 10: expired ($1.50)
    assert money_of(tapi, DEFERRED, REVENUE, BREAKAGE) == {
        DEFERRED: "6.00", REVENUE: "5.55", BREAKAGE: "7.95"}
    assert units(tapi, WALLET) == "40"
    assert_connects_conserved(tapi)
    assert_books_zero(tapi)


def test_a_month_must_be_yyyy_mm(tapi: Api) -> None:
    buy(tapi, 1)
    for month in ("2026-3", "2026-13", "March"):
        assert_problem(tapi.get(path("statement"), params={"month": month}), 422,
                       "invalid-input")


# --- idempotency ----------------------------------------------------------------------------------


def test_a_replayed_purchase_answers_the_same_lot_and_writes_nothing(tapi: Api) -> None:
    body = {"connects": 80, "payment_method": "card"}
    first = tapi.post(path("purchases"), body, idempotency_key="buy-80")
    assert first.status_code == 201, first.text
    position = tapi.ledger.position()

    again = tapi.post(path("purchases"), body, idempotency_key="buy-80")
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert tapi.ledger.position() == position
    assert len(view(tapi)["lots"]) == 1
    assert tapi.net(DEFERRED) == "12.00"

    tapi.refused(409, "idempotency-key-reused", path("purchases"),
                 {"connects": 81, "payment_method": "card"}, idempotency_key="buy-80")
    tapi.refused(409, "idempotency-key-reused", path("spends"),
                 {"connects": 1, "job_id": "job-1"}, idempotency_key="buy-80")
    assert units(tapi, WALLET) == "80"


def test_a_replayed_spend_spends_once(tapi: Api) -> None:
    buy(tapi, 80)
    body = {"connects": 16, "job_id": "job-1"}
    first = tapi.post(path("spends"), body, idempotency_key="spend-16")
    again = tapi.post(path("spends"), body, idempotency_key="spend-16")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert units(tapi, WALLET) == "64"
    assert tapi.net(REVENUE) == "2.40"
