"""Inputs at and beyond the limits answer 4xx problems, never a 500, and write nothing."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api, usd


@pytest.mark.parametrize(("amount", "slug"), [
    ("99999999999999999999.00", "amount-too-large"),
    ("999999999999999999999999999.00", "amount-too-large"),
    ("1000000000.01", "amount-too-large"),
])
def test_huge_milestones_are_refused(api: Api, amount: str, slug: str) -> None:
    cid = api.open_contract()
    api.refused(422, slug, f"/v1/contracts/{cid}/milestones",
                {"title": "m", "amount": usd(amount)})


def test_an_absurd_fee_rate_is_422(api: Api) -> None:
    api.refused(422, "invalid-fee-rate", "/v1/contracts",
                {"kind": "fixed_price", "client_id": "c1", "freelancer_id": "f1",
                 "currency": "USD", "service_fee_rate": "1" * 39})


@pytest.mark.parametrize("as_of", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
def test_an_as_of_outside_representable_time_is_422(api: Api, as_of: str) -> None:
    response = api.get("/v1/accounts/processor:clearing/balance", params={"as_of": as_of})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_a_freelancer_choosing_to_pay_all_is_422(api: Api) -> None:
    cid, _ = api.funded_milestone()
    api.refused(422, "invalid-input", f"/v1/contracts/{cid}/end",
                {"by": "freelancer", "pay": "all"})


@pytest.mark.parametrize("account", ["escrow:x", "client:", "revenue:tips"])
def test_account_ids_not_exactly_in_the_chart_are_404(api: Api, account: str) -> None:
    response = api.get(f"/v1/accounts/{account}/balance")
    assert response.status_code == 404, response.text
