"""Reconciliation runs over HTTP: upload, read with breaks, resolve, the report; refusals.

The files are what the processor and the bank would send for this ledger
(``reconciliation.derived_statements``): a $500.00 milestone funded by card
charges 500.00 + 25.00 marketplace fee + 9.95 initiation fee = 534.95.
"""

from __future__ import annotations

from typing import Any

import httpx

from reconciliation.derived_statements import processor_rows
from reconciliation.statements.processor_csv import write_processor_csv
from tests.api.conftest import COMMANDS_KEY, FINANCE_KEY, Api, assert_problem

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>&lol2;
</BkToCstmrStmt></Document>
"""


def upload(api: Api, files: list[tuple[str, bytes]], key: str = "run-1",
           as_key: str = FINANCE_KEY, **form: Any) -> httpx.Response:
    return api.client.post(
        "/v1/reconciliation/runs", files=[("files", (n, d)) for n, d in files], data=form,
        headers={"Authorization": f"Bearer {as_key}", "Idempotency-Key": key})


def finance_get(api: Api, path: str) -> httpx.Response:
    return api.client.get(path, headers={"Authorization": f"Bearer {FINANCE_KEY}"})


def processor_csv(api: Api) -> tuple[str, bytes]:
    rows, created = processor_rows(api.ledger)
    return "processor.csv", write_processor_csv(rows, created_at=created)


def test_a_clean_run_then_a_break_resolved_with_a_reason(api: Api) -> None:
    api.funded_milestone("500.00")
    name, data = processor_csv(api)
    assert b",charge,534.95,15.81,519.14,usd," in data
    response = upload(api, [(name, data)])
    assert response.status_code == 201, response.text
    run = response.json()
    assert response.headers["Location"] == f"/v1/reconciliation/runs/{run['run_id']}"
    assert (run["kind"], run["breaks_total"], run["breaks_open"]) == ("processor", 0, 0)
    assert run["inputs"][0]["lines"] == 1
    assert len(run["inputs"][0]["sha256"]) == 64
    assert run["rules"]["version"] == "1"
    # a retry with the same key answers the same run and records nothing more
    position = api.ledger.position()
    again = upload(api, [(name, data)])
    assert (again.status_code, again.json()["run_id"]) == (201, run["run_id"])
    assert again.headers["Idempotent-Replayed"] == "true"
    assert api.ledger.position() == position

    # the processor charged 0.01 more than the ledger did
    tampered = data.replace(b"534.95,15.81,519.14", b"534.96,15.81,519.15")
    broken = upload(api, [(name, tampered)], key="run-2").json()
    assert (broken["breaks_total"], broken["breaks_by_kind"]) == (1, {"amount_mismatch": 1})
    page = finance_get(api, f"/v1/reconciliation/runs/{broken['run_id']}").json()
    [found] = page["breaks"]
    assert (found["kind"], found["amount"], found["status"]) == ("amount_mismatch", "0.01",
                                                                  "open")
    assert found["evidence"]["lines"][0]["line"] == 2  # the file's line, header being 1

    path = f"/v1/reconciliation/breaks/{found['break_id']}/resolve"
    body = {"reason": "processor rounding, credited back on their April statement"}
    resolved = api.client.post(path, json=body, headers={
        "Authorization": f"Bearer {FINANCE_KEY}", "Idempotency-Key": "resolve-1"})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["resolution"]["reason"] == body["reason"]
    twice = api.client.post(path, json=body, headers={
        "Authorization": f"Bearer {FINANCE_KEY}", "Idempotency-Key": "resolve-2"})
    assert_problem(twice, 409, "break-already-resolved")
    after = finance_get(api, f"/v1/reconciliation/runs/{broken['run_id']}").json()
    assert (after["breaks_open"], after["breaks"][0]["status"]) == (0, "resolved")

    # the same break found again by a later run is recorded as already explained
    rerun = upload(api, [(name, tampered)], key="run-3").json()
    assert (rerun["breaks_total"], rerun["breaks_open"]) == (1, 0)
    [again_found] = finance_get(api, f"/v1/reconciliation/runs/{rerun['run_id']}"
                                ).json()["breaks"]
    assert again_found["key"] == found["key"]
    assert again_found["status"] == "resolved"
    assert again_found["resolution"]["carried_from_run"] == broken["run_id"]
    assert again_found["resolution"]["reason"] == body["reason"]

    report = finance_get(api, f"/v1/reconciliation/runs/{broken['run_id']}/report")
    assert report.headers["content-type"].startswith("text/html")
    assert "amount mismatch (1)" in report.text
    assert "processor rounding" in report.text


def test_breaks_page_by_cursor(api: Api) -> None:
    for _ in range(3):
        api.funded_milestone("100.00")
    name, data = processor_csv(api)
    lines = data.decode().splitlines()
    strangers = [line.replace("pay_", "pay_0") .replace("txn_", f"txn_x{i}")
                 for i, line in enumerate(lines[1:])]
    run = upload(api, [(name, "\n".join([*lines, *strangers]).encode() + b"\n")]).json()
    assert run["breaks_by_kind"] == {"missing_in_ledger": 3}
    first = finance_get(api, f"/v1/reconciliation/runs/{run['run_id']}?limit=2").json()
    assert len(first["breaks"]) == 2
    assert first["next_cursor"]
    rest = finance_get(api, f"/v1/reconciliation/runs/{run['run_id']}?limit=2"
                       f"&cursor={first['next_cursor']}").json()
    assert (len(rest["breaks"]), rest["next_cursor"]) == (1, None)
    ids = [b["break_id"] for b in first["breaks"] + rest["breaks"]]
    assert len(set(ids)) == 3
    assert finance_get(api, f"/v1/reconciliation/runs/{run['run_id']}?status=resolved"
                       ).json()["breaks"] == []


def test_malformed_files_are_refused_naming_the_line_and_nothing_is_recorded(api: Api) -> None:
    api.funded_milestone("500.00")
    name, data = processor_csv(api)
    position = api.ledger.position()
    bad_amount = data.replace(b"534.95", b"534.9x")
    problem = assert_problem(upload(api, [(name, bad_amount)], key="bad-1"), 422,
                             "statement-refused")
    assert "processor.csv, line 2, field amount" in problem["detail"]
    truncated = b"01,ESCROWBANK,ESCROWLEDGER,260304,2359,20260304,,,2/\n" \
                b"02,ESCROWLEDGER,ESCROWBANK,1,260302,2400,USD,2/\n"
    problem = assert_problem(upload(api, [("trust.bai2", truncated)], key="bad-2"), 422,
                             "statement-refused")
    assert "trust.bai2, line" in problem["detail"]
    problem = assert_problem(upload(api, [("bomb.xml", BOMB)], key="bad-3"), 422,
                             "statement-refused")
    assert "bomb.xml, line" in problem["detail"]
    assert "field xml" in problem["detail"]
    # a good file beside a bad one: the whole run is refused
    assert_problem(upload(api, [(name, data), ("bomb.xml", BOMB)], key="bad-4"), 422,
                   "statement-refused")
    assert api.ledger.position() == position


def test_who_may_do_what(api: Api) -> None:
    api.funded_milestone("500.00")
    name, data = processor_csv(api)
    assert_problem(upload(api, [(name, data)], as_key=COMMANDS_KEY), 403, "insufficient-scope")
    assert_problem(finance_get(api, "/v1/reconciliation/runs/run_" + "0" * 32), 404,
                   "reconciliation-run-not-found")
    assert_problem(finance_get(api, "/v1/reconciliation/runs/nope"), 404,
                   "reconciliation-run-not-found")
    missing = api.client.post("/v1/reconciliation/breaks/brk_" + "0" * 32 + "_1/resolve",
                              json={"reason": "x"}, headers={
                                  "Authorization": f"Bearer {FINANCE_KEY}",
                                  "Idempotency-Key": "r-404"})
    assert_problem(missing, 404, "reconciliation-run-not-found")
    run = upload(api, [(name, data)]).json()
    empty = api.client.post(f"/v1/reconciliation/breaks/brk_{run['run_id'][4:]}_1/resolve",
                            json={"reason": ""}, headers={
                                "Authorization": f"Bearer {FINANCE_KEY}",
                                "Idempotency-Key": "r-422"})
    assert empty.status_code == 422
    unknown = api.client.post(f"/v1/reconciliation/breaks/brk_{run['run_id'][4:]}_9/resolve",
                              json={"reason": "why"}, headers={
                                  "Authorization": f"Bearer {FINANCE_KEY}",
                                  "Idempotency-Key": "r-404b"})
    assert_problem(unknown, 404, "break-not-found")


def test_an_internal_run_finds_the_books_balanced(api: Api) -> None:
    api.funded_milestone("500.00")
    response = upload(api, [], key="internal-1", kind="internal",
                      as_of="2100-01-01T00:00:00Z")
    assert response.status_code == 201, response.text
    run = response.json()
    assert (run["kind"], run["breaks_total"], run["as_of"]) == (
        "internal", 0, "2100-01-01T00:00:00+00:00")
    assert run["summary"]["trial_balance"] == {"USD": "0.00"}
