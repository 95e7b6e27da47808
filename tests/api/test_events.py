"""The event feed over HTTP (``audit`` scope), on both stores.

The log is the demo (``seed_demo``: three fixed-price contracts, a release, an
ending, a refund and a dispute), written straight to the ledger the API serves.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from domain.balances.freelancer_balance import FreelancerBalance
from entrypoints.audit_export import export
from entrypoints.demo import seed_demo
from ledger.idempotency import CommandRecord
from tests.api.conftest import AUDIT_KEY, COMMANDS_KEY, READ_KEY, Api, assert_problem

EVENTS = "/v1/events"


def feed(api: Api, **params: Any) -> dict[str, Any]:
    response = api.get(EVENTS, key=AUDIT_KEY, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    data: dict[str, Any] = response.json()
    return data


def demo(api: Api) -> str:
    """Seeds the demo; its first contract's id."""
    seed_demo(api.ledger)
    record = api.ledger.find(CommandRecord, CommandRecord.id_for("demo:open"))
    assert record is not None
    return str(record.response["contract_id"])


def walk(api: Api, limit: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = 0
    while True:
        page = feed(api, after=after, limit=limit)
        assert page["position"] == api.ledger.position()
        if not page["events"]:
            assert page["next_after"] == after == page["position"]
            return out
        assert len(page["events"]) <= limit
        assert page["next_after"] == page["events"][-1]["position"]
        out.extend(page["events"])
        after = page["next_after"]


def test_after_paging_walks_the_whole_log_without_gaps_or_repeats(api: Api) -> None:
    demo(api)
    head = api.ledger.position()
    events = walk(api, 7)
    assert [e["position"] for e in events] == list(range(1, head + 1))
    assert events == feed(api, limit=1000)["events"]
    first = events[0]
    assert set(first) == {"position", "type", "name", "aggregate_id", "aggregate_version",
                          "effective_at", "recorded_at", "actor", "memo", "postings", "data",
                          "chain_link"}
    assert (first["type"], first["name"]) == (
        "domain.contracts.fixed_price:FixedPriceContract.Opened", "FixedPriceContract.Opened")


def test_a_page_defaults_to_100_events_from_the_start(api: Api) -> None:
    demo(api)
    page = feed(api)
    assert len(page["events"]) == min(100, api.ledger.position())
    assert page["events"][0]["position"] == 1


def test_the_export_equals_the_feeds_pages(api: Api, tmp_path: Path) -> None:
    demo(api)
    path = tmp_path / "log.jsonl"
    assert export(api.ledger, path) == api.ledger.position()
    exported = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert exported == walk(api, 7)


def test_a_contracts_events_come_in_version_order(api: Api) -> None:
    contract = demo(api)
    response = api.get(f"/v1/contracts/{contract}/events", key=AUDIT_KEY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["contract_id"], body["position"]) == (contract, api.ledger.position())
    events = body["events"]
    assert [e["aggregate_version"] for e in events] == list(range(1, len(events) + 1))
    positions = [e["position"] for e in events]
    assert positions == sorted(positions)
    by_position = {e["position"]: e for e in walk(api, 1000)}
    assert events == [by_position[p] for p in positions]
    funded = events[3]
    assert funded["name"] == "FixedPriceContract.MilestoneFunded"
    first = funded["postings"][0]
    assert (first["account"], first["side"], first["amount"]) == (
        "processor:clearing", "debit", "534.95")


def test_a_freelancers_events_are_its_balance_in_log_order(api: Api) -> None:
    demo(api)
    response = api.get("/v1/freelancers/freelancer-ada/events", key=AUDIT_KEY)
    assert response.status_code == 200, response.text
    events = response.json()["events"]
    balance = str(FreelancerBalance.id_for("freelancer-ada"))
    assert [e["position"] for e in events] == sorted(e["position"] for e in events)
    assert {e["aggregate_id"] for e in events} == {balance}
    assert [e["name"] for e in events] == ["FreelancerBalance.Registered",
                                           "FreelancerBalance.EarningsPending"]
    assert events[1]["data"]["lot"]["amount"] == "450.00"


def test_unknown_contracts_and_freelancers_are_404(api: Api) -> None:
    demo(api)
    before = api.ledger.position()
    for unknown in ("not-a-uuid", "00000000-0000-0000-0000-000000000001",
                    str(FreelancerBalance.id_for("freelancer-ada"))):
        assert_problem(api.get(f"/v1/contracts/{unknown}/events", key=AUDIT_KEY),
                       404, "contract-not-found")
    assert_problem(api.get("/v1/freelancers/freelancer-nobody/events", key=AUDIT_KEY),
                   404, "freelancer-not-found")
    assert api.ledger.position() == before


@pytest.mark.parametrize("path", [EVENTS, "/v1/contracts/{cid}/events",
                                  "/v1/freelancers/freelancer-ada/events"])
def test_the_feed_needs_the_audit_scope(api: Api, path: str) -> None:
    contract = demo(api)
    path = path.format(cid=contract)
    assert_problem(api.get(path, key=None), 401, "unauthorized")
    assert_problem(api.get(path, key=READ_KEY), 403, "insufficient-scope")
    assert_problem(api.get(path, key=COMMANDS_KEY), 403, "insufficient-scope")
    assert api.get(path, key=AUDIT_KEY).status_code == 200


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 1001}, {"limit": "ten"}, {"after": -1}, {"after": "x"},
    {"after": 1.5}, {"wait": -1}, {"wait": 31}, {"wait": "soon"},
])
def test_bad_limit_after_or_wait_is_422(api: Api, params: dict[str, Any]) -> None:
    demo(api)
    before = api.ledger.position()
    assert_problem(api.get(EVENTS, key=AUDIT_KEY, params=params), 422, "invalid-input")
    assert api.ledger.position() == before


def test_after_beyond_the_log_is_422(api: Api) -> None:
    demo(api)
    head = api.ledger.position()
    assert feed(api, after=head) == {"events": [], "next_after": head, "position": head}
    body = assert_problem(api.get(EVENTS, key=AUDIT_KEY, params={"after": head + 1}),
                          422, "position-not-in-log")
    assert str(head) in body["detail"]


def test_waiting_on_an_empty_tail_answers_empty_after_the_wait(api: Api) -> None:
    demo(api)
    head = api.ledger.position()
    started = time.monotonic()
    assert feed(api, after=head, wait=1) == {"events": [], "next_after": head, "position": head}
    assert 0.95 <= time.monotonic() - started < 2.0


def test_waiting_answers_as_soon_as_another_thread_writes(api: Api) -> None:
    demo(api)
    head = api.ledger.position()

    def write_later() -> None:
        time.sleep(0.2)
        api.ledger.open_contract(client_id="client-new", freelancer_id="freelancer-new",
                                 currency="USD", actor="t")

    writer = threading.Thread(target=write_later)
    started = time.monotonic()
    writer.start()
    page = feed(api, after=head, wait=10)
    elapsed = time.monotonic() - started
    writer.join()
    assert 0.15 <= elapsed < 1.5
    assert page["events"][0]["position"] == head + 1
    assert page["events"][0]["name"] == "FixedPriceContract.Opened"
    assert page["next_after"] == page["events"][-1]["position"]
    assert page["position"] >= page["next_after"]


def test_waiting_followers_hold_no_worker_thread(api: Api) -> None:
    """More followers than the server's 40 worker threads wait at once, and a plain read
    still answers at once: a waiting page sleeps on the event loop, not in a thread."""
    contract = demo(api)
    head = api.ledger.position()
    answers: list[dict[str, Any]] = []

    def follow() -> None:
        answers.append(feed(api, after=head, wait=2))

    followers = [threading.Thread(target=follow) for _ in range(45)]
    for f in followers:
        f.start()
    time.sleep(0.3)
    started = time.monotonic()
    response = api.get(f"/v1/contracts/{contract}/events", key=AUDIT_KEY)
    assert response.status_code == 200, response.text
    assert time.monotonic() - started < 1.0
    for f in followers:
        f.join()
    assert answers == [{"events": [], "next_after": head, "position": head}] * 45


def test_the_feed_is_documented_in_openapi(api: Api) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    for path in (EVENTS, "/v1/contracts/{contract_id}/events",
                 "/v1/freelancers/{freelancer_id}/events"):
        assert "get" in paths[path], path
    parameters = {p["name"]: p for p in paths[EVENTS]["get"]["parameters"]}
    assert parameters["limit"]["schema"]["maximum"] == 1000
    assert parameters["wait"]["schema"]["maximum"] == 30
