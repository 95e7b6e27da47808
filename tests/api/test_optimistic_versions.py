"""If-Match: a command decided on a stale read of a contract is refused and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.application import EscrowLedger
from tests.api.conftest import COMMANDS_KEY, bearer


def post(client: TestClient, path: str, body: dict[str, Any], key: str, **headers: str) -> Any:
    return client.post(path, json=body,
                       headers={**bearer(COMMANDS_KEY), "Idempotency-Key": key, **headers})


def test_a_command_with_the_current_version_goes_through_and_answers_the_next(
        client: TestClient) -> None:
    opened = post(client, "/v1/contracts", {"kind": "fixed_price", "client_id": "c1",
                                            "freelancer_id": "f1", "currency": "USD"}, "o")
    cid = opened.json()["contract_id"]
    assert opened.json()["contract_version"] == 1
    etag = client.get(f"/v1/contracts/{cid}", headers=bearer(COMMANDS_KEY)).headers["ETag"]
    assert etag == '"1"'
    added = post(client, f"/v1/contracts/{cid}/milestones",
                 {"title": "m", "amount": {"amount": "50.00", "currency": "USD"}}, "m",
                 **{"If-Match": etag})
    assert added.status_code == 201
    assert added.json()["contract_version"] == 2


def test_a_command_on_a_stale_version_is_409_and_writes_nothing(
        client: TestClient, app: EscrowLedger) -> None:
    cid = post(client, "/v1/contracts", {"kind": "fixed_price", "client_id": "c1",
                                         "freelancer_id": "f1", "currency": "USD"},
               "o").json()["contract_id"]
    post(client, f"/v1/contracts/{cid}/milestones",
         {"title": "m", "amount": {"amount": "50.00", "currency": "USD"}}, "m1")
    position = app.position()
    stale = post(client, f"/v1/contracts/{cid}/milestones",
                 {"title": "m2", "amount": {"amount": "50.00", "currency": "USD"}}, "m2",
                 **{"If-Match": '"1"'})
    assert stale.status_code == 409
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert stale.json()["type"].endswith("/version-mismatch")
    assert app.position() == position


def test_a_malformed_if_match_is_400(client: TestClient) -> None:
    response = post(client, "/v1/contracts/00000000-0000-0000-0000-000000000000/milestones",
                    {"title": "m", "amount": {"amount": "50.00", "currency": "USD"}}, "k",
                    **{"If-Match": "yesterday"})
    assert response.status_code == 400
    assert response.json()["type"].endswith("/if-match-invalid")


@pytest.mark.parametrize("value", [b"\xb2", b'"\xb9\xb2"', b"1" * 4301, b"-1", b"1.0", b""],
                         ids=["superscript-two", "quoted-superscripts", "4301-digits",
                              "negative", "decimal", "empty"])
def test_if_match_that_is_not_a_plain_version_is_400_never_500(
        client: TestClient, app: EscrowLedger, value: bytes) -> None:
    position = app.position()
    response = client.post(
        "/v1/contracts/00000000-0000-0000-0000-000000000000/milestones",
        json={"title": "m", "amount": {"amount": "50.00", "currency": "USD"}},
        headers={"Authorization": f"Bearer {COMMANDS_KEY}", "Idempotency-Key": "k-im",
                 "If-Match": value})  # type: ignore[dict-item]
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/if-match-invalid")
    assert app.position() == position
