"""An HTTP client over the conftest ``app`` (so every API test runs on SQLite and PostgreSQL).

``Api`` sends commands with the commands+read key and a fresh ``Idempotency-Key``
unless told otherwise, and ``refused`` checks a refusal is a problem of the
expected status and type *and* that the log did not move.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.application import EscrowLedger
from ledger.bootstrap import build_ledger
from ledger.settings import Settings

COMMANDS_KEY = "k-commands-and-read-0001"
READ_KEY = "k-read-only-000000001"
FINANCE_KEY = "k-finance-only-000001"
AUDIT_KEY = "k-audit-only-00000001"
API_KEYS = {
    COMMANDS_KEY: frozenset({"commands", "read"}),
    READ_KEY: frozenset({"read"}),
    FINANCE_KEY: frozenset({"finance"}),
    AUDIT_KEY: frozenset({"audit"}),
}
PROBLEM_BASE = "https://escrow-ledger.dev/problems/"
TEST_CLOCK_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_BASE + slug, body
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


class Api:
    def __init__(self, client: TestClient, ledger: EscrowLedger) -> None:
        self.client = client
        self.ledger = ledger

    # ---- raw ---------------------------------------------------------------------

    def post(
        self, path: str, body: Any = None, *, key: str | None = COMMANDS_KEY,
        idempotency_key: str | None = "fresh", headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        h = {**(bearer(key) if key else {}), **(headers or {})}
        if idempotency_key == "fresh":
            h["Idempotency-Key"] = str(uuid.uuid4())
        elif idempotency_key is not None:
            h["Idempotency-Key"] = idempotency_key
        response: httpx.Response = (
            self.client.post(path, headers=h) if body is None
            else self.client.post(path, json=body, headers=h)
        )
        return response

    def get(
        self, path: str, *, key: str | None = READ_KEY, params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        response: httpx.Response = self.client.get(
            path, headers=bearer(key) if key else {}, params=params)
        return response

    def refused(
        self, status: int, slug: str, path: str, body: Any = None, **kwargs: Any
    ) -> dict[str, Any]:
        """POSTs and checks the refusal, and that nothing was written to the log."""
        before = self.ledger.position()
        body_out = assert_problem(self.post(path, body, **kwargs), status, slug)
        assert self.ledger.position() == before, "a refused command wrote to the log"
        return body_out

    def ok(self, path: str, body: Any = None, status: int = 200) -> dict[str, Any]:
        response = self.post(path, body)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/json"
        data: dict[str, Any] = response.json()
        assert data["position"] == self.ledger.position()
        return data

    # ---- the marketplace's steps ---------------------------------------------------

    def open_contract(self, **overrides: Any) -> str:
        body = {"kind": "fixed_price", "client_id": "client-acme",
                "freelancer_id": "freelancer-ada", "currency": "USD", **overrides}
        return str(self.ok("/v1/contracts", body, status=201)["contract_id"])

    def add_milestone(self, contract_id: str, amount: str = "500.00",
                      title: str = "Landing page") -> str:
        data = self.ok(f"/v1/contracts/{contract_id}/milestones",
                       {"title": title, "amount": usd(amount)}, status=201)
        return str(data["milestone_id"])

    def funded_milestone(self, amount: str = "500.00", **contract: Any) -> tuple[str, str]:
        contract_id = self.open_contract(**contract)
        milestone_id = self.add_milestone(contract_id, amount)
        self.ok(f"/v1/contracts/{contract_id}/milestones/{milestone_id}/fund")
        return contract_id, milestone_id

    def milestone_path(self, contract_id: str, milestone_id: str, step: str) -> str:
        return f"/v1/contracts/{contract_id}/milestones/{milestone_id}/{step}"

    def balance(self, account: str, **params: Any) -> dict[str, Any]:
        response = self.get(f"/v1/accounts/{account}/balance", params=params)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def net(self, account: str) -> str | None:
        """The account's USD balance on its normal side, or None when it never moved."""
        lines = [b for b in self.balance(account)["balances"] if b["currency"] == "USD"]
        return str(lines[0]["amount"]) if lines else None


@pytest.fixture
def web(app: EscrowLedger) -> FastAPI:
    return create_app(ledger=app, api_keys=dict(API_KEYS), background_projector=False,
                      read_wait_timeout=0.2)


@pytest.fixture
def client(web: FastAPI) -> Iterator[TestClient]:
    with TestClient(web) as c:
        yield c


@pytest.fixture
def api(client: TestClient, app: EscrowLedger) -> Api:
    return Api(client, app)


# --- a test-clock app on each backend ------------------------------------------------------


@pytest.fixture
def clock_start() -> datetime:
    """Where the test clock starts (a Monday); parametrize it to live in another fee era."""
    return TEST_CLOCK_START


@pytest.fixture
def clock_ledger(database_url: str, clock_start: datetime) -> Iterator[EscrowLedger]:
    ledger = build_ledger(Settings(database_url=database_url, test_clock=True,
                                   test_clock_start=clock_start))
    yield ledger
    ledger.close()


@pytest.fixture
def clock_web(clock_ledger: EscrowLedger) -> FastAPI:
    return create_app(ledger=clock_ledger, api_keys=dict(API_KEYS), background_projector=False,
                      read_wait_timeout=0.2)


@pytest.fixture
def fresh_tapi(clock_web: FastAPI, clock_ledger: EscrowLedger) -> Iterator[Api]:
    """A test-clock app on an empty store: nothing has read the clock yet."""
    with TestClient(clock_web) as client:
        yield Api(client, clock_ledger)


@pytest.fixture
def tapi(fresh_tapi: Api, clock_start: datetime) -> Api:
    """A test-clock app whose clock reads where it started (recorded when it was built)."""
    response = fresh_tapi.get("/v1/test-clock")
    assert response.status_code == 200, response.text
    assert response.json() == {"now": clock_start.isoformat()}
    return fresh_tapi
