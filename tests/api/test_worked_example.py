"""The headline worked example, end to end over HTTP.

A client funds a $500 milestone by card in March 2026 and approves the work:
the client pays $500 + 5% marketplace fee ($25.00) + the contract initiation fee
($9.95) = $534.95; the freelancer gets $500 less the 10% service fee, $450.00,
pending for the security period; escrow ends at zero and the books balance.
"""

from __future__ import annotations

from projections.runner import ProjectionRunner
from tests.api.conftest import Api, usd


def test_a_500_dollar_milestone_funded_by_card_and_approved_in_2026(
    api: Api, projector: ProjectionRunner
) -> None:
    contract_id = api.open_contract()
    milestone_id = api.add_milestone(contract_id, "500.00")

    funded = api.ok(api.milestone_path(contract_id, milestone_id, "fund"),
                    {"payment_method": "card"})
    assert funded["charged"] == usd("500.00")
    assert funded["marketplace_fee"] == usd("25.00")
    assert funded["initiation_fee"] == usd("9.95")
    assert funded["total_charged"] == usd("534.95")

    submitted = api.ok(api.milestone_path(contract_id, milestone_id, "submit"), {})
    assert submitted["status"] == "submitted"

    approved = api.ok(api.milestone_path(contract_id, milestone_id, "approve"), {})
    assert approved["gross"] == usd("500.00")
    assert approved["service_fee"] == usd("50.00")
    assert approved["net"] == usd("450.00")
    assert approved["escrow_remaining"] == usd("0.00")
    position = approved["position"]

    pending = api.balance("freelancer:freelancer-ada:pending", min_position=position)
    assert pending["kind"] == "liability"
    assert pending["position"] >= position
    assert pending["balances"] == [
        {"amount": "450.00", "currency": "USD", "debits": "0.00", "credits": "450.00"}
    ]
    assert api.net("revenue:service_fee") == "50.00"
    assert api.net("revenue:marketplace_fee") == "25.00"
    assert api.net("revenue:initiation_fee") == "9.95"
    assert api.net(f"escrow:{contract_id}:{milestone_id}") == "0.00"
    assert api.net(f"deferred:initiation_fee:{contract_id}") == "0.00"
    clearing = api.balance("processor:clearing")["balances"]
    assert clearing == [
        {"amount": "534.95", "currency": "USD", "debits": "534.95", "credits": "0.00"}
    ]

    projector.catch_up()
    assert projector.queries.trial_balance() == {"USD": 0}

    contract = api.get(f"/v1/contracts/{contract_id}").json()
    assert contract["escrow_balance"] == usd("0.00")
    assert contract["total_released"] == usd("500.00")
    assert contract["milestones"][0]["status"] == "released"

    balances = api.get("/v1/freelancers/freelancer-ada/balances",
                       params={"min_position": position}).json()
    assert balances["balances"] == [
        {"currency": "USD", "pending": usd("450.00"), "available": usd("0.00"),
         "in_flight": usd("0.00"), "held": usd("0.00"), "withdrawable": usd("0.00")}
    ]
