"""Ending a contract, escrow refund requests and their approval."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, usd

MISSING = "00000000-0000-0000-0000-000000000000"


def end(api: Api, contract_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return api.ok(f"/v1/contracts/{contract_id}/end", body)


def test_a_client_ending_pays_all_escrow_by_default(api: Api) -> None:
    contract_id, _ = api.funded_milestone("500.00")
    ended = end(api, contract_id, {"by": "client", "feedback": "Great work"})
    assert ended["status"] == "ended"
    assert ended["paid_to_freelancer"] == usd("500.00")
    assert ended["refund_request_id"] is None
    assert ended["refund_requested"] == usd("0.00")
    assert api.net("freelancer:freelancer-ada:pending") == "450.00"


def test_a_client_paying_all_explicitly_is_the_same(api: Api) -> None:
    contract_id, _ = api.funded_milestone("500.00")
    ended = end(api, contract_id, {"by": "client", "pay": "all"})
    assert ended["paid_to_freelancer"] == usd("500.00")


def test_a_client_paying_part_opens_a_refund_request_the_freelancer_approves(
    api: Api,
) -> None:
    contract_id, milestone_id = api.funded_milestone("500.00")
    ending = end(api, contract_id, {"by": "client", "pay": usd("200.00")})
    assert ending["status"] == "ending"
    assert ending["paid_to_freelancer"] == usd("200.00")
    assert ending["refund_requested"] == usd("300.00")
    request_id = ending["refund_request_id"]

    view = api.get(f"/v1/contracts/{contract_id}").json()
    assert view["refund_requests"][0]["request_id"] == request_id
    assert view["refund_requests"][0]["status"] == "pending"

    approve = f"/v1/contracts/{contract_id}/refund-requests/{request_id}/approve"
    refunded = api.ok(approve, {})
    assert refunded["status"] == "ended"
    assert refunded["refunded"] == usd("300.00")
    assert refunded["marketplace_fee_refunded"] == usd("15.00")
    assert api.net(f"escrow:{contract_id}:{milestone_id}") == "0.00"

    api.refused(409, "refund-request-state", approve, {})


def test_a_client_paying_none_asks_for_all_escrow_back(api: Api) -> None:
    contract_id, _ = api.funded_milestone("500.00")
    ending = end(api, contract_id, {"by": "client", "pay": "none"})
    assert ending["status"] == "ending"
    assert ending["paid_to_freelancer"] == usd("0.00")
    assert ending["refund_requested"] == usd("500.00")


def test_a_freelancer_ending_returns_the_escrow_to_the_client(api: Api) -> None:
    contract_id, _ = api.funded_milestone("500.00")
    ended = end(api, contract_id, {"by": "freelancer"})
    assert ended["status"] == "ended"
    assert ended["paid_to_freelancer"] == usd("0.00")
    assert api.get("/v1/contracts/" + contract_id).json()["escrow_balance"] == usd("0.00")


def test_a_freelancer_may_say_it_pays_none(api: Api) -> None:
    contract_id, _ = api.funded_milestone("500.00")
    assert end(api, contract_id, {"by": "freelancer", "pay": "none"})["status"] == "ended"


@pytest.mark.parametrize("pay", ["all", {"amount": "100.00", "currency": "USD"}])
def test_a_freelancer_cannot_pay_from_escrow(api: Api, pay: Any) -> None:
    contract_id, _ = api.funded_milestone("500.00")
    api.refused(422, "invalid-input", f"/v1/contracts/{contract_id}/end",
                {"by": "freelancer", "pay": pay})


def test_paying_more_than_the_escrow_on_ending_is_409(api: Api) -> None:
    contract_id, _ = api.funded_milestone("500.00")
    api.refused(409, "insufficient-escrow", f"/v1/contracts/{contract_id}/end",
                {"by": "client", "pay": usd("500.01")})


@pytest.mark.parametrize(("body", "slug"), [
    ({"by": "client", "pay": {"amount": "100.00", "currency": "EUR"}}, "currency-mismatch"),
    ({"by": "client", "pay": {"amount": 100.0, "currency": "USD"}}, "invalid-input"),
    ({"by": "client", "pay": "some"}, "invalid-input"),
    ({"by": "agency"}, "invalid-input"),
    ({}, "invalid-input"),
    ({"by": "client", "reason": "x"}, "invalid-input"),
])
def test_ending_refuses_bad_input(api: Api, body: dict[str, Any], slug: str) -> None:
    contract_id, _ = api.funded_milestone("500.00")
    api.refused(422, slug, f"/v1/contracts/{contract_id}/end", body)


def test_ending_an_ended_contract_is_409(api: Api) -> None:
    contract_id, _ = api.funded_milestone("500.00")
    end(api, contract_id, {"by": "client"})
    api.refused(409, "contract-not-active", f"/v1/contracts/{contract_id}/end", {"by": "client"})


@pytest.mark.parametrize("contract_id", [MISSING, "not-a-uuid"])
@pytest.mark.parametrize("pay", [None, "none"])
def test_ending_an_unknown_contract_is_404(api: Api, contract_id: str, pay: str | None) -> None:
    body: dict[str, Any] = {"by": "client"} if pay is None else {"by": "client", "pay": pay}
    api.refused(404, "contract-not-found", f"/v1/contracts/{contract_id}/end", body)


def test_approving_an_unknown_refund_request_is_404(api: Api) -> None:
    contract_id, _ = api.funded_milestone("500.00")
    api.refused(404, "refund-request-not-found",
                f"/v1/contracts/{contract_id}/refund-requests/{MISSING}/approve", {})
    api.refused(404, "contract-not-found",
                f"/v1/contracts/{MISSING}/refund-requests/{MISSING}/approve", {})
