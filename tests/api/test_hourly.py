"""Hourly contracts, bonuses and freelancer refunds over HTTP, weeks driven by the test clock.

The clock starts Monday 2 March 2026, 09:00 UTC. Figures follow
``../shared/domain.md`` for 2026: the per-contract era with the default 10%
service fee; the client's marketplace fee is 5% by card (3% from a US bank);
the initiation fee is charged with a contract's first payment (bonuses
included) by tiers: under $100 -> $0.99, under $500 -> $4.95, under $2,000 ->
$9.95, otherwise $14.99; on an hourly contract or a bonus it is revenue at once.

A week (Monday 00:00 to Sunday 23:59) takes time until Monday 11:59; Monday
12:00 it is invoiced; its review ends Friday 23:59 (Saturday 00:00) and its net
is available 5 days later (Thursday 00:00, ten days after the week ended).
The clock moves a day at a time while time is logged, as days to come are refused.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.conftest import (
    COMMANDS_KEY,
    FINANCE_KEY,
    Api,
    assert_problem,
    bearer,
    usd,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
WEEK_1 = date(2026, 3, 2)
WEEK_2 = date(2026, 3, 9)
WEEK_3 = date(2026, 3, 16)
WEEK_4 = date(2026, 3, 23)
ADVANCE = "/v1/test-clock/advance"
CLEARING = "processor:clearing"
PENDING = "freelancer:freelancer-ada:pending"
AVAILABLE = "freelancer:freelancer-ada:available"
SERVICE_FEE = "revenue:service_fee"
MARKETPLACE_FEE = "revenue:marketplace_fee"
INITIATION_FEE = "revenue:initiation_fee"
HOURLY = {"kind": "hourly", "client_id": "client-acme", "freelancer_id": "freelancer-ada",
          "currency": "USD", "hourly_rate": usd("40.00"), "weekly_limit_hours": 20,
          "manual_time_allowed": False}


# --- helpers --------------------------------------------------------------------------------


def at(day: date, hour: int = 9, minute: int = 0) -> str:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC).isoformat()


def advance(api: Api, to: str) -> list[tuple[str, str]]:
    """Moves the clock; answers what fired, as (kind, due)."""
    fired = api.ok(ADVANCE, {"to": to})["fired"]
    return [(f["kind"], f["due"]) for f in fired]


def open_hourly(api: Api, **terms: Any) -> str:
    body = api.ok("/v1/contracts", {**HOURLY, **terms}, status=201)
    assert body["kind"] == "hourly"
    return str(body["contract_id"])


def path(contract_id: str, *steps: str) -> str:
    return "/".join((f"/v1/contracts/{contract_id}", *steps))


def log_time(api: Api, contract_id: str, day: date, minutes: int, manual: bool = False) -> str:
    body = api.ok(path(contract_id, "time-entries"),
                  {"worked_on": day.isoformat(), "minutes": minutes, "manual": manual},
                  status=201)
    return str(body["entry_id"])


def work_week(api: Api, contract_id: str, monday: date, minutes: int = 300,
              days: int = 5) -> None:
    """Logs ``minutes`` a day from Monday on, moving the clock to 09:00 of each day first.

    The clock must stand at or before Monday 09:00 of that week.
    """
    for offset in range(days):
        day = monday + timedelta(days=offset)
        now = api.ledger.clock.now()
        if now < datetime.fromisoformat(at(day)):
            advance(api, at(day))
        log_time(api, contract_id, day, minutes)


def delete(api: Api, path_: str, idempotency_key: str | None = None) -> httpx.Response:
    headers = {**bearer(COMMANDS_KEY), "Idempotency-Key": idempotency_key or str(uuid.uuid4())}
    response: httpx.Response = api.client.delete(path_, headers=headers)
    return response


def invoices(api: Api, contract_id: str, **params: Any) -> dict[str, Any]:
    response = api.get(path(contract_id, "invoices"), params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def invoice(api: Api, contract_id: str, week: date) -> dict[str, Any]:
    found: list[dict[str, Any]] = [i for i in invoices(api, contract_id)["invoices"]
                                   if i["week_start"] == week.isoformat()]
    assert len(found) == 1, found
    return found[0]


def view(api: Api, contract_id: str) -> dict[str, Any]:
    response = api.get(path(contract_id))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def balances(api: Api, *accounts: str) -> dict[str, str | None]:
    return {a: api.net(a) for a in accounts}


def trial_balance(api: Api) -> dict[str, Any]:
    response = api.get("/v1/finance/trial-balance", key=FINANCE_KEY)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def invoiced_800_week(api: Api) -> str:
    """$40/h, 20 h limit, 25 h logged in the week of 2 March; invoiced Monday 9 March 12:00."""
    contract_id = open_hourly(api)
    work_week(api, contract_id, WEEK_1)
    assert advance(api, at(WEEK_2, 12)) == [("hourly_invoice", at(WEEK_2, 12))]
    return contract_id


# --- opening and reading -------------------------------------------------------------------


def test_an_hourly_contract_opens_with_its_rate_limit_and_manual_time_terms(tapi: Api) -> None:
    response = tapi.post("/v1/contracts", {**HOURLY, "manual_time_allowed": True,
                                           "payment_method": "us_bank"})
    assert response.status_code == 201, response.text
    opened = response.json()
    assert opened["kind"] == "hourly"
    assert opened["service_fee_rate"] == "0.10"

    contract = view(tapi, opened["contract_id"])
    assert contract["kind"] == "hourly"
    assert contract["status"] == "active"
    assert contract["milestones"] == []
    assert contract["hourly"] == {
        "hourly_rate": usd("40.00"), "weekly_limit_hours": 20,
        "weekly_limit_effective_from": START.isoformat(), "manual_time_allowed": True,
        "paused": False, "time_entries": [], "disputes": [],
    }


def test_a_fixed_price_contract_reads_with_no_hourly_terms(tapi: Api) -> None:
    contract_id = tapi.open_contract()
    assert view(tapi, contract_id)["hourly"] is None


@pytest.mark.parametrize(("change", "status", "slug"), [
    ({"hourly_rate": usd("2.99")}, 422, "rate-below-minimum"),
    ({"weekly_limit_hours": 169}, 422, "invalid-input"),
    ({"weekly_limit_hours": -1}, 422, "invalid-input"),
    ({"weekly_limit_hours": "20"}, 422, "invalid-input"),
    ({"hourly_rate": {"amount": 40, "currency": "USD"}}, 422, "invalid-input"),
    ({"payment_method": "cash"}, 422, "invalid-input"),
    ({"kind": "fixed_price"}, 422, "invalid-input"),  # hourly terms on a fixed-price contract
])
def test_opening_an_hourly_contract_with_bad_terms_is_refused_with_nothing_written(
    tapi: Api, change: dict[str, Any], status: int, slug: str
) -> None:
    tapi.refused(status, slug, "/v1/contracts", {**HOURLY, **change})


# --- the worked week: time, Monday invoice, review, pending, available ----------------------


def test_25_hours_at_40_dollars_with_a_20_hour_limit_invoice_800_and_pay_720_after_review(
    tapi: Api,
) -> None:
    contract_id = open_hourly(tapi)
    review = f"hourly_review:{contract_id}:{WEEK_1}"
    work_week(tapi, contract_id, WEEK_1)  # 300 minutes a day, Monday to Friday
    assert len(view(tapi, contract_id)["hourly"]["time_entries"]) == 5
    assert invoices(tapi, contract_id)["invoices"] == []

    # Monday 11:59 the week is still open; at 12:00 it is invoiced
    assert advance(tapi, at(WEEK_2, 11, 59)) == []
    assert advance(tapi, at(WEEK_2, 12)) == [("hourly_invoice", at(WEEK_2, 12))]
    week = invoice(tapi, contract_id, WEEK_1)
    assert {k: week[k] for k in ("minutes_logged", "minutes_billed", "amount",
                                 "marketplace_fee", "service_fee", "status", "review_ends_at",
                                 "available_at")} == {
        "minutes_logged": 1500, "minutes_billed": 1200, "amount": usd("800.00"),
        "marketplace_fee": usd("40.00"), "service_fee": usd("0.00"), "status": "in_review",
        "review_ends_at": "2026-03-14T00:00:00+00:00", "available_at": None,
    }
    assert balances(tapi, CLEARING, review, MARKETPLACE_FEE, INITIATION_FEE, PENDING) == {
        CLEARING: "849.95", review: "800.00", MARKETPLACE_FEE: "40.00",
        INITIATION_FEE: "9.95", PENDING: None,
    }

    # Friday 23:59 the review ends: $800 less the 10% service fee is pending
    assert advance(tapi, "2026-03-14T00:00:00Z") == [
        ("hourly_review_end", "2026-03-14T00:00:00+00:00")]
    assert balances(tapi, review, PENDING, SERVICE_FEE, AVAILABLE) == {
        review: "0.00", PENDING: "720.00", SERVICE_FEE: "80.00", AVAILABLE: None}
    week = invoice(tapi, contract_id, WEEK_1)
    assert (week["status"], week["service_fee"], week["released"], week["available_at"]) == (
        "pending", usd("80.00"), usd("800.00"), "2026-03-19T00:00:00+00:00")

    # the security period ends the Thursday 00:00 after: ten days after the week ended
    assert advance(tapi, "2026-03-18T23:59:00Z") == []
    assert tapi.net(AVAILABLE) is None
    assert [kind for kind, _ in advance(tapi, "2026-03-19T00:00:00Z")] == ["security_period"]
    assert balances(tapi, PENDING, AVAILABLE, CLEARING) == {
        PENDING: "0.00", AVAILABLE: "720.00", CLEARING: "849.95"}
    assert trial_balance(tapi)["balanced"] is True


def test_the_invoice_of_a_week_whose_money_is_available_says_available(tapi: Api) -> None:
    contract_id = invoiced_800_week(tapi)
    advance(tapi, "2026-03-19T00:00:00Z")
    assert tapi.net(AVAILABLE) == "720.00"
    assert invoice(tapi, contract_id, WEEK_1)["status"] == "available"


def test_a_week_from_a_us_bank_pays_the_3_percent_marketplace_fee(tapi: Api) -> None:
    contract_id = open_hourly(tapi, payment_method="us_bank")
    work_week(tapi, contract_id, WEEK_1)
    advance(tapi, at(WEEK_2, 12))
    assert invoice(tapi, contract_id, WEEK_1)["marketplace_fee"] == usd("24.00")
    assert balances(tapi, CLEARING, MARKETPLACE_FEE) == {CLEARING: "833.95",
                                                        MARKETPLACE_FEE: "24.00"}


def test_a_week_with_no_time_logged_invoices_nothing_and_moves_no_money(tapi: Api) -> None:
    contract_id = open_hourly(tapi)
    entry = log_time(tapi, contract_id, WEEK_1, 60)
    response = delete(tapi, path(contract_id, "time-entries", entry))
    assert response.status_code == 200, response.text
    assert response.json()["deleted"] is True
    assert advance(tapi, at(WEEK_2, 12)) == []
    assert invoices(tapi, contract_id)["invoices"] == []
    assert tapi.net(CLEARING) is None


def test_a_zero_hour_limit_closes_the_week_unbilled(tapi: Api) -> None:
    contract_id = open_hourly(tapi, weekly_limit_hours=0)
    log_time(tapi, contract_id, WEEK_1, 300)
    assert advance(tapi, at(WEEK_2, 12)) == [("hourly_invoice", at(WEEK_2, 12))]
    assert invoices(tapi, contract_id)["invoices"] == []
    assert tapi.net(CLEARING) is None


def test_ending_an_hourly_contract_still_invoices_the_time_already_logged(tapi: Api) -> None:
    contract_id = open_hourly(tapi)
    work_week(tapi, contract_id, WEEK_1, minutes=240, days=3)  # Monday to Wednesday, 12 h
    ended = tapi.ok(path(contract_id, "end"), {"by": "client"})
    assert ended["status"] == "ended"
    tapi.refused(409, "contract-not-active", path(contract_id, "time-entries"),
                 {"worked_on": "2026-03-04", "minutes": 30})
    advance(tapi, at(WEEK_2, 12))
    assert invoice(tapi, contract_id, WEEK_1)["amount"] == usd("480.00")
    assert tapi.net(CLEARING) == "508.95"  # 480 + 24.00 + 4.95 initiation (under $500)


# --- the weekly limit ------------------------------------------------------------------------


def test_a_limit_decrease_logged_mid_week_takes_effect_only_the_next_monday(tapi: Api) -> None:
    contract_id = open_hourly(tapi)
    work_week(tapi, contract_id, WEEK_1, days=2)  # Monday, Tuesday: 10 h
    advance(tapi, at(date(2026, 3, 4)))  # Wednesday
    changed = tapi.ok(path(contract_id, "weekly-limit"), {"hours": 10})
    assert (changed["weekly_limit_hours"], changed["effective_from"]) == (
        10, "2026-03-09T00:00:00+00:00")
    work_week(tapi, contract_id, date(2026, 3, 4), days=3)  # Wednesday to Friday: 15 h more

    advance(tapi, at(WEEK_2))
    work_week(tapi, contract_id, WEEK_2)  # 25 h again, now against 10 h
    advance(tapi, at(WEEK_3, 12))

    first, second = invoices(tapi, contract_id)["invoices"]
    assert (first["week_start"], first["minutes_billed"], first["amount"]) == (
        "2026-03-02", 1200, usd("800.00"))
    assert (second["week_start"], second["minutes_logged"], second["minutes_billed"],
            second["amount"], second["marketplace_fee"]) == (
        "2026-03-09", 1500, 600, usd("400.00"), usd("20.00"))
    assert view(tapi, contract_id)["hourly"]["weekly_limit_hours"] == 10


def test_a_limit_increase_mid_week_counts_the_hours_already_logged_at_once(tapi: Api) -> None:
    contract_id = open_hourly(tapi, weekly_limit_hours=10)
    work_week(tapi, contract_id, WEEK_1, days=3)  # 15 h logged against 10 h
    changed = tapi.ok(path(contract_id, "weekly-limit"), {"hours": 20})
    assert changed["effective_from"] == at(date(2026, 3, 4))  # at once
    work_week(tapi, contract_id, date(2026, 3, 5), days=2)  # 25 h in all
    advance(tapi, at(WEEK_2, 12))
    week = invoice(tapi, contract_id, WEEK_1)
    assert (week["minutes_billed"], week["amount"]) == (1200, usd("800.00"))


# --- hourly disputes -------------------------------------------------------------------------


def test_a_dispute_of_5_hours_accepted_by_the_freelancer_refunds_200_with_its_10_dollar_fee(
    tapi: Api,
) -> None:
    contract_id = invoiced_800_week(tapi)
    disputed = f"escrow_dispute:{contract_id}"
    advance(tapi, "2026-03-13T23:00:00Z")  # Friday, inside the review window
    opened = tapi.ok(path(contract_id, "hourly-disputes"),
                     {"week_start": "2026-03-02", "minutes": 300}, status=201)
    assert (opened["amount"], opened["marketplace_fee"], opened["respond_by"]) == (
        usd("200.00"), usd("10.00"), "2026-03-16T23:00:00+00:00")
    hourly = view(tapi, contract_id)["hourly"]
    assert (hourly["paused"], hourly["weekly_limit_hours"]) == (True, 0)
    assert [d["status"] for d in hourly["disputes"]] == ["open"]
    assert invoice(tapi, contract_id, WEEK_1)["status"] == "disputed"
    assert balances(tapi, disputed, f"hourly_review:{contract_id}:{WEEK_1}") == {
        disputed: "200.00", f"hourly_review:{contract_id}:{WEEK_1}": "600.00"}

    dispute_id = opened["dispute_id"]
    accepted = tapi.ok(path(contract_id, "hourly-disputes", dispute_id, "accept"))
    assert (accepted["outcome"], accepted["failed_minutes"], accepted["refunded"],
            accepted["marketplace_fee_refunded"]) == (
        "accepted by the freelancer", 300, usd("200.00"), usd("10.00"))
    assert balances(tapi, CLEARING, MARKETPLACE_FEE, disputed) == {
        CLEARING: "639.95", MARKETPLACE_FEE: "30.00", disputed: "0.00"}
    tapi.refused(409, "dispute-state",
                 path(contract_id, "hourly-disputes", dispute_id, "accept"))

    # the rest is paid at the end of the review, net of the service fee on it only
    advance(tapi, "2026-03-14T00:00:00Z")
    assert balances(tapi, PENDING, SERVICE_FEE) == {PENDING: "540.00", SERVICE_FEE: "60.00"}
    week = invoice(tapi, contract_id, WEEK_1)
    assert (week["minutes_disputed"], week["refunded"], week["released"], week["status"]) == (
        300, usd("200.00"), usd("600.00"), "pending")
    # the contract stays paused until the client resumes it
    tapi.refused(409, "contract-not-active", path(contract_id, "time-entries"),
                 {"worked_on": "2026-03-13", "minutes": 30})
    assert tapi.ok(path(contract_id, "resume"))["paused"] is False
    assert trial_balance(tapi)["balanced"] is True


def test_a_freelancer_silent_for_3_days_accepts_the_dispute(tapi: Api) -> None:
    contract_id = invoiced_800_week(tapi)
    advance(tapi, "2026-03-10T10:00:00Z")
    dispute_id = tapi.ok(path(contract_id, "hourly-disputes"),
                         {"week_start": "2026-03-02", "minutes": 300}, status=201)["dispute_id"]
    assert advance(tapi, "2026-03-14T00:00:00Z") == [
        ("hourly_dispute_response", "2026-03-13T10:00:00+00:00"),
        ("hourly_review_end", "2026-03-14T00:00:00+00:00")]
    assert [d["status"] for d in view(tapi, contract_id)["hourly"]["disputes"]] == ["settled"]
    assert balances(tapi, CLEARING, MARKETPLACE_FEE, PENDING, SERVICE_FEE) == {
        CLEARING: "639.95", MARKETPLACE_FEE: "30.00", PENDING: "540.00", SERVICE_FEE: "60.00"}
    tapi.refused(409, "dispute-state",
                 path(contract_id, "hourly-disputes", dispute_id, "decline"))


def test_a_declined_dispute_resolved_by_review_refunds_the_failed_minutes_and_pays_the_rest(
    tapi: Api,
) -> None:
    contract_id = invoiced_800_week(tapi)
    review = f"hourly_review:{contract_id}:{WEEK_1}"
    advance(tapi, "2026-03-10T10:00:00Z")
    dispute_id = tapi.ok(path(contract_id, "hourly-disputes"),
                         {"week_start": "2026-03-02", "minutes": 300}, status=201)["dispute_id"]
    declined = tapi.ok(path(contract_id, "hourly-disputes", dispute_id, "decline"))
    assert declined["status"] == "declined"
    # declining stops the 3-day clock: nothing is accepted by silence
    assert advance(tapi, "2026-03-13T12:00:00Z") == []
    tapi.refused(409, "contract-not-active", path(contract_id, "resume"))

    # 120 of the 300 minutes fail protection: $80.00 and its $4.00 fee go back to the client
    resolved = tapi.ok(path(contract_id, "hourly-disputes", dispute_id, "resolve"),
                       {"failed_minutes": 120})
    assert (resolved["outcome"], resolved["refunded"], resolved["marketplace_fee_refunded"]) \
        == ("resolved by review", usd("80.00"), usd("4.00"))
    assert balances(tapi, CLEARING, MARKETPLACE_FEE, review) == {
        CLEARING: "765.95", MARKETPLACE_FEE: "36.00", review: "720.00"}

    advance(tapi, "2026-03-14T00:00:00Z")  # the rest is paid with the week
    assert balances(tapi, PENDING, SERVICE_FEE, review) == {
        PENDING: "648.00", SERVICE_FEE: "72.00", review: "0.00"}
    assert trial_balance(tapi)["balanced"] is True


def test_a_dispute_resolved_after_the_review_pays_the_rest_at_once(tapi: Api) -> None:
    contract_id = invoiced_800_week(tapi)
    advance(tapi, "2026-03-10T10:00:00Z")
    dispute_id = tapi.ok(path(contract_id, "hourly-disputes"),
                         {"week_start": "2026-03-02", "minutes": 300}, status=201)["dispute_id"]
    tapi.ok(path(contract_id, "hourly-disputes", dispute_id, "decline"))
    advance(tapi, "2026-03-14T00:00:00Z")  # the undisputed $600 is paid: $540 net
    assert tapi.net(PENDING) == "540.00"
    advance(tapi, "2026-03-16T09:00:00Z")
    tapi.ok(path(contract_id, "hourly-disputes", dispute_id, "resolve"), {"failed_minutes": 0})
    assert balances(tapi, PENDING, SERVICE_FEE, CLEARING, f"escrow_dispute:{contract_id}") == {
        PENDING: "720.00", SERVICE_FEE: "80.00", CLEARING: "849.95",
        f"escrow_dispute:{contract_id}": "0.00"}


def test_the_invoice_counts_the_rest_of_a_dispute_paid_after_the_review(tapi: Api) -> None:
    contract_id = invoiced_800_week(tapi)
    advance(tapi, "2026-03-10T10:00:00Z")
    dispute_id = tapi.ok(path(contract_id, "hourly-disputes"),
                         {"week_start": "2026-03-02", "minutes": 300}, status=201)["dispute_id"]
    tapi.ok(path(contract_id, "hourly-disputes", dispute_id, "decline"))
    advance(tapi, "2026-03-16T09:00:00Z")
    tapi.ok(path(contract_id, "hourly-disputes", dispute_id, "resolve"), {"failed_minutes": 0})
    assert balances(tapi, PENDING, SERVICE_FEE) == {PENDING: "720.00", SERVICE_FEE: "80.00"}
    week = invoice(tapi, contract_id, WEEK_1)
    assert (week["released"], week["service_fee"]) == (usd("800.00"), usd("80.00"))


def test_disputes_are_refused_beyond_the_invoiced_minutes_and_after_the_review_window(
    tapi: Api,
) -> None:
    contract_id = invoiced_800_week(tapi)
    disputes = path(contract_id, "hourly-disputes")
    tapi.refused(422, "invalid-input", disputes, {"week_start": "2026-03-02", "minutes": 1201})
    tapi.refused(422, "invalid-input", disputes, {"week_start": "2026-03-09", "minutes": 60})
    tapi.refused(404, "dispute-not-found",
                 path(contract_id, "hourly-disputes", str(uuid.uuid4()), "accept"))
    advance(tapi, "2026-03-14T00:00:00Z")
    body = tapi.refused(409, "window-closed", disputes,
                        {"week_start": "2026-03-02", "minutes": 60})
    assert "2026-03-14T00:00:00+00:00" in body["detail"]


# --- bonuses ---------------------------------------------------------------------------------


def test_a_bonus_on_a_fixed_price_contract_with_nothing_funded_carries_the_initiation_fee(
    tapi: Api,
) -> None:
    contract_id = tapi.open_contract()
    paid = tapi.ok(path(contract_id, "bonuses"), {"amount": usd("100.00")}, status=201)
    # $100.00 is not under $100: the second tier, $4.95
    assert {k: paid[k] for k in ("gross", "marketplace_fee", "initiation_fee", "service_fee",
                                 "net", "available_at")} == {
        "gross": usd("100.00"), "marketplace_fee": usd("5.00"), "initiation_fee": usd("4.95"),
        "service_fee": usd("10.00"), "net": usd("90.00"),
        "available_at": "2026-03-07T09:00:00+00:00"}
    assert balances(tapi, CLEARING, PENDING, SERVICE_FEE, MARKETPLACE_FEE, INITIATION_FEE) == {
        CLEARING: "109.95", PENDING: "90.00", SERVICE_FEE: "10.00", MARKETPLACE_FEE: "5.00",
        INITIATION_FEE: "4.95"}

    # the contract's first payment is made: funding a milestone charges no initiation fee
    milestone_id = tapi.add_milestone(contract_id, "500.00")
    funded = tapi.ok(tapi.milestone_path(contract_id, milestone_id, "fund"))
    assert funded["initiation_fee"] == usd("0.00")
    assert tapi.net(CLEARING) == "634.95"  # + 500 + 25.00

    advance(tapi, "2026-03-07T09:00:00Z")
    assert balances(tapi, PENDING, AVAILABLE) == {PENDING: "0.00", AVAILABLE: "90.00"}


def test_a_first_bonus_under_100_dollars_carries_the_99_cent_initiation_fee(tapi: Api) -> None:
    contract_id = tapi.open_contract()
    paid = tapi.ok(path(contract_id, "bonuses"), {"amount": usd("99.99")}, status=201)
    assert (paid["marketplace_fee"], paid["initiation_fee"], paid["service_fee"], paid["net"]) \
        == (usd("5.00"), usd("0.99"), usd("10.00"), usd("89.99"))
    assert balances(tapi, CLEARING, PENDING) == {CLEARING: "105.98", PENDING: "89.99"}


def test_a_bonus_before_the_first_invoice_takes_the_initiation_fee_from_the_weeks(
    tapi: Api,
) -> None:
    contract_id = open_hourly(tapi)
    paid = tapi.ok(path(contract_id, "bonuses"),
                   {"amount": usd("50.00"), "payment_method": "us_bank"}, status=201)
    assert (paid["marketplace_fee"], paid["initiation_fee"], paid["net"]) == (
        usd("1.50"), usd("0.99"), usd("45.00"))
    work_week(tapi, contract_id, WEEK_1)
    advance(tapi, at(WEEK_2, 12))
    # 52.49 for the bonus, then 800 + 40.00 with no initiation fee a second time
    assert balances(tapi, CLEARING, INITIATION_FEE) == {CLEARING: "892.49",
                                                       INITIATION_FEE: "0.99"}


def test_a_bonus_366_days_after_the_contract_ended_is_refused(tapi: Api) -> None:
    contract_id = tapi.open_contract()
    tapi.ok(path(contract_id, "end"), {"by": "client"})
    advance(tapi, "2027-03-02T09:00:00Z")  # 365 days later: still allowed
    tapi.ok(path(contract_id, "bonuses"), {"amount": usd("20.00")}, status=201)
    advance(tapi, "2027-03-03T09:00:00Z")  # 366 days later
    tapi.refused(409, "window-closed", path(contract_id, "bonuses"), {"amount": usd("20.00")})


@pytest.mark.parametrize(("body", "status", "slug"), [
    ({"amount": usd("0.00")}, 422, "non-positive-amount"),
    ({"amount": usd("10.001")}, 422, "amount-precision"),
    ({"amount": {"amount": "10.00", "currency": "EUR"}}, 422, "currency-mismatch"),
    ({"amount": usd("10.00"), "payment_method": "cash"}, 422, "invalid-input"),
    ({"amount": "10.00"}, 422, "invalid-input"),
])
def test_a_malformed_bonus_is_refused_with_nothing_written(
    tapi: Api, body: dict[str, Any], status: int, slug: str
) -> None:
    contract_id = open_hourly(tapi)
    tapi.refused(status, slug, path(contract_id, "bonuses"), body)


# --- freelancer refunds ----------------------------------------------------------------------


def available_720(api: Api) -> str:
    contract_id = invoiced_800_week(api)
    advance(api, "2026-03-19T00:00:00Z")
    assert api.net(AVAILABLE) == "720.00"
    return contract_id


def test_a_freelancer_refund_takes_available_money_first_and_returns_it_to_the_client(
    tapi: Api,
) -> None:
    contract_id = available_720(tapi)
    refund = tapi.ok(path(contract_id, "refunds"), {"amount": usd("100.00")}, status=201)
    assert (refund["refunded"], refund["from_available"], refund["from_pending"]) == (
        usd("100.00"), usd("100.00"), usd("0.00"))
    assert balances(tapi, AVAILABLE, PENDING, CLEARING) == {
        AVAILABLE: "620.00", PENDING: "0.00", CLEARING: "749.95"}
    # the refundable amount is now $620.00: a cent more is refused
    tapi.refused(409, "insufficient-funds", path(contract_id, "refunds"),
                 {"amount": usd("620.01")})
    tapi.ok(path(contract_id, "refunds"), {"amount": usd("620.00")}, status=201)
    assert balances(tapi, AVAILABLE, CLEARING) == {AVAILABLE: "0.00", CLEARING: "129.95"}
    assert trial_balance(tapi)["balanced"] is True


def test_a_refund_larger_than_what_was_paid_on_the_contract_is_refused(tapi: Api) -> None:
    contract_id = available_720(tapi)
    body = tapi.refused(409, "insufficient-funds", path(contract_id, "refunds"),
                        {"amount": usd("720.01")})
    assert "720.00" in body["detail"]


def test_a_refund_181_days_after_the_last_payment_is_refused(tapi: Api) -> None:
    contract_id = available_720(tapi)  # the week was paid Saturday 14 March 00:00
    advance(tapi, "2026-09-09T00:00:00Z")  # 179 days later: still refundable
    tapi.ok(path(contract_id, "refunds"), {"amount": usd("10.00")}, status=201)
    advance(tapi, "2026-09-11T00:00:00Z")  # 181 days
    tapi.refused(409, "window-closed", path(contract_id, "refunds"), {"amount": usd("10.00")})


def test_a_refund_on_a_contract_with_nothing_paid_is_refused(tapi: Api) -> None:
    contract_id = open_hourly(tapi)
    tapi.refused(409, "window-closed", path(contract_id, "refunds"), {"amount": usd("10.00")})


# --- refusals with nothing written -----------------------------------------------------------


def test_manual_time_on_a_contract_that_does_not_allow_it_is_refused(tapi: Api) -> None:
    contract_id = open_hourly(tapi)
    tapi.refused(409, "manual-time-not-allowed", path(contract_id, "time-entries"),
                 {"worked_on": "2026-03-02", "minutes": 60, "manual": True})
    allowed = open_hourly(tapi, manual_time_allowed=True)
    entry = log_time(tapi, allowed, WEEK_1, 60, manual=True)
    assert view(tapi, allowed)["hourly"]["time_entries"][0] == {
        "entry_id": entry, "week_start": "2026-03-02", "worked_on": "2026-03-02",
        "minutes": 60, "manual": True}


def test_a_paused_contract_takes_no_time_until_resumed(tapi: Api) -> None:
    contract_id = open_hourly(tapi)
    assert tapi.ok(path(contract_id, "pause"))["paused"] is True
    tapi.refused(409, "contract-not-active", path(contract_id, "time-entries"),
                 {"worked_on": "2026-03-02", "minutes": 60})
    tapi.refused(409, "contract-not-active", path(contract_id, "pause"))
    tapi.ok(path(contract_id, "resume"))
    log_time(tapi, contract_id, WEEK_1, 60)
    tapi.refused(409, "contract-not-active", path(contract_id, "resume"))


def test_time_of_a_week_is_editable_until_monday_11_59_and_refused_after(tapi: Api) -> None:
    contract_id = open_hourly(tapi)
    keep = log_time(tapi, contract_id, WEEK_1, 60)
    drop = log_time(tapi, contract_id, WEEK_1, 30)
    advance(tapi, at(WEEK_2, 11, 59))
    log_time(tapi, contract_id, date(2026, 3, 8), 45)  # Sunday, still open
    assert delete(tapi, path(contract_id, "time-entries", drop)).status_code == 200
    advance(tapi, at(WEEK_2, 12))

    tapi.refused(409, "week-closed", path(contract_id, "time-entries"),
                 {"worked_on": "2026-03-08", "minutes": 30})
    before = tapi.ledger.position()
    assert_problem(delete(tapi, path(contract_id, "time-entries", keep)), 409, "week-closed")
    assert tapi.ledger.position() == before
    assert invoice(tapi, contract_id, WEEK_1)["minutes_billed"] == 105


def test_time_for_a_day_still_to_come_is_refused(tapi: Api) -> None:
    contract_id = open_hourly(tapi)
    tapi.refused(422, "invalid-input", path(contract_id, "time-entries"),
                 {"worked_on": "2026-03-03", "minutes": 60})
    log_time(tapi, contract_id, WEEK_1, 1440)
    tapi.refused(422, "invalid-input", path(contract_id, "time-entries"),
                 {"worked_on": "2026-03-02", "minutes": 1})  # a day holds 1440 minutes


def test_the_rate_is_raised_only_by_the_client_and_lowered_only_by_the_freelancer(
    tapi: Api,
) -> None:
    contract_id = open_hourly(tapi)
    rate = path(contract_id, "rate")
    tapi.refused(409, "wrong-party", rate, {"hourly_rate": usd("45.00"), "by": "freelancer"})
    tapi.refused(409, "wrong-party", rate, {"hourly_rate": usd("35.00"), "by": "client"})
    tapi.refused(422, "rate-below-minimum", rate, {"hourly_rate": usd("2.99"), "by": "freelancer"})
    tapi.refused(422, "invalid-input", rate, {"hourly_rate": usd("40.00"), "by": "client"})
    tapi.refused(422, "invalid-input", rate, {"hourly_rate": usd("45.00"), "by": "platform"})
    assert tapi.ok(rate, {"hourly_rate": usd("45.00"), "by": "client"})["hourly_rate"] \
        == usd("45.00")
    tapi.ok(rate, {"hourly_rate": usd("3.00"), "by": "freelancer"})
    assert view(tapi, contract_id)["hourly"]["hourly_rate"] == usd("3.00")


def test_steps_of_the_other_contract_kind_are_refused_as_the_wrong_kind(tapi: Api) -> None:
    hourly = open_hourly(tapi)
    fixed = tapi.open_contract()
    tapi.refused(409, "wrong-contract-kind", path(hourly, "milestones"),
                 {"title": "Design", "amount": usd("500.00")})
    tapi.refused(409, "wrong-contract-kind", path(fixed, "time-entries"),
                 {"worked_on": "2026-03-02", "minutes": 60})
    tapi.refused(409, "wrong-contract-kind", path(fixed, "weekly-limit"), {"hours": 10})
    tapi.refused(409, "wrong-contract-kind", path(fixed, "pause"))
    assert_problem(tapi.get(path(fixed, "invoices")), 409, "wrong-contract-kind")


def test_unknown_contracts_entries_and_disputes_are_404(tapi: Api) -> None:
    contract_id = open_hourly(tapi)
    before = tapi.ledger.position()
    assert_problem(delete(tapi, path(contract_id, "time-entries", str(uuid.uuid4()))), 404,
                   "time-entry-not-found")
    assert tapi.ledger.position() == before
    tapi.refused(404, "dispute-not-found",
                 path(contract_id, "hourly-disputes", str(uuid.uuid4()), "decline"))
    tapi.refused(404, "contract-not-found", path(str(uuid.uuid4()), "time-entries"),
                 {"worked_on": "2026-03-02", "minutes": 60})
    tapi.refused(404, "contract-not-found", path("not-a-uuid", "bonuses"),
                 {"amount": usd("10.00")})
    assert_problem(tapi.get(path(str(uuid.uuid4()), "invoices")), 404, "contract-not-found")


@pytest.mark.parametrize(("step", "body", "where"), [
    ("time-entries", {"worked_on": "2026-03-02", "minutes": "300"}, "minutes"),
    ("time-entries", {"worked_on": "2026-03-02", "minutes": 1.5}, "minutes"),
    ("time-entries", {"worked_on": "2026-03-02", "minutes": 0}, "minutes"),
    ("time-entries", {"worked_on": "2026-03-02", "minutes": True}, "minutes"),
    ("time-entries", {"worked_on": 1772409600, "minutes": 60}, "worked_on"),
    ("time-entries", {"worked_on": "2026-03-02T09:00:00Z", "minutes": 60}, "worked_on"),
    ("time-entries", {"worked_on": "2026-03-02", "minutes": 60, "manual": "yes"}, "manual"),
    ("time-entries", {"worked_on": "2026-03-02", "minutes": 60, "hours": 1}, "hours"),
    ("time-entries", {"minutes": 60}, "worked_on"),
    ("weekly-limit", {"hours": 169}, "hours"),
    ("weekly-limit", {"hours": 2.5}, "hours"),
    ("rate", {"hourly_rate": usd("45.00")}, "by"),
    ("rate", {"hourly_rate": {"amount": 45, "currency": "USD"}, "by": "client"}, "amount"),
    ("hourly-disputes", {"week_start": "2026-03-02", "minutes": -5}, "minutes"),
    ("refunds", {"amount": usd("10.00"), "from": "available"}, "from"),
])
def test_a_malformed_body_is_422_naming_the_field_with_nothing_written(
    tapi: Api, step: str, body: dict[str, Any], where: str
) -> None:
    contract_id = open_hourly(tapi)
    problem = tapi.refused(422, "invalid-input", path(contract_id, step), body)
    assert where in [e["loc"][-1] for e in problem["errors"]], problem["errors"]


def test_a_time_entry_replayed_with_its_idempotency_key_is_answered_once(tapi: Api) -> None:
    contract_id = open_hourly(tapi)
    entry = {"worked_on": "2026-03-02", "minutes": 60}
    first = tapi.post(path(contract_id, "time-entries"), entry, idempotency_key="log-1")
    assert first.status_code == 201, first.text
    position = tapi.ledger.position()

    again = tapi.post(path(contract_id, "time-entries"), entry, idempotency_key="log-1")
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert tapi.ledger.position() == position
    assert len(view(tapi, contract_id)["hourly"]["time_entries"]) == 1

    tapi.refused(409, "idempotency-key-reused", path(contract_id, "time-entries"),
                 {**entry, "minutes": 61}, idempotency_key="log-1")


def test_deleting_a_time_entry_needs_an_idempotency_key_and_replays(tapi: Api) -> None:
    contract_id = open_hourly(tapi)
    entry = log_time(tapi, contract_id, WEEK_1, 60)
    entry_path = path(contract_id, "time-entries", entry)
    missing = tapi.client.delete(entry_path, headers=bearer(COMMANDS_KEY))
    assert_problem(missing, 400, "idempotency-key-missing")
    first = delete(tapi, entry_path, "delete-1")
    assert first.status_code == 200, first.text
    again = delete(tapi, entry_path, "delete-1")
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (200, "true")
    assert again.json() == first.json()
    assert_problem(delete(tapi, entry_path), 404, "time-entry-not-found")


def test_a_command_on_a_contract_that_moved_on_is_refused_by_if_match(tapi: Api) -> None:
    contract_id = open_hourly(tapi)
    version = view(tapi, contract_id)["version"]
    logged = tapi.ok(path(contract_id, "time-entries"), {"worked_on": "2026-03-02",
                                                        "minutes": 60}, status=201)
    assert logged["contract_version"] == version + 1
    tapi.refused(409, "version-mismatch", path(contract_id, "pause"),
                 headers={"If-Match": f'"{version}"'})
    assert tapi.post(path(contract_id, "pause"),
                     headers={"If-Match": f'"{version + 1}"'}).status_code == 200


# --- four weeks ------------------------------------------------------------------------------


def test_four_weeks_driven_by_the_test_clock_add_up_and_the_books_balance(tapi: Api) -> None:
    contract_id = open_hourly(tapi)
    # week 1: 25 h against 20 h at $40.00 -> $800.00
    work_week(tapi, contract_id, WEEK_1)
    # week 2: 10 h at $40.00 -> $400.00
    advance(tapi, at(WEEK_2))
    work_week(tapi, contract_id, WEEK_2, days=2)
    # week 3: the client raises the rate after the Monday invoice; 15 h at $50.00 -> $750.00
    advance(tapi, at(WEEK_3, 13))
    tapi.ok(path(contract_id, "rate"), {"hourly_rate": usd("50.00"), "by": "client"})
    work_week(tapi, contract_id, date(2026, 3, 17), days=3)
    # week 4: the freelancer lowers it; 7 h 10 min at $33.33 -> $238.865 -> $238.87
    advance(tapi, at(WEEK_4, 13))
    tapi.ok(path(contract_id, "rate"), {"hourly_rate": usd("33.33"), "by": "freelancer"})
    advance(tapi, at(date(2026, 3, 24)))
    log_time(tapi, contract_id, date(2026, 3, 24), 430)

    fired = advance(tapi, "2026-04-09T00:00:00Z")
    assert [f for f in fired if f[0] != "security_period"] == [
        ("hourly_review_end", "2026-03-28T00:00:00+00:00"),
        ("hourly_invoice", "2026-03-30T12:00:00+00:00"),
        ("hourly_review_end", "2026-04-04T00:00:00+00:00"),
    ]  # the weeks before were invoiced and reviewed on the way

    weeks = invoices(tapi, contract_id)["invoices"]
    assert [(w["week_start"], w["minutes_logged"], w["minutes_billed"], w["amount"]["amount"],
             w["marketplace_fee"]["amount"], w["service_fee"]["amount"], w["status"],
             w["review_ends_at"], w["available_at"]) for w in weeks] == [
        ("2026-03-02", 1500, 1200, "800.00", "40.00", "80.00", "available",
         "2026-03-14T00:00:00+00:00", "2026-03-19T00:00:00+00:00"),
        ("2026-03-09", 600, 600, "400.00", "20.00", "40.00", "available",
         "2026-03-21T00:00:00+00:00", "2026-03-26T00:00:00+00:00"),
        ("2026-03-16", 900, 900, "750.00", "37.50", "75.00", "available",
         "2026-03-28T00:00:00+00:00", "2026-04-02T00:00:00+00:00"),
        ("2026-03-23", 430, 430, "238.87", "11.94", "23.89", "available",
         "2026-04-04T00:00:00+00:00", "2026-04-09T00:00:00+00:00"),
    ]
    # invoices 2,188.87; marketplace fees 109.44; one initiation fee 9.95
    # service fees 218.89; the freelancer nets 1,969.98, all of it available by 9 April
    assert balances(tapi, CLEARING, MARKETPLACE_FEE, INITIATION_FEE, SERVICE_FEE, PENDING,
                    AVAILABLE) == {
        CLEARING: "2308.26", MARKETPLACE_FEE: "109.44", INITIATION_FEE: "9.95",
        SERVICE_FEE: "218.89", PENDING: "0.00", AVAILABLE: "1969.98"}
    for week in (WEEK_1, WEEK_2, WEEK_3, WEEK_4):
        assert tapi.net(f"hourly_review:{contract_id}:{week}") == "0.00"

    books = trial_balance(tapi)
    assert books["balanced"] is True
    assert books["currencies"] == [{"currency": "USD", "net": "0.00"}]


def test_invoices_are_paginated_by_week_with_a_cursor(tapi: Api) -> None:
    contract_id = open_hourly(tapi)
    for monday in (WEEK_1, WEEK_2, WEEK_3):
        if tapi.ledger.clock.now() < datetime.fromisoformat(at(monday)):
            advance(tapi, at(monday))
        log_time(tapi, contract_id, monday, 60)
    advance(tapi, at(WEEK_4, 12))

    first = invoices(tapi, contract_id, limit=2)
    assert [w["week_start"] for w in first["invoices"]] == ["2026-03-02", "2026-03-09"]
    assert first["next_cursor"] == "2026-03-09"
    assert first["position"] == tapi.ledger.position()
    rest = invoices(tapi, contract_id, limit=2, after=first["next_cursor"])
    assert [w["week_start"] for w in rest["invoices"]] == ["2026-03-16"]
    assert rest["next_cursor"] is None
    assert invoices(tapi, contract_id, after="2026-03-16")["invoices"] == []

    assert_problem(tapi.get(path(contract_id, "invoices"), params={"after": "last-week"}),
                   422, "invalid-input")
    assert_problem(tapi.get(path(contract_id, "invoices"), params={"limit": 0}),
                   422, "invalid-input")
    assert_problem(tapi.get(path(contract_id, "invoices"), key=None), 401, "unauthorized")
    assert_problem(tapi.get(path(contract_id, "invoices"), key=FINANCE_KEY), 403,
                   "insufficient-scope")
