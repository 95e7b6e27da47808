"""The app as a whole: health, OpenAPI, docs, problems, configuration, background projector."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.application import EscrowLedger
from ledger.settings import Settings
from tests.api.conftest import API_KEYS, COMMANDS_KEY, Api, assert_problem, bearer

OPEN = {"kind": "fixed_price", "client_id": "client-acme", "freelancer_id": "freelancer-ada",
        "currency": "USD"}


def test_health_needs_no_key_and_reports_backend_and_positions(
    api: Api, database_url: str
) -> None:
    api.funded_milestone()
    response = api.client.get("/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["backend"] == ("sqlite" if database_url.startswith("sqlite") else "postgres")
    assert body["log_position"] == api.ledger.position()
    assert 0 <= body["projection_position"] <= body["log_position"]
    assert body["projector_error"] is None


def test_openapi_and_docs_are_published(api: Api) -> None:
    spec = api.client.get("/openapi.json")
    assert spec.status_code == 200
    schema = spec.json()
    assert schema["info"]["title"] == "escrow-ledger"
    assert schema["info"]["version"] == "0.1.0"
    paths = schema["paths"]
    for path in (
        "/v1/health", "/v1/contracts", "/v1/contracts/{contract_id}",
        "/v1/contracts/{contract_id}/milestones",
        "/v1/contracts/{contract_id}/milestones/{milestone_id}/fund",
        "/v1/contracts/{contract_id}/milestones/{milestone_id}/submit",
        "/v1/contracts/{contract_id}/milestones/{milestone_id}/request-changes",
        "/v1/contracts/{contract_id}/milestones/{milestone_id}/approve",
        "/v1/contracts/{contract_id}/end",
        "/v1/contracts/{contract_id}/refund-requests/{request_id}/approve",
        "/v1/accounts/{account_id}/balance",
        "/v1/freelancers/{freelancer_id}/balances",
    ):
        assert path in paths, path
    conflict = paths["/v1/contracts"]["post"]["responses"]["409"]
    assert list(conflict["content"]) == ["application/problem+json"]
    money = schema["components"]["schemas"]["MoneyIn"]["properties"]["amount"]
    assert money["type"] == "string"
    assert "ApiKey" in schema["components"]["securitySchemes"]
    docs = api.client.get("/docs")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]


def test_unknown_routes_and_methods_are_problems_too(api: Api) -> None:
    assert_problem(api.client.get("/v1/nothing-here"), 404, "not-found")
    assert_problem(api.client.delete("/v1/contracts", headers=bearer(COMMANDS_KEY)), 405,
                   "method-not-allowed")


def test_the_api_is_never_open(app: EscrowLedger) -> None:
    with pytest.raises(ValueError, match="no API keys"):
        create_app(ledger=app, api_keys={})
    with pytest.raises(ValueError, match="no API keys"):
        create_app(Settings(api_keys=""), ledger=app)


def test_api_keys_are_checked(app: EscrowLedger) -> None:
    with pytest.raises(ValueError, match="16 characters"):
        create_app(ledger=app, api_keys={"short": frozenset({"read"})})
    with pytest.raises(ValueError, match="scopes"):
        create_app(ledger=app, api_keys={"k-long-enough-key-0001": frozenset({"admin"})})


def test_an_app_built_from_settings_runs_a_background_projector(database_url: str) -> None:
    settings = Settings(database_url=database_url, api_keys=f"{COMMANDS_KEY}:commands+read")
    web = create_app(settings)
    with TestClient(web) as client:
        headers = bearer(COMMANDS_KEY)
        opened = client.post("/v1/contracts", json=OPEN,
                             headers={**headers, "Idempotency-Key": "a"})
        assert opened.status_code == 201
        contract_id = opened.json()["contract_id"]
        added = client.post(f"/v1/contracts/{contract_id}/milestones",
                            json={"title": "t", "amount": {"amount": "50.00", "currency": "USD"}},
                            headers={**headers, "Idempotency-Key": "b"})
        milestone_id = added.json()["milestone_id"]
        funded = client.post(f"/v1/contracts/{contract_id}/milestones/{milestone_id}/fund",
                             headers={**headers, "Idempotency-Key": "c"})
        position = funded.json()["position"]
        balance = client.get("/v1/accounts/processor:clearing/balance",
                             params={"min_position": position}, headers=headers)
        assert balance.status_code == 200, balance.text
        assert balance.json()["position"] >= position
        total = funded.json()["total_charged"]["amount"]  # fees depend on today's date
        assert balance.json()["balances"][0]["debits"] == total

        deadline = time.monotonic() + 5
        health = client.get("/v1/health").json()
        while health["projection_position"] < position and time.monotonic() < deadline:
            time.sleep(0.02)
            health = client.get("/v1/health").json()
        assert health["projection_position"] == health["log_position"] == position
        assert health["projector_error"] is None


def test_a_given_ledger_is_not_closed_at_shutdown(app: EscrowLedger) -> None:
    web = create_app(ledger=app, api_keys=dict(API_KEYS))
    with TestClient(web) as client:
        assert client.get("/v1/health").status_code == 200
    assert app.position() == 0


def test_an_unbalanced_entry_is_a_500_problem_that_hides_its_detail(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from domain.errors import UnbalancedEntry

    def unbalanced(**kwargs: object) -> None:
        raise UnbalancedEntry("debits 10.00 != credits 9.99 (internal)")

    monkeypatch.setattr(api.ledger, "open_contract", unbalanced)
    body = api.refused(500, "unbalanced-entry", "/v1/contracts", OPEN)
    assert "9.99" not in body["detail"]


def test_an_unexpected_error_is_a_500_problem(
    web: FastAPI, app: EscrowLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(app, "open_contract", broken)
    with TestClient(web, raise_server_exceptions=False) as client:
        response = client.post("/v1/contracts", json=OPEN,
                               headers={**bearer(COMMANDS_KEY), "Idempotency-Key": "z"})
    body = assert_problem(response, 500, "internal-error")
    assert "boom" not in body["detail"]


def test_openapi_documents_the_idempotency_key_as_required_on_every_command(
        client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    # the audit POSTs (digest verify, proof) are questions with a body: they write nothing;
    # a batch carries a key per item, in its body (checked in tests/api/test_batch.py)
    posts = [op for name, path in schema["paths"].items() for method, op in path.items()
             if method == "post" and not name.startswith("/v1/audit/")
             and name != "/v1/batch"]
    assert posts
    for op in posts:
        keys = [p for p in op.get("parameters", []) if p["name"] == "Idempotency-Key"]
        assert keys, op["operationId"]
        assert keys[0]["required"] is True


def test_a_stalled_projection_is_a_503_on_reads_and_degraded_health(
        api: Api, client: TestClient, web: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    api.funded_milestone()
    projector = web.state.services.projector

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(projector.journal, "record", broken)
    response = api.get("/v1/accounts/processor:clearing/balance")
    assert_problem(response, 503, "projection-stalled")
    health = client.get("/v1/health").json()
    assert health["status"] == "degraded"
    assert "disk full" in health["projector_error"]
    monkeypatch.undo()
    assert api.get("/v1/accounts/processor:clearing/balance").status_code == 200
    assert client.get("/v1/health").json()["status"] == "ok"


def test_a_database_outage_is_a_retryable_503_not_a_500(
        api: Api, app: EscrowLedger, monkeypatch: pytest.MonkeyPatch) -> None:
    from eventsourcing.persistence import OperationalError

    def down(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(app, "save", down)
    response = api.post("/v1/contracts", {"kind": "fixed_price", "client_id": "c1",
                                          "freelancer_id": "f1", "currency": "USD"})
    body = assert_problem(response, 503, "store-unavailable")
    assert "nothing was written" in body["detail"]
    assert response.headers["Retry-After"] == "5"
