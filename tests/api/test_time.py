"""Time over HTTP: the test clock, the deadlines it fires, and deadlines that win.

A ledger built with ``test_clock=True`` takes its time from a clock recorded in
the store and moved only by ``POST /v1/test-clock/advance``, which fires every
deadline due on the way, each at its own due time. Without a test clock those
routes do not exist. ``GET /v1/deadlines`` (audit) lists the running clocks.

A command never waits for the scheduler: whatever fell due for the contract it
decides on is applied first, at its own due time, so a client cannot undo what
silence decided (those tests use the plain ``FakeClock`` app, whose clock jumps
without firing anything).

Figures (2026: per-contract era, 10% service fee by default; card marketplace
fee 5%; initiation fee $9.95 for a first payment of $500): the client pays
$534.95, the freelancer nets $450.00.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledger.clock import FakeClock
from tests.api.conftest import AUDIT_KEY, READ_KEY, Api, assert_problem, usd

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
START_ISO = "2026-03-02T09:00:00+00:00"
CLOCK = "/v1/test-clock"
ADVANCE = "/v1/test-clock/advance"
DEADLINES = "/v1/deadlines"
PENDING = "freelancer:freelancer-ada:pending"
AVAILABLE = "freelancer:freelancer-ada:available"


# --- helpers --------------------------------------------------------------------------------


def advance(api: Api, to: str) -> dict[str, Any]:
    return api.ok(ADVANCE, {"to": to})


def submitted_milestone(api: Api, amount: str = "500.00") -> tuple[str, str]:
    contract_id, milestone_id = api.funded_milestone(amount)
    api.ok(api.milestone_path(contract_id, milestone_id, "submit"), {})
    return contract_id, milestone_id


def fired_summary(fired: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(f["kind"], f["due"]) for f in fired]


def amounts(api: Api, account: str, as_of: str) -> list[tuple[str, str]]:
    return [(b["amount"], b["currency"]) for b in api.balance(account, as_of=as_of)["balances"]]


def contract(api: Api, contract_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/contracts/{contract_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def freelancer_balances(api: Api) -> list[dict[str, Any]]:
    response = api.get("/v1/freelancers/freelancer-ada/balances")
    assert response.status_code == 200, response.text
    lines: list[dict[str, Any]] = response.json()["balances"]
    return lines


def deadlines(api: Api, **params: Any) -> dict[str, Any]:
    response = api.get(DEADLINES, key=AUDIT_KEY, params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def cursor_of(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64encode(raw).decode()


# --- 1. silence for 14 days releases, 5 days later the money is available ------------------


def test_silence_releases_at_day_14_and_the_money_is_available_5_days_later(tapi: Api) -> None:
    contract_id, milestone_id = submitted_milestone(tapi)
    escrow = f"escrow:{contract_id}:{milestone_id}"

    moved = advance(tapi, "2026-03-20T00:00:00Z")
    assert moved["previous"] == START_ISO
    assert moved["now"] == "2026-03-20T00:00:00+00:00"
    assert len(moved["fired"]) == 1
    release = moved["fired"][0]
    assert {k: release[k] for k in ("deadline_id", "kind", "subject", "ref", "due", "retired")} \
        == {"deadline_id": f"auto_release:{contract_id}:{milestone_id}",
            "kind": "auto_release", "subject": contract_id, "ref": milestone_id,
            "due": "2026-03-16T09:00:00+00:00", "retired": False}
    outcome = release["outcome"]
    assert outcome["released"] is True
    assert outcome["gross"] == usd("500.00")
    assert outcome["service_fee"] == usd("50.00")
    assert outcome["net"] == usd("450.00")
    assert outcome["escrow_remaining"] == usd("0.00")
    assert outcome["available_at"] == "2026-03-21T09:00:00+00:00"
    assert "silence" in outcome["reason"]
    assert tapi.get(CLOCK).json() == {"now": "2026-03-20T00:00:00+00:00"}

    # it took effect at its own due time, not at the jump's
    assert tapi.balance(PENDING, as_of="2026-03-16T08:59:59Z")["balances"] == []
    assert amounts(tapi, PENDING, "2026-03-16T09:00:00Z") == [("450.00", "USD")]
    assert amounts(tapi, escrow, "2026-03-16T08:59:59Z") == [("500.00", "USD")]
    assert amounts(tapi, escrow, "2026-03-16T09:00:00Z") == [("0.00", "USD")]

    assert tapi.net(PENDING) == "450.00"
    assert tapi.net("revenue:service_fee") == "50.00"
    assert tapi.net("revenue:marketplace_fee") == "25.00"
    assert tapi.net("revenue:initiation_fee") == "9.95"
    assert tapi.net(f"deferred:initiation_fee:{contract_id}") == "0.00"
    assert tapi.net(escrow) == "0.00"
    assert tapi.net("processor:clearing") == "534.95"

    view = contract(tapi, contract_id)
    assert view["escrow_balance"] == usd("0.00")
    assert view["total_released"] == usd("500.00")
    assert view["milestones"][0]["status"] == "released"
    assert freelancer_balances(tapi) == [
        {"currency": "USD", "pending": usd("450.00"), "available": usd("0.00"),
         "in_flight": usd("0.00"), "held": usd("0.00"), "withdrawable": usd("0.00")}]

    running = deadlines(tapi)["deadlines"]
    assert [(d["kind"], d["due"], d["status"]) for d in running] == [
        ("security_period", "2026-03-21T09:00:00+00:00", "pending")]

    matured = advance(tapi, "2026-03-21T09:00:00Z")
    assert matured["previous"] == "2026-03-20T00:00:00+00:00"
    assert fired_summary(matured["fired"]) == [
        ("security_period", "2026-03-21T09:00:00+00:00")]
    assert matured["fired"][0]["retired"] is False
    assert matured["fired"][0]["outcome"]["matured"] == [usd("450.00")]

    assert tapi.balance(AVAILABLE, as_of="2026-03-21T08:59:59Z")["balances"] == []
    assert amounts(tapi, AVAILABLE, "2026-03-21T09:00:00Z") == [("450.00", "USD")]
    assert tapi.net(AVAILABLE) == "450.00"
    assert tapi.net(PENDING) == "0.00"
    assert freelancer_balances(tapi) == [
        {"currency": "USD", "pending": usd("0.00"), "available": usd("450.00"),
         "in_flight": usd("0.00"), "held": usd("0.00"), "withdrawable": usd("450.00")}]
    assert deadlines(tapi)["deadlines"] == []


def test_one_jump_fires_everything_in_due_order_including_clocks_started_on_the_way(
    tapi: Api,
) -> None:
    first, _ = submitted_milestone(tapi)
    advance(tapi, "2026-03-03T09:00:00Z")
    second, _ = submitted_milestone(tapi)

    moved = advance(tapi, "2026-04-01T00:00:00Z")
    assert fired_summary(moved["fired"]) == [
        ("auto_release", "2026-03-16T09:00:00+00:00"),
        ("auto_release", "2026-03-17T09:00:00+00:00"),
        ("security_period", "2026-03-21T09:00:00+00:00"),
        ("security_period", "2026-03-22T09:00:00+00:00"),
    ]
    assert [f["subject"] for f in moved["fired"][:2]] == [first, second]
    assert [f["outcome"]["matured"] for f in moved["fired"][2:]] == [
        [usd("450.00")], [usd("450.00")]]
    assert amounts(tapi, AVAILABLE, "2026-03-21T09:00:00Z") == [("450.00", "USD")]
    assert amounts(tapi, PENDING, "2026-03-21T09:00:00Z") == [("450.00", "USD")]
    assert tapi.net(AVAILABLE) == "900.00"
    assert tapi.net(PENDING) == "0.00"
    assert tapi.net("revenue:service_fee") == "100.00"


# --- 2. changes requested stops the clock; resubmission restarts 14 days -------------------


def test_changes_requested_stops_the_clock_and_resubmission_restarts_14_days(tapi: Api) -> None:
    contract_id, milestone_id = submitted_milestone(tapi)
    escrow = f"escrow:{contract_id}:{milestone_id}"

    assert advance(tapi, "2026-03-04T09:00:00Z")["fired"] == []  # day 2
    changes = tapi.ok(tapi.milestone_path(contract_id, milestone_id, "request-changes"),
                      {"note": "the header is wrong"})
    assert changes["status"] == "changes_requested"

    assert advance(tapi, "2026-03-22T09:00:00Z")["fired"] == []  # day 20: day 14 passed quietly
    assert tapi.net(escrow) == "500.00"
    assert tapi.net(PENDING) is None
    assert contract(tapi, contract_id)["milestones"][0]["status"] == "changes_requested"

    resubmitted = tapi.ok(tapi.milestone_path(contract_id, milestone_id, "submit"), {})
    assert resubmitted["review_due_at"] == "2026-04-05T09:00:00+00:00"

    assert advance(tapi, "2026-04-04T23:59:00Z")["fired"] == []  # day 33, 23:59
    assert advance(tapi, "2026-04-05T08:59:59Z")["fired"] == []
    assert tapi.net(escrow) == "500.00"

    moved = advance(tapi, "2026-04-05T09:00:00Z")  # resubmission + exactly 14 days
    assert [(f["kind"], f["ref"], f["due"]) for f in moved["fired"]] == [
        ("auto_release", milestone_id, "2026-04-05T09:00:00+00:00")]
    assert moved["fired"][0]["outcome"]["net"] == usd("450.00")
    assert tapi.net(escrow) == "0.00"
    assert tapi.net(PENDING) == "450.00"
    assert amounts(tapi, PENDING, "2026-04-05T09:00:00Z") == [("450.00", "USD")]
    assert contract(tapi, contract_id)["milestones"][0]["status"] == "released"


# --- 3. a late scheduler: deadlines win inside commands --------------------------------------


def test_a_client_cannot_approve_part_of_what_silence_already_released(
    api: Api, clock: FakeClock,
) -> None:
    contract_id, milestone_id = submitted_milestone(api)
    escrow = f"escrow:{contract_id}:{milestone_id}"
    clock.advance(timedelta(days=15))  # day 15; nothing fired the auto-release

    api.refused(409, "milestone-state", api.milestone_path(contract_id, milestone_id, "approve"),
                {"amount": usd("100.00")})
    # the refusal wrote nothing, not even the release it found due
    view = contract(api, contract_id)
    assert view["milestones"][0]["status"] == "submitted"
    assert view["escrow_balance"] == usd("500.00")

    ended = api.ok(f"/v1/contracts/{contract_id}/end", {"by": "client", "pay": "none"})
    assert ended["status"] == "ended"
    assert ended["paid_to_freelancer"] == usd("0.00")
    assert ended["refund_request_id"] is None
    assert ended["refund_requested"] == usd("0.00")

    view = contract(api, contract_id)
    assert view["milestones"][0]["status"] == "released"
    assert view["total_released"] == usd("500.00")
    assert view["refund_requests"] == []
    # released by silence at day 14, not by the client's later command
    assert api.balance(PENDING, as_of="2026-03-16T08:59:59Z")["balances"] == []
    assert amounts(api, PENDING, "2026-03-16T09:00:00Z") == [("450.00", "USD")]
    assert api.net(PENDING) == "450.00"
    assert api.net("revenue:service_fee") == "50.00"
    assert api.net("revenue:initiation_fee") == "9.95"
    assert api.net(escrow) == "0.00"
    assert api.net("processor:clearing") == "534.95"  # the client got nothing back


def test_ending_paying_none_after_15_silent_days_finds_the_work_already_paid(
    api: Api, clock: FakeClock,
) -> None:
    contract_id, milestone_id = submitted_milestone(api)
    clock.advance(timedelta(days=15))

    ended = api.ok(f"/v1/contracts/{contract_id}/end", {"by": "client", "pay": "none"})
    assert ended["status"] == "ended"
    assert ended["paid_to_freelancer"] == usd("0.00")
    assert ended["refund_request_id"] is None  # escrow was 0.00: nothing to ask back
    assert ended["refund_requested"] == usd("0.00")

    assert api.net(PENDING) == "450.00"
    assert freelancer_balances(api) == [
        {"currency": "USD", "pending": usd("450.00"), "available": usd("0.00"),
         "in_flight": usd("0.00"), "held": usd("0.00"), "withdrawable": usd("0.00")}]
    assert api.net(f"escrow:{contract_id}:{milestone_id}") == "0.00"
    assert api.net("processor:clearing") == "534.95"
    view = contract(api, contract_id)
    assert view["status"] == "ended"
    assert view["refund_requests"] == []


@pytest.mark.parametrize(("silent_for", "allowed"), [
    (timedelta(days=14) - timedelta(minutes=1), True),
    (timedelta(days=14), False),
    (timedelta(days=15), False),
])
def test_changes_can_be_requested_only_inside_the_14_days(
    api: Api, clock: FakeClock, silent_for: timedelta, allowed: bool,
) -> None:
    contract_id, milestone_id = submitted_milestone(api)
    clock.advance(silent_for)
    path = api.milestone_path(contract_id, milestone_id, "request-changes")
    if allowed:
        assert api.ok(path, {"note": "please fix"})["status"] == "changes_requested"
        assert api.net(PENDING) is None
    else:
        api.refused(409, "milestone-state", path, {"note": "too late"})
        assert contract(api, contract_id)["milestones"][0]["status"] == "submitted"


def test_other_commands_after_the_due_time_work_and_carry_the_release_with_them(
    api: Api, clock: FakeClock,
) -> None:
    contract_id, first = submitted_milestone(api)
    clock.advance(timedelta(days=15))

    second = api.add_milestone(contract_id, "300.00", title="Second page")
    view = contract(api, contract_id)
    assert [(m["milestone_id"], m["status"]) for m in view["milestones"]] == [
        (first, "released"), (second, "created")]
    assert view["total_released"] == usd("500.00")
    assert view["escrow_balance"] == usd("0.00")

    funded = api.ok(api.milestone_path(contract_id, second, "fund"))
    assert funded["charged"] == usd("300.00")
    assert funded["carried_in"] == usd("0.00")
    assert funded["marketplace_fee"] == usd("15.00")
    assert funded["initiation_fee"] == usd("0.00")  # once per contract
    assert funded["total_charged"] == usd("315.00")

    # the release is in the history at its due time
    assert api.balance(PENDING, as_of="2026-03-16T08:59:59Z")["balances"] == []
    assert amounts(api, PENDING, "2026-03-16T09:00:00Z") == [("450.00", "USD")]
    assert amounts(api, f"escrow:{contract_id}:{first}", "2026-03-16T09:00:00Z") == [
        ("0.00", "USD")]
    assert api.net("processor:clearing") == "849.95"
    running = deadlines(api)["deadlines"]
    # the 300.00 now in escrow starts the dormancy clocks from its funding (17 March)
    assert [(d["kind"], d["due"]) for d in running] == [
        ("security_period", "2026-03-21T09:00:00+00:00"),
        ("dormancy_notice", "2026-06-01T09:00:00+00:00"),
        ("dormancy_notice", "2026-06-08T09:00:00+00:00"),
        ("dormancy", "2026-06-15T09:00:00+00:00")]


# --- 4. a refund request the freelancer leaves unanswered -------------------------------------


def test_silence_for_7_days_approves_the_escrow_refund_request(tapi: Api) -> None:
    contract_id, milestone_id = tapi.funded_milestone("500.00")
    ending = tapi.ok(f"/v1/contracts/{contract_id}/end", {"by": "client", "pay": "none"})
    assert ending["status"] == "ending"
    assert ending["refund_requested"] == usd("500.00")
    request_id = ending["refund_request_id"]
    assert tapi.net("processor:clearing") == "534.95"

    assert advance(tapi, "2026-03-09T08:59:59Z")["fired"] == []
    moved = advance(tapi, "2026-03-09T09:00:00Z")
    assert [(f["kind"], f["subject"], f["ref"], f["due"], f["retired"])
            for f in moved["fired"]] == [
        ("refund_request_timeout", contract_id, request_id, "2026-03-09T09:00:00+00:00", False)]
    outcome = moved["fired"][0]["outcome"]
    assert outcome["refunded"] is True
    assert outcome["status"] == "ended"
    assert "silence" in outcome["reason"]

    view = contract(tapi, contract_id)
    assert view["status"] == "ended"
    assert view["escrow_balance"] == usd("0.00")
    assert [r["status"] for r in view["refund_requests"]] == ["approved"]
    assert tapi.net(f"escrow:{contract_id}:{milestone_id}") == "0.00"
    assert tapi.net("processor:clearing") == "0.00"
    assert tapi.net("revenue:marketplace_fee") == "0.00"
    assert tapi.net(f"deferred:initiation_fee:{contract_id}") == "0.00"
    assert tapi.net("revenue:initiation_fee") in (None, "0.00")
    assert amounts(tapi, "processor:clearing", "2026-03-09T08:59:59Z") == [("534.95", "USD")]
    assert deadlines(tapi)["deadlines"] == []


# --- 5. the test clock's own API ----------------------------------------------------------------


def test_the_clock_moves_only_forward_and_a_refusal_writes_nothing(tapi: Api) -> None:
    assert tapi.get(CLOCK).json() == {"now": START_ISO}
    body = tapi.refused(409, "clock-not-forward", ADVANCE, {"to": "2026-03-01T09:00:00Z"})
    assert START_ISO in body["detail"]
    tapi.refused(409, "clock-not-forward", ADVANCE, {"to": "2026-03-02T09:00:00Z"})
    tapi.refused(409, "clock-not-forward", ADVANCE, {"to": "2026-03-02T10:00:00+01:00"})
    assert tapi.get(CLOCK).json() == {"now": START_ISO}


@pytest.mark.parametrize(("status", "slug", "path", "body"), [
    (409, "clock-not-forward", ADVANCE, {"to": "2026-03-01T09:00:00Z"}),
    (422, "invalid-input", "/v1/contracts",
     {"kind": "hourly", "client_id": "client-acme", "freelancer_id": "freelancer-ada",
      "currency": "USD"}),
])
def test_a_refusal_as_the_very_first_request_on_a_store_writes_nothing(
    fresh_tapi: Api, status: int, slug: str, path: str, body: dict[str, Any],
) -> None:
    """Reading the clock never writes: a refused first command leaves the log as it was.

    The one event on a new store is the clock's start, recorded when the ledger
    was built (so every process on the store agrees where it started).
    """
    assert fresh_tapi.ledger.position() == 1
    fresh_tapi.refused(status, slug, path, body)
    assert fresh_tapi.get(CLOCK).status_code == 200
    assert fresh_tapi.ledger.position() == 1


def test_advancing_needs_an_idempotency_key_and_the_commands_scope(tapi: Api) -> None:
    body = {"to": "2026-03-03T09:00:00Z"}
    tapi.refused(400, "idempotency-key-missing", ADVANCE, body, idempotency_key=None)
    tapi.refused(403, "insufficient-scope", ADVANCE, body, key=READ_KEY)
    tapi.refused(403, "insufficient-scope", ADVANCE, body, key=AUDIT_KEY)
    tapi.refused(401, "unauthorized", ADVANCE, body, key=None)
    assert_problem(tapi.get(CLOCK, key=AUDIT_KEY), 403, "insufficient-scope")
    assert_problem(tapi.get(CLOCK, key=None), 401, "unauthorized")


@pytest.mark.parametrize("body", [
    {"to": "2026-03-03T09:00:00"},  # no time zone
    {"to": "tomorrow"},
    {},
    {"to": "2026-03-03T09:00:00Z", "fire": False},
])
def test_advancing_refuses_a_malformed_body(tapi: Api, body: dict[str, Any]) -> None:
    tapi.refused(422, "invalid-input", ADVANCE, body)


def test_an_advance_replayed_with_its_key_answers_the_first_response(tapi: Api) -> None:
    submitted_milestone(tapi)
    body = {"to": "2026-03-17T00:00:00Z"}
    first = tapi.post(ADVANCE, body, idempotency_key="advance-to-day-15")
    assert first.status_code == 200, first.text
    assert "idempotent-replayed" not in first.headers
    assert fired_summary(first.json()["fired"]) == [
        ("auto_release", "2026-03-16T09:00:00+00:00")]
    position = tapi.ledger.position()

    again = tapi.post(ADVANCE, body, idempotency_key="advance-to-day-15")
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert tapi.ledger.position() == position
    assert tapi.net(PENDING) == "450.00"

    # still the first answer after the clock moved on, not clock-not-forward
    advance(tapi, "2026-03-18T00:00:00Z")
    later = tapi.post(ADVANCE, body, idempotency_key="advance-to-day-15")
    assert later.status_code == 200, later.text
    assert later.headers["idempotent-replayed"] == "true"
    assert later.json() == first.json()

    tapi.refused(409, "idempotency-key-reused", ADVANCE, {"to": "2026-03-19T00:00:00Z"},
                 idempotency_key="advance-to-day-15")
    assert tapi.get(CLOCK).json() == {"now": "2026-03-18T00:00:00+00:00"}


def test_commands_take_their_time_from_the_test_clock(tapi: Api) -> None:
    moved = advance(tapi, "2026-04-01T12:00:00Z")
    assert moved == {"previous": START_ISO, "now": "2026-04-01T12:00:00+00:00", "fired": [],
                     "position": tapi.ledger.position()}
    contract_id, milestone_id = tapi.funded_milestone("500.00")
    assert contract(tapi, contract_id)["opened_at"] == "2026-04-01T12:00:00+00:00"
    submitted = tapi.ok(tapi.milestone_path(contract_id, milestone_id, "submit"), {})
    assert submitted["review_due_at"] == "2026-04-15T12:00:00+00:00"


def test_an_advance_named_in_another_offset_keeps_the_clock_in_utc(tapi: Api) -> None:
    """``now`` is documented as ISO 8601 UTC, whatever offset the caller wrote."""
    moved = advance(tapi, "2026-03-16T10:01:00+01:00")
    assert moved["now"] == "2026-03-16T09:01:00+00:00"
    assert tapi.get(CLOCK).json() == {"now": "2026-03-16T09:01:00+00:00"}
    contract_id = tapi.open_contract()
    assert contract(tapi, contract_id)["opened_at"] == "2026-03-16T09:01:00+00:00"


def test_the_test_clock_is_in_openapi_when_configured(tapi: Api) -> None:
    paths = tapi.client.get("/openapi.json").json()["paths"]
    assert "get" in paths[CLOCK]
    assert "post" in paths[ADVANCE]
    assert "get" in paths[DEADLINES]


# --- 6. without a test clock --------------------------------------------------------------------


def test_without_a_test_clock_its_routes_do_not_exist(api: Api) -> None:
    assert_problem(api.get(CLOCK), 404, "not-found")
    api.refused(404, "not-found", CLOCK, {"to": "2026-03-16T09:01:00Z"})
    api.refused(404, "not-found", ADVANCE, {"to": "2026-03-16T09:01:00Z"})
    paths = api.client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(CLOCK)]
    assert DEADLINES in paths


# --- 7. fees follow the test clock's date ------------------------------------------------------


@pytest.mark.parametrize("clock_start", [datetime(2017, 1, 2, 0, 0, tzinfo=UTC)])
def test_a_first_600_dollar_payment_in_the_tiered_era_nets_490(tapi: Api) -> None:
    opened = tapi.ok("/v1/contracts", {"kind": "fixed_price", "client_id": "client-acme",
                                       "freelancer_id": "freelancer-ada", "currency": "USD"},
                     status=201)
    assert opened["service_fee_rate"] is None
    contract_id = opened["contract_id"]
    milestone_id = tapi.add_milestone(contract_id, "600.00")

    funded = tapi.ok(tapi.milestone_path(contract_id, milestone_id, "fund"))
    assert funded["charged"] == usd("600.00")
    assert funded["marketplace_fee"] == usd("0.00")  # from 2019-06-12
    assert funded["initiation_fee"] == usd("0.00")  # from 2023-04-26
    assert funded["total_charged"] == usd("600.00")

    approved = tapi.ok(tapi.milestone_path(contract_id, milestone_id, "approve"), {})
    assert approved["gross"] == usd("600.00")
    assert approved["service_fee"] == usd("110.00")  # 20% of 500 + 10% of 100
    assert approved["net"] == usd("490.00")
    assert "tiered" in approved["service_fee_schedule"]
    assert approved["available_at"] == "2017-01-07T00:00:00+00:00"

    assert tapi.net("revenue:service_fee") == "110.00"
    assert tapi.net(PENDING) == "490.00"
    assert tapi.net("processor:clearing") == "600.00"
    assert contract(tapi, contract_id)["opened_at"] == "2017-01-02T00:00:00+00:00"


@pytest.mark.parametrize("clock_start", [datetime(2024, 6, 1, 0, 0, tzinfo=UTC)])
def test_a_per_contract_fee_rate_is_refused_before_its_era_and_taken_after(tapi: Api) -> None:
    body = {"kind": "fixed_price", "client_id": "client-acme",
            "freelancer_id": "freelancer-ada", "currency": "USD", "service_fee_rate": "0.05"}
    tapi.refused(422, "invalid-fee-rate", "/v1/contracts", body)

    advance(tapi, "2025-05-01T00:00:00Z")
    opened = tapi.ok("/v1/contracts", body, status=201)
    assert opened["service_fee_rate"] == "0.05"


# --- 8. the deadlines list ------------------------------------------------------------------------


def _row(contract_id: str, milestone_id: str, due: str) -> dict[str, Any]:
    return {"deadline_id": f"auto_release:{contract_id}:{milestone_id}", "kind": "auto_release",
            "subject": contract_id, "ref": milestone_id, "due": due, "status": "pending",
            "refusal": None}


def test_deadlines_lists_running_clocks_in_due_order_page_by_page(tapi: Api) -> None:
    first = submitted_milestone(tapi)
    advance(tapi, "2026-03-03T09:00:00Z")
    second = submitted_milestone(tapi)
    rows = [_row(*first, "2026-03-16T09:00:00+00:00"),
            _row(*second, "2026-03-17T09:00:00+00:00")]

    everything = deadlines(tapi, kind="auto_release")
    assert everything["deadlines"] == rows
    assert everything["next_cursor"] is None
    assert everything["position"] == tapi.ledger.position()
    assert deadlines(tapi, kind="auto_release", status="pending")["deadlines"] == rows
    assert deadlines(tapi, kind="auto_release", status="retired")["deadlines"] == []

    page_one = deadlines(tapi, kind="auto_release", limit=1)
    assert page_one["deadlines"] == rows[:1]
    assert page_one["next_cursor"]
    page_two = deadlines(tapi, kind="auto_release", limit=1, after=page_one["next_cursor"])
    assert page_two["deadlines"] == rows[1:]
    assert page_two["next_cursor"] is None


def test_deadlines_are_in_due_order_not_in_the_order_they_started(tapi: Api) -> None:
    contract_id, milestone_id = submitted_milestone(tapi)  # due day 14
    advance(tapi, "2026-03-03T09:00:00Z")
    other, _ = tapi.funded_milestone("200.00")
    request_id = tapi.ok(f"/v1/contracts/{other}/end",
                         {"by": "client", "pay": "none"})["refund_request_id"]  # due day 8
    listed = deadlines(tapi)["deadlines"]
    assert [(d["kind"], d["subject"], d["ref"], d["due"]) for d in listed] == [
        ("refund_request_timeout", other, request_id, "2026-03-10T09:00:00+00:00"),
        ("auto_release", contract_id, milestone_id, "2026-03-16T09:00:00+00:00"),
        # its escrow untouched for 76, 83, 90 days (the ending contract's clocks stopped)
        ("dormancy_notice", contract_id, "76", "2026-05-17T09:00:00+00:00"),
        ("dormancy_notice", contract_id, "83", "2026-05-24T09:00:00+00:00"),
        ("dormancy", contract_id, "dormancy", "2026-05-31T09:00:00+00:00"),
    ]


def test_deadlines_need_the_audit_scope(tapi: Api) -> None:
    assert_problem(tapi.get(DEADLINES, key=READ_KEY), 403, "insufficient-scope")
    assert_problem(tapi.get(DEADLINES, key=None), 401, "unauthorized")


@pytest.mark.parametrize("after", [
    "garbage",
    "!!!!",
    cursor_of("not-a-number auto_release:x:y"),
    cursor_of(b"\xff\xfe\xfd\xfc"),
])
def test_a_garbage_cursor_is_422(tapi: Api, after: str) -> None:
    submitted_milestone(tapi)
    assert_problem(tapi.get(DEADLINES, key=AUDIT_KEY, params={"after": after}), 422,
                   "invalid-cursor")


def test_a_cursor_beyond_any_due_time_is_not_a_server_error(
    tapi: Api, clock_web: FastAPI,
) -> None:
    """A due time past any 64-bit integer: refused as a cursor, or simply past the end.

    Either is a fair answer (PostgreSQL gives the empty page); a 500 is not.
    """
    submitted_milestone(tapi)
    client = TestClient(clock_web, raise_server_exceptions=False)
    response = client.get(DEADLINES, params={"after": cursor_of("9" * 24 + " auto_release:x")},
                          headers={"Authorization": f"Bearer {AUDIT_KEY}"})
    if response.status_code == 200:
        assert response.json()["deadlines"] == []
        assert response.json()["next_cursor"] is None
    else:
        assert_problem(response, 422, "invalid-cursor")


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"status": "fired"}])
def test_deadlines_refuse_bad_query_parameters(tapi: Api, params: dict[str, Any]) -> None:
    assert_problem(tapi.get(DEADLINES, key=AUDIT_KEY, params=params), 422, "invalid-input")
