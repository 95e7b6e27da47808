"""Every route the app serves, read from its own OpenAPI document, refuses callers it should.

Why: a route added without ``CommandCaller``/``ReadCaller``/... is open to anyone,
and nothing else would notice. Enumerating the routes from the served document
(not from a list kept by hand) means a new route is checked the day it lands.
Each is called without a key (401), with an unknown key (401) and with a key
holding every scope but the one it needs (403), and nothing is written by any of
them; a key with only that scope gets past authentication, which pins the scope.

A route's scope is ``commands`` for POST/DELETE and ``read`` for GET (as
``api.auth`` says), except the routes in ``SCOPE_EXCEPTIONS``. Routes open by
design are in ``OPEN_ROUTES`` with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.application import EscrowLedger
from tests.api.conftest import PROBLEM_BASE

SCOPES = ("commands", "read", "finance", "audit")
ONLY = {scope: f"k-only-{scope}-scope-000001" for scope in SCOPES}
ALL_BUT = {scope: f"k-all-but-{scope}-scope-01" for scope in SCOPES}
UNKNOWN_KEYS = (
    "k-nobody-issued-this-0001",
    ONLY["read"][:-1] + "2",  # one character off a real key
    ONLY["read"].upper(),  # keys are compared exactly, not case-folded
)

OPEN_ROUTES = {
    ("GET", "/v1/health"): "liveness for load balancers and orchestrators, which hold no key; "
    "it tells only the store kind and log positions",
}
UNDOCUMENTED_OPEN_PATHS = {
    "/openapi.json": "the API's own description: a client reads it before it holds a key",
    "/docs": "Swagger UI over /openapi.json: the same document, rendered",
    "/redoc": "ReDoc over /openapi.json: the same document, rendered",
    "/docs/assets": "the static scripts and styles of those two pages",
}
SCOPE_EXCEPTIONS = {
    ("POST", "/v1/freelancers/{freelancer_id}/holds"): "finance",
    ("POST", "/v1/holds/{hold_id}/release"): "finance",
    ("POST", "/v1/clients/{client_id}/flag"): "finance",
    ("POST", "/v1/clients/{client_id}/unflag"): "finance",
    ("POST", "/v1/reconciliation/runs"): "finance",
    ("POST", "/v1/reconciliation/breaks/{break_id}/resolve"): "finance",
    ("GET", "/v1/finance/trial-balance"): "finance",
    ("GET", "/v1/revenue"): "finance",
    ("GET", "/v1/reconciliation/runs/{run_id}"): "finance",
    ("GET", "/v1/reconciliation/runs/{run_id}/report"): "finance",
    ("GET", "/v1/audit/replay-check"): "audit",
    ("GET", "/v1/audit/digest"): "audit",
    ("POST", "/v1/audit/digest/verify"): "audit",
    ("POST", "/v1/audit/proof"): "audit",
    ("GET", "/v1/events"): "audit",
    ("GET", "/v1/contracts/{contract_id}/events"): "audit",
    ("GET", "/v1/freelancers/{freelancer_id}/events"): "audit",
    ("GET", "/v1/deadlines"): "audit",
    ("GET", "/metrics"): "audit",
}


def expected_scope(method: str, path: str) -> str:
    return SCOPE_EXCEPTIONS.get((method, path), "read" if method == "GET" else "commands")


@pytest.fixture
def matrix_app(clock_ledger: EscrowLedger) -> FastAPI:
    keys = {ONLY[s]: frozenset({s}) for s in SCOPES}
    keys |= {ALL_BUT[s]: frozenset(SCOPES) - {s} for s in SCOPES}
    return create_app(ledger=clock_ledger, api_keys=keys, background_projector=False,
                      read_wait_timeout=0.2)


@pytest.fixture
def matrix_client(matrix_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(matrix_app, raise_server_exceptions=False) as client:
        yield client


def operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    document = client.get("/openapi.json").json()
    return [(method.upper(), path, operation)
            for path, item in document["paths"].items()
            for method, operation in item.items()]


def concrete(path: str) -> str:
    """Every path parameter filled with a well-shaped id nothing holds."""
    return path.replace("{", "").replace("}", "").replace("_id", "-0001") if "{" in path \
        else path


def call(client: TestClient, method: str, path: str, key: str | None,
         **headers: str) -> Any:
    h = dict(headers)
    if key is not None:
        h["Authorization"] = f"Bearer {key}"
    return client.request(method, concrete(path), headers=h)


def served(routes: list[Any]) -> dict[str, bool]:
    """Every path the app answers, and whether it is in the OpenAPI document.

    Routers included with ``include_router`` are walked too (FastAPI 0.165 keeps
    them as one entry holding the ``original_router``).
    """
    found: dict[str, bool] = {}
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            found |= served(inner.routes)
        elif getattr(route, "path", None):
            found[route.path] = bool(getattr(route, "include_in_schema", False))
    return found


def test_every_served_path_is_documented_or_open_by_design(
        matrix_app: FastAPI, matrix_client: TestClient) -> None:
    documented = {path for _, path, _ in operations(matrix_client)}
    paths = served(matrix_app.routes)
    assert {p for p, in_schema in paths.items() if not in_schema} == set(UNDOCUMENTED_OPEN_PATHS)
    assert {p for p, in_schema in paths.items() if in_schema} == documented
    for path in UNDOCUMENTED_OPEN_PATHS:  # open: no key needed
        probe = path + "/swagger-ui.css" if path == "/docs/assets" else path
        assert matrix_client.get(probe).status_code == 200, path
    for method, path in OPEN_ROUTES:
        assert matrix_client.request(method, path).status_code == 200
    assert len(documented) >= 70, sorted(documented)
    assert all(path in documented for _, path in SCOPE_EXCEPTIONS), "a renamed route"


def refusal_problem(response: Any, status: int, slug: str) -> str | None:
    if response.status_code != status:
        return f"{response.status_code} instead of {status}: {response.text[:200]}"
    if response.headers["content-type"] != "application/problem+json":
        return f"a {status} that is not a problem"
    if response.json()["type"] != PROBLEM_BASE + slug:
        return f"a {status} of type {response.json()['type']}"
    return None


def route_problems(client: TestClient, ledger: EscrowLedger, method: str, path: str,
                   operation: dict[str, Any]) -> list[str]:
    """What is wrong with one route's authentication (nothing, for a sound route)."""
    before = ledger.position()
    scope = expected_scope(method, path)
    found: list[str] = []
    if operation.get("security") != [{"ApiKey": []}]:
        found.append(f"declares security {operation.get('security')}")
    if not {"401", "403"} <= set(operation["responses"]):
        found.append(f"documents only {sorted(operation['responses'])}, not 401 and 403")
    attempts: list[tuple[str | None, int, str, str]] = [(None, 401, "unauthorized", "Bearer")]
    attempts += [(unknown, 401, "unauthorized", 'Bearer error="invalid_token"')
                 for unknown in UNKNOWN_KEYS]
    attempts += [(ALL_BUT[scope], 403, "insufficient-scope",
                  f'Bearer error="insufficient_scope", scope="{scope}"')]
    for key, status, slug, challenge in attempts:
        response = call(client, method, path, key, **{"Idempotency-Key": str(uuid.uuid4())})
        problem = refusal_problem(response, status, slug)
        if problem is None and response.headers.get("www-authenticate") != challenge:
            problem = f"challenge {response.headers.get('www-authenticate')!r}"
        if problem is not None:
            found.append(f"key {key!r}: {problem}")
    if ledger.position() != before:
        found.append("wrote while refusing")
    # the one scope gets past authentication (a command without an Idempotency-Key then
    # stops at 400, so this writes nothing either)
    passed = call(client, method, path, ONLY[scope])
    if passed.status_code in (401, 403, 500):
        found.append(f"the {scope!r} key alone: {passed.status_code} {passed.text[:200]}")
    if ledger.position() != before:
        found.append("wrote without an Idempotency-Key")
    return found


def test_every_route_needs_a_key_of_its_scope_and_refusals_write_nothing(
        matrix_client: TestClient, clock_ledger: EscrowLedger) -> None:
    checked = dict.fromkeys(SCOPES, 0)
    failures: list[str] = []
    for method, path, operation in operations(matrix_client):
        if (method, path) in OPEN_ROUTES:
            if "security" in operation:
                failures.append(f"{method} {path}: open by design yet declares security")
            continue
        failures += [f"{method} {path}: {p}" for p in
                     route_problems(matrix_client, clock_ledger, method, path, operation)]
        checked[expected_scope(method, path)] += 1
    assert not failures, "\n".join(failures)
    # each scope guards what the table says: moves only when a route is added or re-scoped
    assert checked["finance"] == sum(1 for s in SCOPE_EXCEPTIONS.values() if s == "finance")
    assert checked["audit"] == sum(1 for s in SCOPE_EXCEPTIONS.values() if s == "audit")
    # every route of the API as served today: a new route must raise these on purpose
    assert (checked["commands"], checked["read"]) == (47, 18), checked


MALFORMED_AUTHORIZATION = [
    "Bearer", "Bearer ", "Basic azpr", "bearer-" + ONLY["commands"], ONLY["commands"],
    "Bearer " + ONLY["commands"] + " extra", "Bearer " + "k" * 10_000,
]


def test_malformed_authorization_headers_are_401(
        matrix_client: TestClient, clock_ledger: EscrowLedger, subtests: Any) -> None:
    before = clock_ledger.position()
    for authorization in MALFORMED_AUTHORIZATION:
        with subtests.test(authorization[:40]):
            response = matrix_client.post(
                "/v1/contracts", headers={"Authorization": authorization,
                                          "Idempotency-Key": str(uuid.uuid4())},
                json={"kind": "fixed_price", "client_id": "client-acme",
                      "freelancer_id": "freelancer-ada", "currency": "USD"})
            assert refusal_problem(response, 401, "unauthorized") is None, response.text
    assert clock_ledger.position() == before
