"""Every command that charges the client answers what it charged, to the cent.

`charge` is {`payment_id`, `amount` (what goes to escrow, hourly review or the
freelancer), `marketplace_fee`, `initiation_fee`, `total` (what the card, bank
or credit was charged), `payment_method`}, or null when nothing was charged.
Figures by hand for 2026-03-02 (per-contract era, ``domain/fees/schedule.py``):
the marketplace fee is 5% (3% from a US bank account); the initiation fee is
charged once per contract with its first payment: under $100 → $0.99, under
$500 → $4.95, under $2,000 → $9.95, otherwise $14.99.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.conftest import Api, usd

ADVANCE = "/v1/test-clock/advance"
CLEARING = "processor:clearing"
HOURLY = {"kind": "hourly", "client_id": "client-acme", "freelancer_id": "freelancer-ada",
          "currency": "USD", "hourly_rate": usd("40.00"), "weekly_limit_hours": 20,
          "manual_time_allowed": False}


def charge(payment_id: str, amount: str, marketplace: str, initiation: str, total: str,
           method: str = "card") -> dict[str, Any]:
    return {"payment_id": payment_id, "amount": usd(amount), "marketplace_fee": usd(marketplace),
            "initiation_fee": usd(initiation), "total": usd(total), "payment_method": method}


def pay_id(contract_id: str, version: int) -> str:
    return f"pay_{contract_id.replace('-', '')}_{version}"


def fund(api: Api, contract_id: str, milestone_id: str, **body: Any) -> dict[str, Any]:
    return api.ok(api.milestone_path(contract_id, milestone_id, "fund"), body)


def approve(api: Api, contract_id: str, milestone_id: str, **body: Any) -> dict[str, Any]:
    return api.ok(api.milestone_path(contract_id, milestone_id, "approve"), body)


# --- funding ------------------------------------------------------------------------------


def test_funding_answers_its_charge(api: Api) -> None:
    contract_id = api.open_contract()
    milestone_id = api.add_milestone(contract_id, "1000.00")
    funded = fund(api, contract_id, milestone_id)
    # 1,000.00 + 50.00 (5%) + 9.95 (first payment under $2,000) = 1,059.95
    assert funded["charge"] == charge(pay_id(contract_id, 3), "1000.00", "50.00", "9.95",
                                      "1059.95")
    assert funded["payment_id"] == funded["charge"]["payment_id"]
    assert api.net(CLEARING) == "1059.95"


def test_funding_from_a_us_bank_account_answers_the_lower_fee(api: Api) -> None:
    contract_id = api.open_contract()
    milestone_id = api.add_milestone(contract_id, "1000.00")
    funded = fund(api, contract_id, milestone_id, payment_method="us_bank")
    # 3% from a US bank account: 30.00
    assert funded["charge"] == charge(pay_id(contract_id, 3), "1000.00", "30.00", "9.95",
                                      "1039.95", "us_bank")


def test_funding_from_carried_escrow_charges_only_what_is_missing(api: Api) -> None:
    contract_id, first = api.funded_milestone("500.00")  # 534.95 charged
    approve(api, contract_id, first, amount=usd("300.00"))  # 200.00 carried
    covered = api.add_milestone(contract_id, "150.00")
    funded = fund(api, contract_id, covered)
    assert (funded["charge"], funded["payment_id"]) == (None, None)
    assert (funded["carried_in"], funded["total_charged"]) == (usd("150.00"), usd("0.00"))
    # 50.00 still carried; a $300.00 milestone charges 250.00 + 12.50 (5%), no initiation
    # fee (the contract's first payment paid it)
    partly = api.add_milestone(contract_id, "300.00")
    funded = fund(api, contract_id, partly)
    assert funded["carried_in"] == usd("50.00")
    assert funded["charge"] == charge(funded["payment_id"], "250.00", "12.50", "0.00",
                                      "262.50")
    assert api.net(CLEARING) == "797.45"  # 534.95 + 262.50


# --- approval -----------------------------------------------------------------------------


def test_approving_more_than_escrow_answers_the_charge_of_the_difference(api: Api) -> None:
    contract_id, milestone_id = api.funded_milestone("1000.00")  # 1,059.95 charged
    approved = approve(api, contract_id, milestone_id, amount=usd("1200.00"))
    # opened 1, milestone 2, funded 3, charged 4, released 5; 200.00 + 10.00 (5%), and no
    # initiation fee: the first funding paid it
    assert approved["contract_version"] == 5
    assert approved["charge"] == charge(pay_id(contract_id, 4), "200.00", "10.00", "0.00",
                                        "210.00")
    assert (approved["gross"], approved["service_fee"], approved["net"]) == (
        usd("1200.00"), usd("120.00"), usd("1080.00"))
    assert api.net(CLEARING) == "1269.95"


def test_approving_more_from_a_us_bank_account(api: Api) -> None:
    contract_id, milestone_id = api.funded_milestone("1000.00")
    approved = approve(api, contract_id, milestone_id, amount=usd("1200.00"),
                       payment_method="us_bank")
    assert approved["charge"] == charge(pay_id(contract_id, 4), "200.00", "6.00", "0.00",
                                        "206.00", "us_bank")


def test_approving_within_escrow_charges_nothing(api: Api) -> None:
    contract_id, milestone_id = api.funded_milestone("1000.00")
    assert approve(api, contract_id, milestone_id, amount=usd("400.00"))["charge"] is None
    second = api.add_milestone(contract_id, "600.00")
    fund(api, contract_id, second)  # all 600.00 from the carried escrow
    assert approve(api, contract_id, second)["charge"] is None
    assert api.net(CLEARING) == "1059.95"


def test_a_replayed_approval_answers_the_same_charge(api: Api) -> None:
    contract_id, milestone_id = api.funded_milestone("1000.00")
    key = str(uuid.uuid4())
    path = api.milestone_path(contract_id, milestone_id, "approve")
    first = api.post(path, {"amount": usd("1200.00")}, idempotency_key=key)
    again = api.post(path, {"amount": usd("1200.00")}, idempotency_key=key)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["charge"] == first.json()["charge"] == charge(
        pay_id(contract_id, 4), "200.00", "10.00", "0.00", "210.00")
    assert api.net(CLEARING) == "1269.95"


# --- bonuses ------------------------------------------------------------------------------


def test_a_bonus_answers_its_charge(api: Api) -> None:
    contract_id = api.open_contract()
    first = api.ok(f"/v1/contracts/{contract_id}/bonuses", {"amount": usd("100.00")},
                   status=201)
    # the contract's first payment: 100.00 + 5.00 + 4.95 ($100.00 is not under $100)
    assert first["charge"] == charge(pay_id(contract_id, 2), "100.00", "5.00", "4.95",
                                     "109.95")
    second = api.ok(f"/v1/contracts/{contract_id}/bonuses",
                    {"amount": usd("50.00"), "payment_method": "us_bank"}, status=201)
    assert second["charge"] == charge(pay_id(contract_id, 3), "50.00", "1.50", "0.00",
                                      "51.50", "us_bank")
    assert api.net(CLEARING) == "161.45"


# --- hourly invoices ----------------------------------------------------------------------


def test_an_hourly_invoice_reads_with_its_charge(tapi: Api) -> None:
    """The Monday charge is no command: the invoice read answers it (the firing answers
    its ``payment_id``, ``amount`` and ``marketplace_fee`` as before)."""
    contract_id = tapi.ok("/v1/contracts", HOURLY, status=201)["contract_id"]
    tapi.ok(f"/v1/contracts/{contract_id}/time-entries",
            {"worked_on": "2026-03-02", "minutes": 120}, status=201)
    [fired] = tapi.ok(ADVANCE, {"to": "2026-03-09T12:00:00Z"})["fired"]
    # opened 1, time logged 2, invoiced 3: 2 h at $40 = 80.00 + 4.00 (5%) + 0.99 (under $100)
    first = charge(pay_id(contract_id, 3), "80.00", "4.00", "0.99", "84.99")
    assert (fired["kind"], fired["outcome"]["payment_id"]) == ("hourly_invoice",
                                                               first["payment_id"])

    tapi.ok(f"/v1/contracts/{contract_id}/time-entries",
            {"worked_on": "2026-03-09", "minutes": 180}, status=201)
    fired = tapi.ok(ADVANCE, {"to": "2026-03-16T12:00:00Z"})["fired"]
    [invoiced] = [f for f in fired if f["kind"] == "hourly_invoice"]
    # logged 4, week 1's review ended Saturday 5, invoiced 6: 3 h = 120.00 + 6.00, and no
    # initiation fee (it went with the first payment)
    second = charge(pay_id(contract_id, 6), "120.00", "6.00", "0.00", "126.00")
    assert invoiced["outcome"]["payment_id"] == second["payment_id"]

    response = tapi.get(f"/v1/contracts/{contract_id}/invoices")
    assert response.status_code == 200, response.text
    assert [i["charge"] for i in response.json()["invoices"]] == [first, second]
    assert tapi.net(CLEARING) == "210.99"


def test_the_openapi_document_describes_the_charge(api: Api) -> None:
    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]
    assert set(schemas["ChargeOut"]["required"]) == {
        "payment_id", "amount", "marketplace_fee", "initiation_fee", "total", "payment_method"}
    for model in ("MilestoneFundedOut", "MilestoneApprovedOut", "BonusPaidOut", "InvoiceView"):
        assert "charge" in schemas[model]["properties"], model
