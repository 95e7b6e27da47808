"""A body is read only in the media type its route reads: anything else is 415, nothing written.

Why: FastAPI read a JSON text sent as ``text/plain`` as a string (a 422 about
its shape, which hid the real mistake), and the reconciliation upload read a
JSON body as an empty form, starting an internal run nobody asked for.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.api.conftest import COMMANDS_KEY, FINANCE_KEY, Api, assert_problem, bearer

RUNS = "/v1/reconciliation/runs"
MILESTONE = b'{"title": "x", "amount": {"amount": "5.00", "currency": "USD"}}'


def send(api: Api, path: str, content: bytes | None, content_type: str | None,
         key: str = COMMANDS_KEY, **kwargs: Any) -> httpx.Response:
    h = {**bearer(key), "Idempotency-Key": str(uuid.uuid4())}
    if content_type is not None:
        h["Content-Type"] = content_type
    response: httpx.Response = api.client.post(path, content=content, headers=h, **kwargs)
    return response


def refused(api: Api, response_of: Any, status: int, slug: str) -> dict[str, Any]:
    before = api.ledger.position()
    body = assert_problem(response_of(), status, slug)
    assert api.ledger.position() == before, "a refused request wrote to the log"
    return body


def test_json_routes_read_json_only(api: Api) -> None:
    path = f"/v1/contracts/{api.open_contract()}/milestones"
    for media in ("text/plain", "application/xml", "text/plain; charset=utf-8"):
        body = refused(api, lambda m=media: send(api, path, MILESTONE, m), 415,
                       "unsupported-media-type")
        assert "application/json" in body["detail"]
    for media in ("application/json", "application/json; charset=utf-8"):
        assert send(api, path, MILESTONE, media).status_code == 201


def test_a_body_without_content_type_is_not_read(api: Api) -> None:
    path = f"/v1/contracts/{api.open_contract()}/milestones"
    body = refused(api, lambda: send(api, path, MILESTONE, None), 415, "unsupported-media-type")
    assert "no Content-Type" in body["detail"]


def test_a_command_without_a_body_refuses_one_in_another_type(api: Api) -> None:
    contract = api.open_contract()
    milestone = api.add_milestone(contract)
    fund = api.milestone_path(contract, milestone, "fund")
    refused(api, lambda: send(api, fund, b"<fund/>", "application/xml"), 415,
            "unsupported-media-type")
    assert send(api, fund, b"", "text/plain").status_code == 200  # no body: nothing unread


def test_a_reconciliation_run_is_a_form_and_an_internal_one_is_asked_for(api: Api) -> None:
    api.funded_milestone("500.00")
    for content, media in [(b'{"kind": "internal"}', "application/json"),
                           (b'{"files": []}', None), (b"kind=internal", "text/plain")]:
        body = refused(api, lambda c=content, m=media: send(api, RUNS, c, m, FINANCE_KEY),
                       415, "unsupported-media-type")
        assert "multipart/form-data" in body["detail"]
    # a form (or no body) that names neither files nor kind=internal starts nothing
    refused(api, lambda: send(api, RUNS, None, None, FINANCE_KEY), 422, "invalid-input")
    refused(api, lambda: api.client.post(RUNS, data={"as_of": "2100-01-01T00:00:00Z"},
                                         headers={**bearer(FINANCE_KEY),
                                                  "Idempotency-Key": "no-kind"}),
            422, "invalid-input")
    refused(api, lambda: api.client.post(
        RUNS, data={"kind": "internal"}, files=[("files", ("a.csv", b"x"))],
        headers={**bearer(FINANCE_KEY), "Idempotency-Key": "both"}), 422, "invalid-input")
    ran = api.client.post(RUNS, data={"kind": "internal"},
                          headers={**bearer(FINANCE_KEY), "Idempotency-Key": "internal"})
    assert ran.status_code == 201, ran.text
    assert ran.json()["kind"] == "internal"
