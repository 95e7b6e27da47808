"""``min_position`` and ``as_of`` follow one rule on every read that takes them.

Why: ``GET /v1/contracts/{id}?min_position=`` beyond the log answered 200 while
the accounts route answered 422, a position of 10**30 went through to the
store, and ``as_of=1700000000`` was read as seconds since 1970. Every read is
enumerated from the served OpenAPI document, so a new one is covered too.
"""

from __future__ import annotations

from typing import Any

from tests.api.conftest import AUDIT_KEY, FINANCE_KEY, READ_KEY, Api, assert_problem, bearer

SCOPE = {"/v1/finance/trial-balance": FINANCE_KEY, "/v1/revenue": FINANCE_KEY}


def reads_taking(api: Api, name: str) -> list[str]:
    document = api.client.get("/openapi.json").json()
    return [path for path, item in document["paths"].items()
            if name in {p["name"] for p in item.get("get", {}).get("parameters", [])}]


def concrete(api: Api, path: str, contract_id: str) -> str:
    return (path.replace("{contract_id}", contract_id)
            .replace("{freelancer_id}", "freelancer-ada").replace("{client_id}", "client-acme")
            .replace("{account_id}", "processor:clearing"))


REQUIRED = {"/v1/revenue": {"from": "2026-01-01", "to": "2026-12-31"}}


def read(api: Api, path: str, **params: Any) -> Any:
    key = SCOPE.get(path, READ_KEY)
    params = {**REQUIRED.get(path, {}), **params}
    before = api.ledger.position()
    response = api.client.get(path, params=params, headers=bearer(key))
    assert api.ledger.position() == before
    return response


def test_min_position_beyond_the_log_or_any_store_is_422_on_every_read(api: Api,
                                                                        subtests: Any) -> None:
    contract_id, _ = api.funded_milestone()
    paths = reads_taking(api, "min_position")
    assert len(paths) >= 10, paths
    head = api.ledger.position()
    for path in paths:
        url = concrete(api, path, contract_id)
        with subtests.test(path):
            assert read(api, url, min_position=head).status_code in (200, 404)  # none yet
            assert_problem(read(api, url, min_position=head + 1), 422, "position-not-in-log")
            for huge in (10**30, 2**63, -1):
                assert_problem(read(api, url, min_position=huge), 422, "invalid-input")


def test_as_of_is_an_iso_8601_date_time_with_a_zone(api: Api, subtests: Any) -> None:
    contract_id, _ = api.funded_milestone()
    paths = reads_taking(api, "as_of")
    assert len(paths) >= 3, paths
    for path in paths:
        url = concrete(api, path, contract_id)
        with subtests.test(path):
            for good in ("2100-01-01T00:00:00Z", "2100-01-01T09:00:00+09:00"):
                assert read(api, url, as_of=good).status_code == 200
            for bad in ("1700000000", "1700000000.5", "2100-01-01", "2100-01-01T00:00:00",
                        "tomorrow", "0x10"):
                body = assert_problem(read(api, url, as_of=bad), 422, "invalid-input")
                assert "as_of" in body["detail"], body


def test_an_internal_run_as_of_a_unix_time_is_refused(api: Api) -> None:
    before = api.ledger.position()
    answer = api.client.post("/v1/reconciliation/runs",
                             data={"kind": "internal", "as_of": "1700000000"},
                             headers={**bearer(FINANCE_KEY), "Idempotency-Key": "unix"})
    assert_problem(answer, 422, "invalid-input")
    assert api.ledger.position() == before


def test_a_time_in_a_body_is_iso_8601_too(api: Api) -> None:
    api.funded_milestone()
    head = api.client.get("/v1/audit/digest", headers=bearer(AUDIT_KEY)).json()

    def verify(at: Any) -> Any:
        return api.client.post("/v1/audit/digest/verify", headers=bearer(AUDIT_KEY), json={
            "position": head["position"], "link": head["link"], "at": at})

    assert verify("2026-03-02T09:00:00Z").status_code == 200
    for bad in (1700000000, "1700000000", "2026-03-02"):
        body = assert_problem(verify(bad), 422, "invalid-input")
        assert "at" in body["detail"]
