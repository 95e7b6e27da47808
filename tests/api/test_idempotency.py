"""Idempotency-Key: required, scoped per caller, replays answer the same and write nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.main import create_app
from ledger.application import EscrowLedger
from tests.api.conftest import API_KEYS, COMMANDS_KEY, Api, bearer, usd

OPEN = {"kind": "fixed_price", "client_id": "client-acme", "freelancer_id": "freelancer-ada",
        "currency": "USD"}


def test_a_command_without_an_idempotency_key_is_400(api: Api) -> None:
    api.refused(400, "idempotency-key-missing", "/v1/contracts", OPEN, idempotency_key=None)
    api.refused(400, "idempotency-key-missing", "/v1/contracts", OPEN, idempotency_key="  ")


def test_an_idempotency_key_over_200_characters_is_400(api: Api) -> None:
    api.refused(400, "idempotency-key-invalid", "/v1/contracts", OPEN,
                idempotency_key="k" * 201)
    assert api.post("/v1/contracts", OPEN, idempotency_key="k" * 200).status_code == 201


def test_a_retried_command_answers_the_same_and_writes_nothing(api: Api) -> None:
    first = api.post("/v1/contracts", OPEN, idempotency_key="open-1")
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    position = api.ledger.position()

    again = api.post("/v1/contracts", OPEN, idempotency_key="open-1")
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert api.ledger.position() == position


def test_a_retried_funding_charges_once(api: Api) -> None:
    contract_id = api.open_contract()
    milestone_id = api.add_milestone(contract_id)
    path = api.milestone_path(contract_id, milestone_id, "fund")
    first = api.post(path, {"payment_method": "card"}, idempotency_key="fund-1")
    assert first.status_code == 200
    position = api.ledger.position()
    again = api.post(path, {"payment_method": "card"}, idempotency_key="fund-1")
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert api.ledger.position() == position
    assert api.net("processor:clearing") == "534.95"


def test_the_same_key_with_another_body_is_409_and_writes_nothing(api: Api) -> None:
    assert api.post("/v1/contracts", OPEN, idempotency_key="open-2").status_code == 201
    other = {**OPEN, "client_id": "client-globex"}
    api.refused(409, "idempotency-key-reused", "/v1/contracts", other, idempotency_key="open-2")


def test_the_same_key_on_another_command_is_409(api: Api) -> None:
    contract_id = api.open_contract()
    api.post(f"/v1/contracts/{contract_id}/milestones",
             {"title": "Logo", "amount": usd("50.00")}, idempotency_key="shared")
    milestone_id = api.add_milestone(contract_id)
    api.refused(409, "idempotency-key-reused",
                api.milestone_path(contract_id, milestone_id, "fund"), {},
                idempotency_key="shared")


def test_two_callers_may_use_the_same_idempotency_key(app: EscrowLedger) -> None:
    other_key = "k-another-service-00001"
    web = create_app(ledger=app, api_keys={**API_KEYS, other_key: frozenset({"commands"})},
                     background_projector=False)
    with TestClient(web) as client:
        a = client.post("/v1/contracts", json=OPEN,
                        headers={**bearer(COMMANDS_KEY), "Idempotency-Key": "same"})
        b = client.post("/v1/contracts", json=OPEN,
                        headers={**bearer(other_key), "Idempotency-Key": "same"})
    assert a.status_code == b.status_code == 201
    assert "idempotent-replayed" not in b.headers
    assert a.json()["contract_id"] != b.json()["contract_id"]


def test_a_refused_command_can_be_retried_with_the_same_key(api: Api) -> None:
    contract_id = api.open_contract()
    milestone_id = api.add_milestone(contract_id)
    submit = api.milestone_path(contract_id, milestone_id, "submit")
    api.refused(409, "milestone-not-funded", submit, {}, idempotency_key="submit-1")
    api.ok(api.milestone_path(contract_id, milestone_id, "fund"))
    response = api.post(submit, {}, idempotency_key="submit-1")
    assert response.status_code == 200
    assert "idempotent-replayed" not in response.headers


def test_the_raw_idempotency_key_is_scoped_by_the_callers_key_fingerprint(api: Api) -> None:
    import hashlib

    from ledger.idempotency import CommandRecord

    api.post("/v1/contracts", OPEN, idempotency_key="scoped")
    scoped = f"{hashlib.sha256(COMMANDS_KEY.encode()).hexdigest()[:16]}:scoped"
    record: CommandRecord = api.ledger.repository.get(CommandRecord.id_for(scoped))
    assert record.key == scoped
