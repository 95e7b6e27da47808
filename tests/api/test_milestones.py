"""Milestones: add, fund, submit, request changes, approve -- and every refusal writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, usd

MISSING = "00000000-0000-0000-0000-000000000000"


# --- adding ---------------------------------------------------------------------------


def test_adding_a_milestone_is_201_with_its_id(api: Api) -> None:
    contract_id = api.open_contract()
    response = api.post(f"/v1/contracts/{contract_id}/milestones",
                        {"title": "Design", "amount": usd("500.00")})
    assert response.status_code == 201
    body = response.json()
    assert body["contract_id"] == contract_id
    assert body["milestone_id"]
    assert body["position"] == api.ledger.position()


@pytest.mark.parametrize(("amount", "slug"), [
    (500.0, "invalid-input"),           # a JSON number: floats never carry money
    (500, "invalid-input"),
    ("500.001", "amount-precision"),     # 3 decimals in a 2-decimal currency
    ("4.99", "milestone-below-minimum"),
    ("0", "milestone-below-minimum"),
    ("five", "invalid-input"),
    ("1e3", "invalid-input"),
])
def test_adding_a_milestone_refuses_bad_amounts(api: Api, amount: Any, slug: str) -> None:
    contract_id = api.open_contract()
    api.refused(422, slug, f"/v1/contracts/{contract_id}/milestones",
                {"title": "Design", "amount": {"amount": amount, "currency": "USD"}})


def test_a_milestone_in_another_currency_is_a_currency_mismatch(api: Api) -> None:
    contract_id = api.open_contract()
    api.refused(422, "currency-mismatch", f"/v1/contracts/{contract_id}/milestones",
                {"title": "Design", "amount": {"amount": "500.00", "currency": "EUR"}})


def test_a_milestone_in_an_unknown_currency_is_422(api: Api) -> None:
    contract_id = api.open_contract()
    api.refused(422, "unknown-currency", f"/v1/contracts/{contract_id}/milestones",
                {"title": "Design", "amount": {"amount": "500.00", "currency": "XYZ"}})


def test_unknown_fields_are_refused_even_inside_money(api: Api) -> None:
    contract_id = api.open_contract()
    path = f"/v1/contracts/{contract_id}/milestones"
    api.refused(422, "invalid-input", path,
                {"title": "Design", "amount": usd("500.00"), "due": "tomorrow"})
    api.refused(422, "invalid-input", path,
                {"title": "Design", "amount": {**usd("500.00"), "cents": 50000}})


@pytest.mark.parametrize("contract_id", [MISSING, "not-a-uuid"])
def test_adding_a_milestone_to_an_unknown_contract_is_404(api: Api, contract_id: str) -> None:
    api.refused(404, "contract-not-found", f"/v1/contracts/{contract_id}/milestones",
                {"title": "Design", "amount": usd("500.00")})


# --- funding --------------------------------------------------------------------------


def test_funding_by_us_bank_charges_the_lower_marketplace_fee(api: Api) -> None:
    contract_id = api.open_contract()
    milestone_id = api.add_milestone(contract_id, "500.00")
    funded = api.ok(api.milestone_path(contract_id, milestone_id, "fund"),
                    {"payment_method": "us_bank"})
    assert funded["payment_method"] == "us_bank"
    assert funded["escrow_added"] == usd("500.00")
    assert funded["marketplace_fee"] == usd("15.00")


def test_funding_without_a_body_pays_by_card(api: Api) -> None:
    contract_id = api.open_contract()
    milestone_id = api.add_milestone(contract_id, "100.00")
    funded = api.ok(api.milestone_path(contract_id, milestone_id, "fund"))
    assert funded["payment_method"] == "card"
    assert funded["marketplace_fee"] == usd("5.00")


def test_funding_twice_is_409(api: Api) -> None:
    contract_id, milestone_id = api.funded_milestone()
    api.refused(409, "escrow-error", api.milestone_path(contract_id, milestone_id, "fund"), {})


def test_funding_with_an_unknown_payment_method_is_422(api: Api) -> None:
    contract_id = api.open_contract()
    milestone_id = api.add_milestone(contract_id)
    api.refused(422, "invalid-input", api.milestone_path(contract_id, milestone_id, "fund"),
                {"payment_method": "bitcoin"})


@pytest.mark.parametrize("step", ["fund", "submit", "request-changes", "approve"])
def test_steps_on_an_unknown_milestone_are_404(api: Api, step: str) -> None:
    contract_id = api.open_contract()
    api.refused(404, "milestone-not-found", api.milestone_path(contract_id, MISSING, step), {})


@pytest.mark.parametrize("step", ["fund", "submit", "request-changes", "approve"])
def test_steps_on_an_unknown_contract_are_404(api: Api, step: str) -> None:
    api.refused(404, "contract-not-found", api.milestone_path(MISSING, MISSING, step), {})
    api.refused(404, "contract-not-found", api.milestone_path("nope", MISSING, step), {})


# --- submitting and reviewing -------------------------------------------------------------


def test_submitting_work_on_an_unfunded_milestone_is_409(api: Api) -> None:
    contract_id = api.open_contract()
    milestone_id = api.add_milestone(contract_id)
    api.refused(409, "milestone-not-funded",
                api.milestone_path(contract_id, milestone_id, "submit"), {})


def test_submitting_work_starts_the_review_period(api: Api) -> None:
    contract_id, milestone_id = api.funded_milestone()
    submitted = api.ok(api.milestone_path(contract_id, milestone_id, "submit"))
    assert submitted["status"] == "submitted"
    assert submitted["review_due_at"] == "2026-03-16T09:00:00+00:00"


def test_requesting_changes_then_resubmitting(api: Api) -> None:
    contract_id, milestone_id = api.funded_milestone()
    api.ok(api.milestone_path(contract_id, milestone_id, "submit"), {})
    changes = api.ok(api.milestone_path(contract_id, milestone_id, "request-changes"),
                     {"note": "Please use the brand colours"})
    assert changes["status"] == "changes_requested"
    again = api.ok(api.milestone_path(contract_id, milestone_id, "submit"), {})
    assert again["status"] == "submitted"


def test_requesting_changes_before_submission_is_409(api: Api) -> None:
    contract_id, milestone_id = api.funded_milestone()
    api.refused(409, "milestone-state",
                api.milestone_path(contract_id, milestone_id, "request-changes"), {"note": "x"})


# --- approving ----------------------------------------------------------------------------


def test_approving_part_of_the_escrow_releases_that_much(api: Api) -> None:
    contract_id, milestone_id = api.funded_milestone("500.00")
    approved = api.ok(api.milestone_path(contract_id, milestone_id, "approve"),
                      {"amount": usd("200.00")})
    assert approved["gross"] == usd("200.00")
    assert approved["service_fee"] == usd("20.00")
    assert approved["net"] == usd("180.00")
    assert approved["escrow_remaining"] == usd("300.00")
    assert approved["available_at"] == "2026-03-07T09:00:00+00:00"


def test_approving_more_than_the_escrow_charges_the_difference_first(api: Api) -> None:
    contract_id, milestone_id = api.funded_milestone("100.00")
    approved = api.ok(api.milestone_path(contract_id, milestone_id, "approve"),
                      {"amount": usd("150.00"), "payment_method": "card"})
    assert approved["gross"] == usd("150.00")
    assert approved["net"] == usd("135.00")
    # $100 + 5% + $4.95 initiation fee, then the $50 top-up + 5%
    assert api.net("processor:clearing") == "162.45"


def test_approving_twice_is_409(api: Api) -> None:
    contract_id, milestone_id = api.funded_milestone()
    path = api.milestone_path(contract_id, milestone_id, "approve")
    api.ok(path, {})
    api.refused(409, "milestone-state", path, {})


def test_approving_an_unfunded_milestone_is_409(api: Api) -> None:
    contract_id = api.open_contract()
    milestone_id = api.add_milestone(contract_id)
    api.refused(409, "milestone-not-funded",
                api.milestone_path(contract_id, milestone_id, "approve"), {})


@pytest.mark.parametrize(("amount", "status", "slug"), [
    ({"amount": "100.00", "currency": "EUR"}, 422, "currency-mismatch"),
    ({"amount": "0.00", "currency": "USD"}, 422, "non-positive-amount"),
    ({"amount": "10.005", "currency": "USD"}, 422, "amount-precision"),
    ({"amount": 10.5, "currency": "USD"}, 422, "invalid-input"),
])
def test_approving_refuses_bad_amounts(
    api: Api, amount: dict[str, Any], status: int, slug: str
) -> None:
    contract_id, milestone_id = api.funded_milestone()
    api.refused(status, slug, api.milestone_path(contract_id, milestone_id, "approve"),
                {"amount": amount})


def test_steps_on_an_ended_contract_are_409(api: Api) -> None:
    contract_id, milestone_id = api.funded_milestone()
    api.ok(f"/v1/contracts/{contract_id}/end", {"by": "freelancer"})
    api.refused(409, "contract-not-active",
                api.milestone_path(contract_id, milestone_id, "submit"), {})
    api.refused(409, "contract-not-active", f"/v1/contracts/{contract_id}/milestones",
                {"title": "More", "amount": usd("50.00")})
