"""JSON bodies are read strictly: a repeated key, NaN or Infinity is a 422, over 1 MiB a 413.

Each refusal writes nothing (the log position does not move).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ledger.application import EscrowLedger
from tests.api.conftest import COMMANDS_KEY, Api, assert_problem


def raw_post(client: TestClient, path: str, body: bytes, key: str = "k-strict",
             content_type: str = "application/json") -> object:
    return client.post(path, content=body, headers={
        "Authorization": f"Bearer {COMMANDS_KEY}", "Idempotency-Key": key,
        "Content-Type": content_type})


def test_a_repeated_key_is_refused_not_the_last_one_taken(api: Api, app: EscrowLedger) -> None:
    cid = api.open_contract()
    position = app.position()
    body = (b'{"title": "m", "amount": {"amount": "999999.00", "amount": "5.00", '
            b'"currency": "USD"}}')
    problem = assert_problem(raw_post(api.client, f"/v1/contracts/{cid}/milestones", body),
                             422, "invalid-json")
    assert "'amount' appears twice" in problem["detail"]
    assert app.position() == position
    top = b'{"title": "m", "title": "n", "amount": {"amount": "5.00", "currency": "USD"}}'
    assert_problem(raw_post(api.client, f"/v1/contracts/{cid}/milestones", top, key="k2"),
                   422, "invalid-json")
    assert app.position() == position


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_numbers_are_refused(api: Api, app: EscrowLedger, number: bytes) -> None:
    cid = api.open_contract()
    position = app.position()
    body = b'{"title": "m", "amount": {"amount": ' + number + b', "currency": "USD"}}'
    assert_problem(raw_post(api.client, f"/v1/contracts/{cid}/milestones", body), 422,
                   "invalid-json")
    assert app.position() == position


def test_an_oversized_body_is_413_and_a_plain_one_still_works(
        api: Api, app: EscrowLedger) -> None:
    cid = api.open_contract()
    position = app.position()
    huge = b'{"title": "' + b"x" * (1024 * 1024) + b'", "amount": {"amount": "5.00", ' \
        b'"currency": "USD"}}'
    assert_problem(raw_post(api.client, f"/v1/contracts/{cid}/milestones", huge), 413,
                   "payload-too-large")
    assert app.position() == position
    fine = raw_post(api.client, f"/v1/contracts/{cid}/milestones",
                    b'{"title": "m", "amount": {"amount": "5.00", "currency": "USD"}}',
                    key="k-fine", content_type="application/json; charset=utf-8")
    assert fine.status_code == 201, fine.text  # type: ignore[attr-defined]


@pytest.mark.parametrize("amount", ["5.000", "5.001", "500.0000"])
def test_a_third_decimal_place_is_422_even_as_a_trailing_zero(
        api: Api, app: EscrowLedger, amount: str) -> None:
    cid = api.open_contract()
    position = app.position()
    response = api.client.post(
        f"/v1/contracts/{cid}/milestones",
        json={"title": "m", "amount": {"amount": amount, "currency": "USD"}},
        headers={"Authorization": f"Bearer {COMMANDS_KEY}", "Idempotency-Key": "k-3dp"})
    problem = assert_problem(response, 422, "amount-precision")
    assert "USD has 2" in problem["detail"] or "more than 2" in problem["detail"]
    assert app.position() == position
    # two places, or fewer, are exact and fine
    assert api.client.post(
        f"/v1/contracts/{cid}/milestones",
        json={"title": "m", "amount": {"amount": "5.5", "currency": "USD"}},
        headers={"Authorization": f"Bearer {COMMANDS_KEY}", "Idempotency-Key": "k-1dp"},
    ).status_code == 201
