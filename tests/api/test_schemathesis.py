"""schemathesis against the served OpenAPI document: what the schema says is what the server does.

Why: the OpenAPI document is the contract clients generate code from. A 500, or
a response that does not match its declared schema (status, media type, body),
is a break of that contract someone will hit; a refused request that still wrote
to the log is worse. Every operation the app serves (read from its own
``/openapi.json``, test clock included) is fuzzed in-process over ASGI by a key
holding every scope, three ways: schema-valid requests with made-up ids,
schema-invalid requests, and schema-valid requests naming the ids of a small
seeded marketplace (so success answers are checked too, not only refusals).
SQLite only: the HTTP layer is the same on both stores, and PostgreSQL's
behaviour under hostile input is covered by ``test_hostile_input.py``.

Driven through schemathesis's public strategies (``APIOperation.as_strategy``)
under plain Hypothesis rather than its pytest plugin, whose lazy loader reaches
into pytest internals that pytest 9.2 removed (``Node._nodeid``).

Bounded for CI: ``LEDGER_SCHEMATHESIS_EXAMPLES`` examples per operation and way
(default 6), derandomized, no shrinking: about 1,500 requests in 20-45 s. Search
harder with, for example, ``LEDGER_SCHEMATHESIS_EXAMPLES=25`` (~6,200 requests, ~70 s).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import create_app
from ledger.application import EscrowLedger
from ledger.bootstrap import build_ledger
from ledger.settings import Settings
from tests.api.conftest import TEST_CLOCK_START
from tests.conftest import fresh_store

ALL_SCOPES_KEY = "k-every-scope-fuzz-0001"
EXAMPLES = int(os.environ.get("LEDGER_SCHEMATHESIS_EXAMPLES", "6"))

CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
NOTHING_TO_NEGATE = {"GET /v1/health"}
"""Operations without parameters, body or key: no request to them can break the schema."""


@pytest.fixture(scope="module")
def fuzz_ledger() -> Iterator[EscrowLedger]:
    """One SQLite store for the module, with a test clock so its routes are fuzzed too."""
    with fresh_store("sqlite") as url:
        ledger = build_ledger(Settings(database_url=url, test_clock=True,
                                       test_clock_start=TEST_CLOCK_START))
        yield ledger
        ledger.close()


@pytest.fixture(scope="module")
def fuzz_app(fuzz_ledger: EscrowLedger) -> FastAPI:
    return create_app(
        ledger=fuzz_ledger,
        api_keys={ALL_SCOPES_KEY: frozenset({"commands", "read", "finance", "audit"})},
        background_projector=False, read_wait_timeout=0.2)


@pytest.fixture(scope="module")
def known_ids(fuzz_app: FastAPI) -> dict[str, str]:
    """A fixed-price contract with a funded, submitted milestone, Connects, a finance hold."""
    with TestClient(fuzz_app) as client:
        def ok(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = client.post(path, json=body, headers={
                "Authorization": f"Bearer {ALL_SCOPES_KEY}", "Idempotency-Key": str(uuid.uuid4())})
            assert response.status_code in (200, 201), response.text
            data: dict[str, Any] = response.json()
            return data

        contract = ok("/v1/contracts", {"kind": "fixed_price", "client_id": "client-acme",
                                        "freelancer_id": "freelancer-ada", "currency": "USD"})
        contract_id = contract["contract_id"]
        milestone_id = ok(f"/v1/contracts/{contract_id}/milestones", {
            "title": "Landing page", "amount": {"amount": "500.00", "currency": "USD"}})[
            "milestone_id"]
        milestone = f"/v1/contracts/{contract_id}/milestones/{milestone_id}"
        payment_id = ok(milestone + "/fund", {})["payment_id"]
        ok(milestone + "/submit", {})
        ok("/v1/freelancers/freelancer-ada/connects/purchases", {"connects": 40})
        hold_id = ok("/v1/freelancers/freelancer-ada/holds", {"reason": "manual"})["hold_id"]
    return {"contract_id": contract_id, "milestone_id": milestone_id, "payment_id": payment_id,
            "client_id": "client-acme", "freelancer_id": "freelancer-ada", "hold_id": hold_id,
            "account_id": f"escrow:{contract_id}:{milestone_id}"}


@pytest.fixture(scope="module")
def served_schema(fuzz_app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app,
                                          config=schemathesis.Config())


def _fuzz(operation: Any, mode: GenerationMode, ids: dict[str, str] | None,
          ledger: EscrowLedger, counts: dict[int, int]) -> None:
    names = {p.name for p in operation.path_parameters}
    known = {n: v for n, v in (ids or {}).items() if n in names} or None
    # `wait` long-polls /v1/events for up to 30 s: a fuzzer must not sit in it
    fixed = {"wait": 0} if "wait" in [p.name for p in operation.query] else None

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=known, query=fixed))
    def run(case: Any) -> None:
        before = ledger.position()
        response = case.call(headers={"Authorization": f"Bearer {ALL_SCOPES_KEY}"})
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
        case.validate_response(response, checks=CHECKS)
        if 400 <= response.status_code < 500:
            assert ledger.position() == before, (
                f"a refused {case.method} {case.formatted_path} "
                f"({response.status_code}) wrote to the log")

    run()


@pytest.mark.parametrize("way", ["positive", "negative", "positive-seeded"])
def test_the_served_schema_holds_for_every_operation(
        served_schema: Any, fuzz_ledger: EscrowLedger, known_ids: dict[str, str],
        way: str) -> None:
    mode = GenerationMode.NEGATIVE if way == "negative" else GenerationMode.POSITIVE
    ids = known_ids if way == "positive-seeded" else None
    failures: list[str] = []
    unnegatable: set[str] = set()
    counts: dict[int, int] = {}
    operations = 0
    for result in served_schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        operations += 1
        try:
            _fuzz(operation, mode, ids, fuzz_ledger, counts)
        except Unsatisfiable:
            unnegatable.add(operation.label)
        except (Exception, BaseExceptionGroup) as e:  # try all, report all failures
            failures.append(f"--- {operation.label}\n{e}")
    print(f"\n{way}: {operations} operations, answers {dict(sorted(counts.items()))}")
    assert not failures, "\n".join(failures)
    assert unnegatable == (NOTHING_TO_NEGATE if mode is GenerationMode.NEGATIVE else set())
    assert operations >= 80, operations
    assert 500 not in counts
    assert sum(counts.values()) >= operations * min(EXAMPLES, 3) // 2, counts
    if way == "positive-seeded":
        # the seeded ids reach real resources: success answers were checked, not only 404s
        assert sum(n for status, n in counts.items() if status < 300) >= 100, counts
