"""API keys: 401 without a known key, 403 without the route's scope; nothing written."""

from __future__ import annotations

import pytest

from tests.api.conftest import COMMANDS_KEY, READ_KEY, Api, assert_problem, bearer

OPEN = {"kind": "fixed_price", "client_id": "client-acme", "freelancer_id": "freelancer-ada",
        "currency": "USD"}


def test_a_command_without_an_api_key_is_401_with_a_bearer_challenge(api: Api) -> None:
    body = api.refused(401, "unauthorized", "/v1/contracts", OPEN, key=None)
    assert "Bearer" in body["detail"]
    response = api.post("/v1/contracts", OPEN, key=None)
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_command_with_an_unknown_api_key_is_401(api: Api) -> None:
    api.refused(401, "unauthorized", "/v1/contracts", OPEN, key="k-not-a-key-at-all-0001")
    response = api.post("/v1/contracts", OPEN, key="k-not-a-key-at-all-0001")
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_a_key_sent_with_another_scheme_is_401(api: Api) -> None:
    before = api.ledger.position()
    response = api.client.post("/v1/contracts", json=OPEN, headers={
        "Authorization": f"Basic {COMMANDS_KEY}", "Idempotency-Key": "k1"})
    assert_problem(response, 401, "unauthorized")
    assert api.ledger.position() == before


def test_a_read_only_key_cannot_send_commands(api: Api) -> None:
    body = api.refused(403, "insufficient-scope", "/v1/contracts", OPEN, key=READ_KEY)
    assert "commands" in body["detail"]


def test_authentication_comes_before_the_idempotency_key_check(api: Api) -> None:
    api.refused(401, "unauthorized", "/v1/contracts", OPEN, key=None, idempotency_key=None)
    api.refused(403, "insufficient-scope", "/v1/contracts", OPEN, key=READ_KEY,
                idempotency_key=None)


@pytest.mark.parametrize("path", [
    "/v1/contracts/00000000-0000-0000-0000-000000000000",
    "/v1/accounts/processor:clearing/balance",
    "/v1/freelancers/freelancer-ada/balances",
])
def test_reads_need_a_key(api: Api, path: str) -> None:
    assert_problem(api.get(path, key=None), 401, "unauthorized")
    assert_problem(api.get(path, key="k-not-a-key-at-all-0001"), 401, "unauthorized")


def test_both_keys_may_read(api: Api) -> None:
    contract_id = api.open_contract()
    for key in (READ_KEY, COMMANDS_KEY):
        assert api.get(f"/v1/contracts/{contract_id}", key=key).status_code == 200


def test_a_key_without_the_read_scope_cannot_read(app: object) -> None:
    from fastapi.testclient import TestClient

    from api.main import create_app
    from ledger.application import EscrowLedger

    assert isinstance(app, EscrowLedger)
    web = create_app(ledger=app, api_keys={"k-commands-only-00001": frozenset({"commands"})},
                     background_projector=False)
    with TestClient(web) as client:
        response = client.get("/v1/accounts/processor:clearing/balance",
                              headers=bearer("k-commands-only-00001"))
    body = assert_problem(response, 403, "insufficient-scope")
    assert "read" in body["detail"]


MISSING = "00000000-0000-0000-0000-000000000000"
MILESTONE = f"/v1/contracts/{MISSING}/milestones/{MISSING}"
COMMAND_ROUTES = [
    ("/v1/contracts", OPEN),
    (f"/v1/contracts/{MISSING}/milestones",
     {"title": "t", "amount": {"amount": "50.00", "currency": "USD"}}),
    (f"{MILESTONE}/fund", {}),
    (f"{MILESTONE}/submit", {}),
    (f"{MILESTONE}/request-changes", {"note": "x"}),
    (f"{MILESTONE}/approve", {}),
    (f"/v1/contracts/{MISSING}/end", {"by": "client"}),
    (f"/v1/contracts/{MISSING}/refund-requests/{MISSING}/approve", {}),
]


@pytest.mark.parametrize(("path", "body"), COMMAND_ROUTES)
def test_every_command_checks_key_then_scope_then_idempotency_key(
    api: Api, path: str, body: dict[str, object]
) -> None:
    api.open_contract()
    api.refused(401, "unauthorized", path, body, key=None)
    api.refused(401, "unauthorized", path, body, key="k-not-a-key-at-all-0001")
    api.refused(403, "insufficient-scope", path, body, key=READ_KEY)
    api.refused(400, "idempotency-key-missing", path, body, idempotency_key=None)


def test_an_invalid_body_without_a_key_is_401_not_422(api: Api) -> None:
    api.refused(401, "unauthorized", "/v1/contracts", {"kind": 3}, key=None)
    api.refused(400, "idempotency-key-missing", "/v1/contracts", {"kind": 3},
                idempotency_key=None)
