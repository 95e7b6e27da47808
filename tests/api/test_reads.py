"""Account balances from the journal view and freelancer balances from the log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI

from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from tests.api.conftest import Api, assert_problem, usd


def approved_milestone(api: Api) -> tuple[str, str, int]:
    contract_id, milestone_id = api.funded_milestone("500.00")
    approved = api.ok(api.milestone_path(contract_id, milestone_id, "approve"), {})
    return contract_id, milestone_id, int(approved["position"])


# --- accounts -----------------------------------------------------------------------------


def test_an_account_balance_reports_kind_sides_and_position(api: Api) -> None:
    _, _, position = approved_milestone(api)
    response = api.get("/v1/accounts/revenue:service_fee/balance",
                       params={"min_position": position})
    assert response.status_code == 200
    body = response.json()
    assert body["account"] == "revenue:service_fee"
    assert body["kind"] == "income"
    assert body["as_of"] is None
    assert body["balances"] == [
        {"amount": "50.00", "currency": "USD", "debits": "0.00", "credits": "50.00"}
    ]
    assert body["position"] == position


def test_an_account_balance_as_of_a_past_moment(api: Api, clock: FakeClock) -> None:
    contract_id, milestone_id = api.funded_milestone("500.00")
    funded_at = clock.now()
    clock.advance(timedelta(days=2))
    api.ok(api.milestone_path(contract_id, milestone_id, "approve"), {})
    escrow = f"escrow:{contract_id}:{milestone_id}"
    then = api.balance(escrow, as_of=(funded_at + timedelta(hours=1)).isoformat())
    assert then["as_of"] == "2026-03-02T10:00:00+00:00"
    assert then["balances"] == [
        {"amount": "500.00", "currency": "USD", "debits": "0.00", "credits": "500.00"}
    ]
    before = api.balance(escrow, as_of=(funded_at - timedelta(hours=1)).isoformat())
    assert before["balances"] == []
    assert api.net(escrow) == "0.00"


def test_as_of_must_carry_a_time_zone(api: Api) -> None:
    response = api.get("/v1/accounts/processor:clearing/balance",
                       params={"as_of": "2026-03-02T10:00:00"})
    assert_problem(response, 422, "invalid-input")
    response = api.get("/v1/accounts/processor:clearing/balance", params={"as_of": "yesterday"})
    assert_problem(response, 422, "invalid-input")


def test_an_account_in_the_chart_that_never_moved_has_no_balances(api: Api) -> None:
    body = api.balance("freelancer:nobody:available")
    assert body["kind"] == "liability"
    assert body["balances"] == []
    assert body["position"] == api.ledger.position()


@pytest.mark.parametrize("account", ["bank:chase", "revenues", "escrow"])
def test_an_account_outside_the_chart_is_404(api: Api, account: str) -> None:
    assert_problem(api.get(f"/v1/accounts/{account}/balance"), 404, "account-not-found")


def test_a_read_waits_for_its_min_position_then_gives_up_with_503(
    api: Api, web: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    projector = web.state.services.projector
    monkeypatch.setattr(projector, "catch_up", projector.position)  # a projector that lags
    api.open_contract()
    position = api.ledger.position()
    response = api.get("/v1/accounts/processor:clearing/balance",
                       params={"min_position": position})
    body = assert_problem(response, 503, "projection-behind")
    assert str(position) in body["detail"]
    assert response.headers["retry-after"] == "1"


def test_a_min_position_beyond_the_log_is_refused_at_once(api: Api) -> None:
    api.open_contract()
    ahead = api.ledger.position() + 10
    response = api.get("/v1/accounts/processor:clearing/balance",
                       params={"min_position": ahead})
    body = assert_problem(response, 422, "position-not-in-log")
    assert str(ahead) in body["detail"]


def test_reads_without_min_position_still_see_every_write_when_no_projector_runs(
    api: Api,
) -> None:
    approved_milestone(api)
    assert api.net("freelancer:freelancer-ada:pending") == "450.00"


# --- freelancers --------------------------------------------------------------------------


def test_a_freelancers_balances_split_pending_and_available(
    api: Api, app: EscrowLedger, clock: FakeClock
) -> None:
    _, _, position = approved_milestone(api)
    response = api.get("/v1/freelancers/freelancer-ada/balances",
                       params={"min_position": position})
    assert response.status_code == 200
    body = response.json()
    assert body["freelancer_id"] == "freelancer-ada"
    assert body["position"] == position
    assert body["balances"] == [
        {"currency": "USD", "pending": usd("450.00"), "available": usd("0.00"),
         "in_flight": usd("0.00"), "held": usd("0.00"), "withdrawable": usd("0.00")}
    ]

    clock.advance(timedelta(days=5))
    app.release_matured_earnings(freelancer_id="freelancer-ada")
    body = api.get("/v1/freelancers/freelancer-ada/balances").json()
    assert body["balances"] == [
        {"currency": "USD", "pending": usd("0.00"), "available": usd("450.00"),
         "in_flight": usd("0.00"), "held": usd("0.00"), "withdrawable": usd("450.00")}
    ]
    assert body["position"] == app.position()
    assert api.net("freelancer:freelancer-ada:available") == "450.00"


def test_a_freelancer_who_never_had_money_is_404(api: Api) -> None:
    api.funded_milestone()  # funded, not released: the freelancer has nothing yet
    assert_problem(api.get("/v1/freelancers/freelancer-ada/balances"), 404,
                   "freelancer-not-found")
    assert_problem(api.get("/v1/freelancers/nobody/balances"), 404, "freelancer-not-found")
