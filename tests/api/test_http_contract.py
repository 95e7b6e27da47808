"""The HTTP contract an integrating engineer expects, on both stores.

``X-Request-Id`` on every answer (kept from the caller when sane) and on the
command's record; ``Location`` on every 201, the same on a replay, naming
something that reads 200; ``ETag`` and ``304`` for ``If-None-Match``; the
trial balance ``as_of`` a moment; ``/docs`` with no asset from elsewhere; the
demo's ids on every start and ``make run PORT=``. The test clock starts Monday
2 March 2026, 09:00 UTC: a $500.00 milestone funded by card then is charged
$534.95 (5% marketplace fee $25.00, initiation fee $9.95), and its release
posts $509.95 more (escrow $500.00 and the deferred $9.95 out; $450.00 pending,
$50.00 service fee, $9.95 initiation fee revenue).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.http_cache import matches, strong_etag
from api.request_id import RequestIdLogFilter, uvicorn_log_config
from ledger.application import EscrowLedger
from ledger.idempotency import CommandRecord
from tests.api.conftest import (
    API_KEYS,
    COMMANDS_KEY,
    FINANCE_KEY,
    READ_KEY,
    Api,
    assert_problem,
    bearer,
    usd,
)

ROOT = Path(__file__).resolve().parents[2]
ADVANCE = "/v1/test-clock/advance"
FRESH_ID = re.compile(r"[0-9a-f]{32}")
HOURLY = {"kind": "hourly", "client_id": "client-acme", "freelancer_id": "freelancer-ada",
          "currency": "USD", "hourly_rate": usd("40.00"), "weekly_limit_hours": 20,
          "manual_time_allowed": False}


def scoped(idempotency_key: str) -> str:
    """The key as the ledger stores it: scoped by the caller's key fingerprint."""
    return f"{hashlib.sha256(COMMANDS_KEY.encode()).hexdigest()[:16]}:{idempotency_key}"


def advance(api: Api, to: str) -> None:
    api.ok(ADVANCE, {"to": to})


# --- X-Request-Id -------------------------------------------------------------------------------


def test_a_command_keeps_the_callers_request_id_and_records_it(tapi: Api) -> None:
    response = tapi.post("/v1/contracts", {"kind": "fixed_price", "client_id": "client-acme",
                                           "freelancer_id": "freelancer-ada", "currency": "USD"},
                         idempotency_key="open-with-id", headers={"X-Request-Id": "abc-123"})
    assert response.status_code == 201, response.text
    assert response.headers["X-Request-Id"] == "abc-123"
    record = tapi.ledger.find(CommandRecord, CommandRecord.id_for(scoped("open-with-id")))
    assert record is not None
    assert record.request_id == "abc-123"
    assert record.response["contract_id"] == response.json()["contract_id"]


def test_a_command_without_a_request_id_gets_and_records_a_fresh_one(tapi: Api) -> None:
    response = tapi.post("/v1/contracts", {"kind": "fixed_price", "client_id": "client-acme",
                                           "freelancer_id": "freelancer-ada", "currency": "USD"},
                         idempotency_key="open-without-id")
    assert response.status_code == 201, response.text
    given = response.headers["X-Request-Id"]
    assert FRESH_ID.fullmatch(given)
    record = tapi.ledger.find(CommandRecord, CommandRecord.id_for(scoped("open-without-id")))
    assert record is not None
    assert record.request_id == given


@pytest.mark.parametrize("presented", ["x" * 200, "a" * 129, "has space", "semi;colon",
                                       "naïve", ""])
def test_an_unusable_request_id_is_replaced_by_a_fresh_one(api: Api, presented: str) -> None:
    response = api.client.get("/v1/health",
                              headers={"X-Request-Id": presented.encode("latin-1")})
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] != presented
    assert FRESH_ID.fullmatch(response.headers["X-Request-Id"])


def test_two_request_ids_are_replaced_by_one_fresh_one(api: Api) -> None:
    response = api.client.get("/v1/health", headers=[("X-Request-Id", "a"), ("X-Request-Id", "b")])
    assert FRESH_ID.fullmatch(response.headers["X-Request-Id"])


@pytest.mark.parametrize("presented", ["a" * 128, "Z", "trace.1:2_3-4"])
def test_every_sane_request_id_is_kept(api: Api, presented: str) -> None:
    response = api.client.get("/v1/health", headers={"X-Request-Id": presented})
    assert response.headers["X-Request-Id"] == presented


def test_each_request_without_an_id_gets_its_own(api: Api) -> None:
    ids = {api.client.get("/v1/health").headers["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3


def test_problems_and_304s_carry_the_request_id_too(api: Api) -> None:
    contract_id = api.open_contract()
    rid = {"X-Request-Id": "rid-1"}
    answers = {
        401: api.client.get(f"/v1/contracts/{contract_id}", headers=rid),
        403: api.client.get("/v1/finance/trial-balance", headers={**bearer(READ_KEY), **rid}),
        404: api.client.get("/v1/contracts/no-such-contract", headers={**bearer(READ_KEY), **rid}),
        422: api.post("/v1/contracts", {"kind": "fixed_price"}, headers=rid),
        400: api.post("/v1/contracts", {}, idempotency_key=None, headers=rid),
        304: api.client.get(f"/v1/contracts/{contract_id}",
                            headers={**bearer(READ_KEY), **rid, "If-None-Match": '"1"'}),
    }
    for status, response in answers.items():
        assert response.status_code == status, response.text
        assert response.headers["X-Request-Id"] == "rid-1", status


def test_a_crash_answers_a_500_problem_that_still_carries_the_request_id(
        web: FastAPI, app: EscrowLedger) -> None:
    def crash() -> None:
        raise RuntimeError("boom")

    web.add_api_route("/v1/test-crash", crash, methods=["GET"])
    with TestClient(web, raise_server_exceptions=False) as client:
        response = client.get("/v1/test-crash", headers={"X-Request-Id": "crash-1"})
    assert_problem(response, 500, "internal-error")
    assert response.headers["X-Request-Id"] == "crash-1"


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.addFilter(RequestIdLogFilter())
        self.setFormatter(logging.Formatter("[%(request_id)s] %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_log_lines_written_while_serving_a_request_carry_its_id(
        web: FastAPI, app: EscrowLedger) -> None:
    """A sync route runs in a worker thread: the id follows it there."""
    probe = logging.getLogger("api.test_probe")

    def logs() -> dict[str, str]:
        probe.warning("inside the request")
        return {}

    web.add_api_route("/v1/test-logs", logs, methods=["GET"])
    handler = _Lines()
    probe.addHandler(handler)
    try:
        with TestClient(web) as client:
            client.get("/v1/test-logs", headers={"X-Request-Id": "log-7"})
        probe.warning("outside any request")
    finally:
        probe.removeHandler(handler)
    assert handler.lines == ["[log-7] api.test_probe: inside the request",
                             "[-] api.test_probe: outside any request"]


def test_the_servers_log_configuration_shows_the_request_id_on_every_line() -> None:
    config = uvicorn_log_config()
    assert "%(request_id)s" in config["formatters"]["access"]["fmt"]
    assert "%(request_id)s" in config["formatters"]["default"]["fmt"]
    assert "%(request_id)s" in config["formatters"]["ledger"]["fmt"]
    assert all(h["filters"] == ["request_id"] for h in config["handlers"].values())
    assert config["root"]["handlers"] == ["ledger"]


def test_a_command_record_stored_before_request_ids_reads_as_none(app: EscrowLedger) -> None:
    """Version 1 of ``CommandRecord.Accepted`` had no ``request_id``: it upcasts to None."""
    from datetime import UTC, datetime

    record = CommandRecord.accept(key="k-old", command="open_contract", request_hash="h",
                                  response={"ok": True}, at=datetime(2026, 3, 2, tzinfo=UTC),
                                  request_id="new-1")
    stored = app.mapper.to_stored_event(record.collect_events()[0])
    state = json.loads(stored.state)
    assert state.pop("class_version") == 2
    assert state.pop("request_id") == "new-1"
    old = type(stored)(originator_id=stored.originator_id,
                       originator_version=stored.originator_version,
                       topic=stored.topic, state=json.dumps(state).encode())
    event = app.mapper.to_domain_event(old)
    assert isinstance(event, CommandRecord.Accepted)
    assert (event.key, event.response, event.request_id) == ("k-old", {"ok": True}, None)


# --- Location on every 201 ----------------------------------------------------------------------

Scenario = Callable[[Api], tuple[str, dict[str, Any] | None, str]]
"""Sets the stage and answers (path, body, the Location expected)."""


def _contract(api: Api) -> tuple[str, dict[str, Any] | None, str]:
    body = {"kind": "fixed_price", "client_id": "client-acme", "freelancer_id": "freelancer-ada",
            "currency": "USD"}
    return "/v1/contracts", body, "/v1/contracts/{contract_id}"


def _milestone(api: Api) -> tuple[str, dict[str, Any] | None, str]:
    cid = api.open_contract()
    return (f"/v1/contracts/{cid}/milestones", {"title": "Logo", "amount": usd("500.00")},
            f"/v1/contracts/{cid}")


def _time_entry(api: Api) -> tuple[str, dict[str, Any] | None, str]:
    cid = str(api.ok("/v1/contracts", HOURLY, status=201)["contract_id"])
    return (f"/v1/contracts/{cid}/time-entries",
            {"worked_on": "2026-03-02", "minutes": 60}, f"/v1/contracts/{cid}")


def _hourly_dispute(api: Api) -> tuple[str, dict[str, Any] | None, str]:
    cid = str(api.ok("/v1/contracts", HOURLY, status=201)["contract_id"])
    api.ok(f"/v1/contracts/{cid}/time-entries", {"worked_on": "2026-03-02", "minutes": 300},
           status=201)
    advance(api, "2026-03-09T12:00:00Z")  # invoiced; its review runs to Friday
    return (f"/v1/contracts/{cid}/hourly-disputes",
            {"week_start": "2026-03-02", "minutes": 60}, f"/v1/contracts/{cid}")


def _ended_by_the_client(api: Api) -> tuple[str, str, str]:
    cid, mid = api.funded_milestone("1000.00")
    ended = api.ok(f"/v1/contracts/{cid}/end", {"by": "client", "pay": "none"})
    return cid, mid, str(ended["refund_request_id"])


def _refund_request_dispute(api: Api) -> tuple[str, dict[str, Any] | None, str]:
    cid, _, rid = _ended_by_the_client(api)
    return f"/v1/contracts/{cid}/refund-requests/{rid}/dispute", {}, "/v1/disputes/{dispute_id}"


def _milestone_dispute(api: Api) -> tuple[str, dict[str, Any] | None, str]:
    cid, mid = api.funded_milestone("300.00")
    api.ok(api.milestone_path(cid, mid, "submit"), {})
    api.ok(api.milestone_path(cid, mid, "request-changes"), {"note": "no"})
    return api.milestone_path(cid, mid, "dispute"), {}, "/v1/disputes/{dispute_id}"


def _dormancy_dispute(api: Api) -> tuple[str, dict[str, Any] | None, str]:
    cid, _ = api.funded_milestone("1000.00")
    advance(api, "2026-06-08T09:00:00Z")  # dormant 05-31, the client silent 7 days
    api.ok(f"/v1/contracts/{cid}/dormancy/release-request")
    return f"/v1/contracts/{cid}/dormancy/dispute", {}, "/v1/disputes/{dispute_id}"


def _bonus(api: Api) -> tuple[str, dict[str, Any] | None, str]:
    cid = api.open_contract()
    return f"/v1/contracts/{cid}/bonuses", {"amount": usd("100.00")}, f"/v1/contracts/{cid}"


def _refund(api: Api) -> tuple[str, dict[str, Any] | None, str]:
    cid, mid = api.funded_milestone("500.00")
    api.ok(api.milestone_path(cid, mid, "approve"), {})  # $450.00 pending
    return f"/v1/contracts/{cid}/refunds", {"amount": usd("50.00")}, f"/v1/contracts/{cid}"


def _chargeback(api: Api) -> tuple[str, dict[str, Any] | None, str]:
    cid = api.open_contract()
    mid = api.add_milestone(cid, "500.00")
    paid = api.ok(api.milestone_path(cid, mid, "fund"))
    return (f"/v1/payments/{paid['payment_id']}/chargebacks", {"reason": "fraudulent"},
            "/v1/chargebacks/{chargeback_id}")


WALLET = "/v1/freelancers/freelancer-ada/connects"


def _purchase(api: Api) -> tuple[str, dict[str, Any] | None, str]:
    return f"{WALLET}/purchases", {"connects": 80, "payment_method": "card"}, WALLET


def _grant(api: Api) -> tuple[str, dict[str, Any] | None, str]:
    return f"{WALLET}/grants", {"connects": 10, "reason": "welcome bonus"}, WALLET


def _membership(api: Api) -> tuple[str, dict[str, Any] | None, str]:
    return f"{WALLET}/memberships", {"plan": "basic"}, WALLET


def _spend(api: Api) -> tuple[str, dict[str, Any] | None, str]:
    api.ok(f"{WALLET}/grants", {"connects": 20, "reason": "welcome bonus"}, status=201)
    return (f"{WALLET}/spends", {"connects": 6, "reason": "proposal", "job_id": "job-1"},
            WALLET)


def _boost(api: Api) -> tuple[str, dict[str, Any] | None, str]:
    api.ok(f"{WALLET}/grants", {"connects": 20, "reason": "welcome bonus"}, status=201)
    return f"{WALLET}/boosts", {"connects": 5, "job_id": "job-2"}, WALLET


CREATED: dict[str, Scenario] = {
    "/v1/contracts": _contract,
    "/v1/contracts/{contract_id}/milestones": _milestone,
    "/v1/contracts/{contract_id}/time-entries": _time_entry,
    "/v1/contracts/{contract_id}/hourly-disputes": _hourly_dispute,
    "/v1/contracts/{contract_id}/refund-requests/{request_id}/dispute": _refund_request_dispute,
    "/v1/contracts/{contract_id}/milestones/{milestone_id}/dispute": _milestone_dispute,
    "/v1/contracts/{contract_id}/dormancy/dispute": _dormancy_dispute,
    "/v1/contracts/{contract_id}/bonuses": _bonus,
    "/v1/contracts/{contract_id}/refunds": _refund,
    "/v1/payments/{payment_id}/chargebacks": _chargeback,
    "/v1/freelancers/{freelancer_id}/connects/purchases": _purchase,
    "/v1/freelancers/{freelancer_id}/connects/grants": _grant,
    "/v1/freelancers/{freelancer_id}/connects/memberships": _membership,
    "/v1/freelancers/{freelancer_id}/connects/spends": _spend,
    "/v1/freelancers/{freelancer_id}/connects/boosts": _boost,
}
LOCATED_MODULES = ("contracts", "hourly", "disputes", "payments", "chargebacks", "connects")


def test_every_201_route_of_these_modules_is_exercised_below() -> None:
    created = {r.path for name in LOCATED_MODULES
               for r in importlib.import_module(f"api.routes.{name}").router.routes
               if isinstance(r, APIRoute) and r.status_code == 201}
    assert created == set(CREATED)


@pytest.mark.parametrize("route", sorted(CREATED))
def test_a_201_names_what_it_created_in_location_and_a_replay_names_it_again(
        tapi: Api, route: str) -> None:
    path, body, expected = CREATED[route](tapi)
    key = str(uuid.uuid4())
    first = tapi.post(path, body, idempotency_key=key)
    assert first.status_code == 201, first.text
    location = first.headers["Location"]
    assert location == expected.format(**first.json())
    replay = tapi.post(path, body, idempotency_key=key)
    assert replay.status_code == 201, replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.headers["Location"] == location
    read = tapi.get(location)
    assert read.status_code == 200, read.text


def test_a_location_percent_encodes_the_ids_it_carries(tapi: Api) -> None:
    response = tapi.post("/v1/freelancers/ada@example/connects/grants",
                         {"connects": 10, "reason": "welcome bonus"})
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == "/v1/freelancers/ada%40example/connects"
    assert tapi.get(response.headers["Location"]).json()["balance"] == 10


def test_a_refused_command_has_no_location(tapi: Api) -> None:
    response = tapi.post("/v1/contracts/no-such-contract/milestones",
                         {"title": "Logo", "amount": usd("500.00")})
    assert_problem(response, 404, "contract-not-found")
    assert "Location" not in response.headers


# --- ETag and If-None-Match ---------------------------------------------------------------------


def get(api: Api, path: str, **headers: str) -> httpx.Response:
    response: httpx.Response = api.client.get(path, headers={**bearer(READ_KEY), **headers})
    return response


def test_a_contract_read_is_304_until_a_command_changes_the_contract(api: Api) -> None:
    cid = api.open_contract()
    first = get(api, f"/v1/contracts/{cid}")
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag == '"1"'  # the contract's version, also what If-Match takes

    again = get(api, f"/v1/contracts/{cid}", **{"If-None-Match": etag,
                                                  "X-Request-Id": "cached-1"})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    assert again.headers["X-Request-Id"] == "cached-1"
    assert "content-type" not in again.headers

    api.add_milestone(cid, "500.00")
    changed = get(api, f"/v1/contracts/{cid}", **{"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] == '"2"'
    assert changed.json()["milestones"][0]["amount"] == usd("500.00")


def test_a_json_read_without_its_own_validator_gets_the_sha256_of_its_body(api: Api) -> None:
    path = "/v1/freelancers/freelancer-ada/connects"
    api.ok(f"{path}/grants", {"connects": 10, "reason": "welcome bonus"}, status=201)
    first = get(api, path)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag == '"' + hashlib.sha256(first.content).hexdigest()[:32] + '"'
    assert etag == strong_etag(first.content)

    for if_none_match in (etag, f"W/{etag}", f'"other", {etag}', f'W/"x", W/{etag}', "*"):
        cached = get(api, path, **{"If-None-Match": if_none_match})
        assert cached.status_code == 304, if_none_match
        assert cached.content == b""
        assert cached.headers["ETag"] == etag
    assert get(api, path, **{"If-None-Match": '"other"'}).status_code == 200

    api.ok(f"{path}/grants", {"connects": 5, "reason": "welcome bonus"}, status=201)
    moved = get(api, path, **{"If-None-Match": etag})
    assert moved.status_code == 200
    assert moved.json()["balance"] == 15
    assert moved.headers["ETag"] != etag


def test_problems_commands_and_html_get_no_etag_and_never_304(api: Api) -> None:
    missing = get(api, "/v1/contracts/no-such-contract", **{"If-None-Match": "*"})
    assert_problem(missing, 404, "contract-not-found")
    assert "ETag" not in missing.headers
    posted = api.post("/v1/contracts", {"kind": "fixed_price", "client_id": "client-acme",
                                        "freelancer_id": "freelancer-ada", "currency": "USD"})
    assert posted.status_code == 201
    assert "ETag" not in posted.headers
    docs = api.client.get("/docs", headers={"If-None-Match": "*"})
    assert docs.status_code == 200
    assert "ETag" not in docs.headers


@pytest.mark.parametrize(("if_none_match", "etag", "matched"), [
    ('"a"', '"a"', True),
    ('W/"a"', '"a"', True),
    ('"a"', 'W/"a"', True),
    ('"b", "a"', '"a"', True),
    ('"a,b"', '"a"', False),
    ('"a,b"', '"a,b"', True),
    ("*", '"anything"', True),
    ('"A"', '"a"', False),
    ("a", '"a"', False),
    ("", '"a"', False),
])
def test_if_none_match_is_compared_weakly_as_rfc_9110_says(
        if_none_match: str, etag: str, matched: bool) -> None:
    assert matches(if_none_match, etag) is matched


# --- the trial balance as of a moment -----------------------------------------------------------


def trial_balance(api: Api, **params: str) -> httpx.Response:
    response: httpx.Response = api.client.get(
        "/v1/finance/trial-balance", headers=bearer(FINANCE_KEY), params=params)
    return response


def test_the_trial_balance_honours_as_of(tapi: Api) -> None:
    cid, mid = tapi.funded_milestone("500.00")  # 2026-03-02 09:00
    advance(tapi, "2026-03-03T09:00:00Z")
    tapi.ok(tapi.milestone_path(cid, mid, "approve"), {})  # 2026-03-03 09:00

    before = trial_balance(tapi, as_of="2026-03-02T08:59:59Z").json()
    assert (before["as_of"], before["balanced"]) == ("2026-03-02T08:59:59+00:00", True)
    assert (before["currencies"], before["totals"]) == ([], [])

    funded = trial_balance(tapi, as_of="2026-03-02T10:00:00+01:00").json()  # 09:00 UTC
    assert funded["currencies"] == [{"currency": "USD", "net": "0.00"}]
    assert funded["totals"] == [{"currency": "USD", "debits": "534.95", "credits": "534.95"}]
    assert funded["balanced"] is True

    released = trial_balance(tapi, as_of="2026-03-03T09:00:00Z").json()
    assert released["totals"] == [{"currency": "USD", "debits": "1044.90",
                                   "credits": "1044.90"}]
    everything = trial_balance(tapi).json()
    assert everything["as_of"] is None
    assert everything["totals"] == released["totals"]
    assert everything["position"] == tapi.ledger.position()


@pytest.mark.parametrize("as_of", ["2026-03-02T09:00:00", "2026-03-02", "yesterday"])
def test_a_trial_balance_as_of_a_time_without_a_zone_is_422(tapi: Api, as_of: str) -> None:
    tapi.funded_milestone("500.00")
    assert_problem(trial_balance(tapi, as_of=as_of), 422, "invalid-input")


# --- /docs offline ------------------------------------------------------------------------------

_REFERENCE = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_reference_no_asset_from_elsewhere_and_each_asset_is_served(
        api: Api, page: str) -> None:
    html = api.client.get(page)
    assert html.status_code == 200
    assert "text/html" in html.headers["content-type"]
    assert "http://" not in html.text
    assert "https://" not in html.text
    assert "cdn.jsdelivr.net" not in html.text
    references = [a or b for a, b in _REFERENCE.findall(html.text)]
    assert "/openapi.json" in references
    assert len(references) >= 3, references  # the script, the favicon, the specification
    for reference in references:
        assert reference.startswith("/"), reference
        assert not reference.startswith("//"), reference
        asset = api.client.get(reference)
        assert asset.status_code == 200, reference
        assert asset.content


def test_swagger_ui_is_a_version_that_renders_openapi_3_1(api: Api) -> None:
    assert api.client.get("/openapi.json").json()["openapi"].startswith("3.1")
    bundle = api.client.get("/docs/assets/swagger-ui-bundle.js").text
    assert re.search(r'"5\.\d+\.\d+"', bundle)


# --- the demo's ids on every start, and make run PORT= --------------------------------------------


def test_a_restart_on_a_seeded_store_prints_the_demos_ids_again(
        database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from entrypoints.cli import prepare_ledger
    from ledger.settings import Settings

    first = prepare_ledger(Settings(database_url=database_url), demo=True)
    seeded = capsys.readouterr().out
    position = first.position()
    first.close()
    again = prepare_ledger(Settings(database_url=database_url), demo=True)
    restarted = capsys.readouterr().out
    assert again.position() == position, "a restart seeds nothing"
    again.close()

    contracts = re.findall(r"demo: contract (\S+) ", seeded)
    dispute = re.findall(r"demo: dispute (dsp_\S+):", seeded)
    assert len(contracts) == 3
    assert len(dispute) == 1
    assert f"demo: log already holds {position} events: demo not seeded" in restarted
    assert re.findall(r"demo: contract (\S+) ", restarted) == contracts
    assert re.findall(r"demo: dispute (dsp_\S+):", restarted) == dispute
    assert (f"demo: contract {contracts[0]} (client-acme, freelancer-ada, seeded with "
            f"$500.00 released and $300.00 funded): GET /v1/contracts/{contracts[0]}"
            ) in restarted
    assert ("demo: freelancers freelancer-ada, freelancer-bo, freelancer-cy: "
            "GET /v1/freelancers/<id>/balances") in restarted
    assert f"demo: dispute {dispute[0]}: GET /v1/disputes/{dispute[0]}" in restarted


def test_a_store_the_demo_never_seeded_says_so(app: EscrowLedger) -> None:
    from entrypoints.demo import demo_ids

    app.open_contract(client_id="c1", freelancer_id="f1", currency="USD", actor="t")
    assert demo_ids(app) == ["no demo in this store (it was not seeded by the demo)"]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize(("args", "env", "port"), [
    (["PORT=8001"], {}, "8001"),
    ([], {}, "8000"),
    ([], {"LEDGER_PORT": "8123"}, "8123"),
])
def test_make_run_passes_the_port(args: list[str], env: dict[str, str], port: str) -> None:
    # a parent make (``make test``) would pass its flags and levels down: start clean
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("PORT", "LEDGER_PORT", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    dry = subprocess.run(["make", "--no-print-directory", "-n", "run", *args], cwd=ROOT,
                         capture_output=True,
                         text=True, env={**environment, **env}, check=True)
    assert dry.stdout.splitlines()[-1].endswith(f"ledger serve --demo --port {port}")


def test_the_settings_default_port_is_the_makefiles() -> None:
    from ledger.settings import Settings

    assert Settings.model_fields["port"].default == 8000
    assert "PORT ?= $(or $(LEDGER_PORT),8000)" in (ROOT / "Makefile").read_text()


# --- a real server: the access log shows the request id -----------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = _free_port()
    env = {**os.environ, "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
           "LEDGER_API_KEYS": ",".join(f"{k}:{'+'.join(sorted(v))}"
                                       for k, v in API_KEYS.items())}
    server = subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(port),
         "--no-scheduler"], cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/v1/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_servers_access_log_shows_each_requests_id(
        served: tuple[str, subprocess.Popen[str]]) -> None:
    """By default every line is one JSON object; a request's line carries its request id, the
    command, its outcome and the log position, and never the key or the body."""
    base, server = served
    answer = httpx.get(f"{base}/v1/health", headers={"X-Request-Id": "probe-42"}, timeout=5)
    assert answer.headers["X-Request-Id"] == "probe-42"
    missing = httpx.get(f"{base}/v1/contracts/x", headers={"X-Request-Id": "probe-43",
                                                             **bearer(READ_KEY)}, timeout=5)
    assert missing.status_code == 404
    body = {"kind": "fixed_price", "client_id": "client-secretive", "freelancer_id": "f1",
            "currency": "USD"}
    opened = httpx.post(f"{base}/v1/contracts", json=body, timeout=5, headers={
        "X-Request-Id": "probe-44", "Idempotency-Key": "log-1", **bearer(COMMANDS_KEY)})
    assert opened.status_code == 201, opened.text
    server.terminate()
    output, _ = server.communicate(timeout=10)
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert lines, output
    access = {line["request_id"]: line for line in lines
              if line["logger"] == "escrow_ledger.access"}
    assert (access["probe-42"]["path"], access["probe-42"]["status"]) == ("/v1/health", 200)
    assert (access["probe-43"]["path"], access["probe-43"]["status"]) == ("/v1/contracts/x", 404)
    command = access["probe-44"]
    assert (command["command"], command["outcome"], command["status"]) == (
        "open_contract", "accepted", 201)
    assert command["position"] == opened.json()["position"]
    assert COMMANDS_KEY not in output
    assert "client-secretive" not in output  # bodies are never logged
