"""Opening a contract, and reading it back with its escrow."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from domain.contracts.fixed_price import FixedPriceContract
from tests.api.conftest import Api, assert_problem, usd

OPEN = {"kind": "fixed_price", "client_id": "client-acme", "freelancer_id": "freelancer-ada",
        "currency": "USD"}


def opened_event(api: Api, contract_id: str) -> Any:
    events = list(api.ledger.events.get(UUID(contract_id)))
    assert isinstance(events[0], FixedPriceContract.Opened)
    return events[0]


def test_opening_a_fixed_price_contract_is_201_with_its_id_and_position(api: Api) -> None:
    response = api.post("/v1/contracts", {**OPEN, "job_id": "job-42"})
    assert response.status_code == 201
    body = response.json()
    assert UUID(body["contract_id"])
    assert body["service_fee_rate"] == "0.10"
    assert body["position"] == api.ledger.position()


def test_a_per_contract_service_fee_rate_is_a_decimal_string(api: Api) -> None:
    response = api.post("/v1/contracts", {**OPEN, "service_fee_rate": "0.12"})
    assert response.status_code == 201
    assert response.json()["service_fee_rate"] == "0.12"


def test_the_actor_defaults_to_the_api_keys_fingerprint(api: Api) -> None:
    import hashlib

    from tests.api.conftest import COMMANDS_KEY

    contract_id = api.open_contract()
    fingerprint = hashlib.sha256(COMMANDS_KEY.encode()).hexdigest()[:16]
    assert opened_event(api, contract_id).actor == f"api-key:{fingerprint}"


def test_an_explicit_actor_is_recorded(api: Api) -> None:
    contract_id = api.open_contract(actor="user:client-acme")
    assert opened_event(api, contract_id).actor == "user:client-acme"


def test_an_hourly_contract_without_its_rate_and_limit_is_refused(api: Api) -> None:
    body = api.refused(422, "invalid-input", "/v1/contracts", {**OPEN, "kind": "hourly"})
    assert "hourly_rate" in body["detail"]


@pytest.mark.parametrize(("change", "slug", "where"), [
    ({"kind": "retainer"}, "invalid-input", "kind"),
    ({"service_fee_rate": 0.12}, "invalid-input", "service_fee_rate"),
    ({"service_fee_rate": "twelve"}, "invalid-input", "service_fee_rate"),
    ({"service_fee_rate": "0.2"}, "invalid-fee-rate", None),
    ({"currency": "XYZ"}, "unknown-currency", None),
    ({"currency": "usd"}, "unknown-currency", None),
    ({"client_id": "freelancer-ada"}, "invalid-input", None),
    ({"client_id": " "}, "invalid-input", None),
    ({"colour": "blue"}, "invalid-input", "colour"),
])
def test_opening_refuses_bad_input_with_422(
    api: Api, change: dict[str, Any], slug: str, where: str | None
) -> None:
    body = api.refused(422, slug, "/v1/contracts", {**OPEN, **change})
    if where is not None:
        assert ["body", where] in [e["loc"] for e in body["errors"]]


def test_a_body_missing_required_fields_is_422_listing_them(api: Api) -> None:
    body = api.refused(422, "invalid-input", "/v1/contracts", {"kind": "fixed_price"})
    missing = {e["loc"][-1] for e in body["errors"] if e["type"] == "missing"}
    assert missing == {"client_id", "freelancer_id", "currency"}


def test_malformed_json_is_422(api: Api) -> None:
    before = api.ledger.position()
    response = api.client.post(
        "/v1/contracts", content=b'{"kind": "fixed_price",',
        headers={"Authorization": "Bearer k-commands-and-read-0001", "Idempotency-Key": "x",
                 "Content-Type": "application/json"})
    assert assert_problem(response, 422, "invalid-input")["errors"][0]["type"] == "json_invalid"
    assert api.ledger.position() == before


def test_reading_a_contract_shows_its_escrow_overall_and_per_milestone(api: Api) -> None:
    contract_id = api.open_contract(job_id="job-7")
    first = api.add_milestone(contract_id, "500.00", "Design")
    second = api.add_milestone(contract_id, "120.00", "Build")
    api.ok(api.milestone_path(contract_id, first, "fund"))

    response = api.get(f"/v1/contracts/{contract_id}")
    assert response.status_code == 200
    view = response.json()
    assert view["position"] == api.ledger.position()
    assert view["contract_id"] == contract_id
    assert view["kind"] == "fixed_price"
    assert (view["client_id"], view["freelancer_id"]) == ("client-acme", "freelancer-ada")
    assert view["job_id"] == "job-7"
    assert view["status"] == "active"
    assert view["escrow_balance"] == usd("500.00")
    assert view["total_released"] == usd("0.00")
    milestones = {m["milestone_id"]: m for m in view["milestones"]}
    assert milestones[first]["status"] == "funded"
    assert milestones[first]["escrow_balance"] == usd("500.00")
    assert milestones[second]["status"] == "created"
    assert milestones[second]["escrow_balance"] == usd("0.00")
    assert milestones[second]["amount"] == usd("120.00")
    assert view["refund_requests"] == []


def test_reading_a_contract_accepts_any_position_a_command_returned(api: Api) -> None:
    contract_id = api.open_contract()
    position = api.ledger.position()
    response = api.get(f"/v1/contracts/{contract_id}", params={"min_position": position})
    assert response.json()["position"] >= position


@pytest.mark.parametrize("contract_id", [
    "00000000-0000-0000-0000-000000000000", "not-a-uuid",
])
def test_reading_an_unknown_contract_is_404(api: Api, contract_id: str) -> None:
    assert_problem(api.get(f"/v1/contracts/{contract_id}"), 404, "contract-not-found")


def test_a_negative_min_position_is_422(api: Api) -> None:
    contract_id = api.open_contract()
    response = api.get(f"/v1/contracts/{contract_id}", params={"min_position": -1})
    assert_problem(response, 422, "invalid-input")
