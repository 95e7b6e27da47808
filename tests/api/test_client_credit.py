"""Refunds kept as client credit, and `payment_method: client_credit` spending it, over HTTP.

The test clock starts Monday 2 March 2026, 09:00 UTC (per-contract era). By
hand, from domain.md and ``domain/fees/schedule.py``:
- $500.00 by card costs $534.95: $25.00 marketplace fee (5%) and a $9.95
  initiation fee ($500.00 is not under $500, so the $500-$1,999.99 tier);
- the client ends paying none with `refund_to: client_credit`; when the
  freelancer approves (or its 7 days lapse), $500.00 comes back with the
  $25.00 marketplace fee paid on it (our refund policy), and the contract ends
  with nothing released, so the $9.95 initiation fee is returned too, all as
  credit: **$534.95 of credit**, processor clearing untouched at $534.95;
- $400.00 from credit on a new contract costs $424.95: the marketplace fee at
  the card rate (5%, $20.00; only a US bank account pays 3%) and the new
  contract's initiation fee ($4.95, under $500): **$110.00 of credit left**;
- $200.00 more would cost $210.00 (the contract already paid its initiation
  fee): 409 `insufficient-funds`, nothing written.
"""

from __future__ import annotations

from typing import Any

from tests.api.conftest import FINANCE_KEY, Api, usd

ADVANCE = "/v1/test-clock/advance"
CLEARING = "processor:clearing"
CREDIT = "client:client-acme:credit"
PENDING = "freelancer:freelancer-ada:pending"


def end(api: Api, contract_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return api.ok(f"/v1/contracts/{contract_id}/end", body)


def fund(api: Api, contract_id: str, milestone_id: str, method: str) -> dict[str, Any]:
    return api.ok(api.milestone_path(contract_id, milestone_id, "fund"),
                  {"payment_method": method})


def assert_balanced(api: Api) -> None:
    response = api.get("/v1/finance/trial-balance", key=FINANCE_KEY)
    assert response.status_code == 200, response.text
    assert response.json()["balanced"] is True


def ended_as_credit(api: Api) -> tuple[str, str]:
    """$500.00 funded by card; the client ends paying none, keeping the refund as credit."""
    contract_id, _ = api.funded_milestone("500.00")
    ending = end(api, contract_id, {"by": "client", "pay": "none",
                                    "refund_to": "client_credit"})
    assert (ending["status"], ending["refund_requested"]) == ("ending", usd("500.00"))
    [request] = api.get(f"/v1/contracts/{contract_id}").json()["refund_requests"]
    assert (request["status"], request["refund_to"]) == ("pending", "client_credit")
    return contract_id, str(ending["refund_request_id"])


def test_a_refund_kept_as_credit_funds_a_new_milestone(api: Api) -> None:
    contract_id, request_id = ended_as_credit(api)
    refunded = api.ok(f"/v1/contracts/{contract_id}/refund-requests/{request_id}/approve")
    assert refunded["status"] == "ended"
    assert (refunded["refunded"], refunded["marketplace_fee_refunded"]) == (
        usd("500.00"), usd("25.00"))
    assert (refunded["refund_to"], refunded["refunded_to"]) == ("client_credit", CREDIT)
    # 500.00 + 25.00 marketplace fee + 9.95 initiation fee (nothing was ever released)
    assert api.net(CREDIT) == "534.95"
    assert api.net(CLEARING) == "534.95"
    assert api.net("revenue:marketplace_fee") == "0.00"
    assert api.net(f"deferred:initiation_fee:{contract_id}") == "0.00"

    second = api.open_contract()
    milestone_id = api.add_milestone(second, "400.00")
    funded = fund(api, second, milestone_id, "client_credit")
    assert (funded["charged"], funded["marketplace_fee"], funded["initiation_fee"],
            funded["total_charged"]) == (usd("400.00"), usd("20.00"), usd("4.95"),
                                         usd("424.95"))
    assert funded["charge"] == {
        "payment_id": funded["payment_id"], "amount": usd("400.00"),
        "marketplace_fee": usd("20.00"), "initiation_fee": usd("4.95"),
        "total": usd("424.95"), "payment_method": "client_credit"}
    assert api.net(CREDIT) == "110.00"
    assert api.net(CLEARING) == "534.95"  # the processor was not charged
    assert api.net(f"escrow:{second}:{milestone_id}") == "400.00"

    # 200.00 + 10.00 marketplace fee = 210.00 > 110.00: refused, nothing written
    more = api.add_milestone(second, "200.00")
    api.refused(409, "insufficient-funds", api.milestone_path(second, more, "fund"),
                {"payment_method": "client_credit"})
    assert api.net(CREDIT) == "110.00"
    assert api.get(f"/v1/contracts/{second}").json()["milestones"][1]["status"] == "created"
    assert_balanced(api)


def test_a_lapsed_refund_request_is_kept_as_credit_too(tapi: Api) -> None:
    contract_id, request_id = ended_as_credit(tapi)
    fired = tapi.ok(ADVANCE, {"to": "2026-03-09T09:00:00Z"})["fired"]
    assert [(f["kind"], f["ref"]) for f in fired] == [("refund_request_timeout", request_id)]
    assert tapi.get(f"/v1/contracts/{contract_id}").json()["status"] == "ended"
    assert tapi.net(CREDIT) == "534.95"
    assert tapi.net(CLEARING) == "534.95"
    assert_balanced(tapi)


def test_the_default_refund_goes_back_to_the_card(api: Api) -> None:
    contract_id, _ = api.funded_milestone("500.00")
    ending = end(api, contract_id, {"by": "client", "pay": "none"})
    approve = f"/v1/contracts/{contract_id}/refund-requests/{ending['refund_request_id']}/approve"
    refunded = api.ok(approve)
    assert (refunded["refund_to"], refunded["refunded_to"]) == ("payment_method", CLEARING)
    assert api.net(CLEARING) == "0.00"
    assert api.net(CREDIT) is None  # never moved
    # and with no credit, funding from credit is refused, nothing written
    second = api.open_contract()
    milestone_id = api.add_milestone(second, "50.00")
    api.refused(409, "insufficient-funds", api.milestone_path(second, milestone_id, "fund"),
                {"payment_method": "client_credit"})
    assert_balanced(api)


def test_a_freelancers_refund_kept_as_credit(api: Api) -> None:
    contract_id, milestone_id = api.funded_milestone("500.00")
    api.ok(api.milestone_path(contract_id, milestone_id, "approve"))
    assert api.net(PENDING) == "450.00"
    refund = api.ok(f"/v1/contracts/{contract_id}/refunds",
                    {"amount": usd("100.00"), "refund_to": "client_credit"}, status=201)
    assert (refund["refunded"], refund["from_available"], refund["from_pending"]) == (
        usd("100.00"), usd("0.00"), usd("100.00"))
    assert (refund["refund_to"], refund["refunded_to"]) == ("client_credit", CREDIT)
    assert api.net(PENDING) == "350.00"
    assert api.net(CREDIT) == "100.00"
    assert api.net(CLEARING) == "534.95"
    # spent: $90.00 on a new contract costs 90.00 + 4.50 + 0.99 (under $100) = 95.49
    second = api.open_contract()
    funded = fund(api, second, api.add_milestone(second, "90.00"), "client_credit")
    assert funded["charge"]["total"] == usd("95.49")
    assert api.net(CREDIT) == "4.51"
    assert_balanced(api)


def test_refund_to_is_checked(api: Api) -> None:
    contract_id, _ = api.funded_milestone("500.00")
    api.refused(422, "invalid-input", f"/v1/contracts/{contract_id}/end",
                {"by": "client", "pay": "none", "refund_to": "bank"})
    hourly = api.open_contract(kind="hourly", hourly_rate=usd("40.00"), weekly_limit_hours=20)
    api.refused(422, "invalid-input", f"/v1/contracts/{hourly}/end",
                {"by": "client", "refund_to": "client_credit"})


def test_a_freelancers_refund_on_an_hourly_contract_kept_as_credit(tapi: Api) -> None:
    # 2 h at $40 = 80.00, charged 84.99 (4.00 + 0.99); after the review 72.00 net pending
    hourly = tapi.open_contract(kind="hourly", hourly_rate=usd("40.00"), weekly_limit_hours=20)
    tapi.ok(f"/v1/contracts/{hourly}/time-entries",
            {"worked_on": "2026-03-02", "minutes": 120}, status=201)
    tapi.ok(ADVANCE, {"to": "2026-03-14T00:00:00Z"})
    assert tapi.net(PENDING) == "72.00"
    refund = tapi.ok(f"/v1/contracts/{hourly}/refunds",
                     {"amount": usd("50.00"), "refund_to": "client_credit"}, status=201)
    assert (refund["from_pending"], refund["refunded_to"]) == (usd("50.00"), CREDIT)
    assert tapi.net(PENDING) == "22.00"
    assert tapi.net(CREDIT) == "50.00"
    assert tapi.net(CLEARING) == "84.99"
    assert_balanced(tapi)
