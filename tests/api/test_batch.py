"""``POST /v1/batch``: many commands in one transaction, all or nothing, each with its key.

Figures (2026, per-contract era, 10% service fee, card): a $500.00 milestone funded
charges the client 534.95 (500.00 + 5% marketplace fee 25.00 + 9.95 initiation fee);
approved, 450.00 is pending for the freelancer.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.conftest import Api, assert_problem

CLEARING = "processor:clearing"
PENDING = "freelancer:freelancer-ada:pending"


def item(path: str, body: dict[str, Any] | None = None, key: str | None = None,
         **extra: Any) -> dict[str, Any]:
    return {"path": path, "body": body or {}, "idempotency_key": key or str(uuid.uuid4()),
            **extra}


def two_contracts(api: Api) -> list[tuple[str, str]]:
    made = []
    for _ in range(2):
        cid = api.open_contract()
        made.append((cid, api.add_milestone(cid)))
    return made


def steps(api: Api, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Fund both milestones, then submit and approve the first: four commands."""
    (c1, m1), (c2, m2) = pairs
    return [item(api.milestone_path(c1, m1, "fund")), item(api.milestone_path(c2, m2, "fund")),
            item(api.milestone_path(c1, m1, "submit")),
            item(api.milestone_path(c1, m1, "approve"))]


def test_a_batch_applies_every_command_in_one_transaction(api: Api) -> None:
    pairs = two_contracts(api)
    before = api.ledger.position()
    response = api.post("/v1/batch", {"items": steps(api, pairs)}, idempotency_key=None)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["position"] == api.ledger.position() > before
    assert [i["status"] for i in body["items"]] == [200, 200, 200, 200]
    positions = [i["body"]["position"] for i in body["items"]]
    assert positions == sorted(positions)
    assert before < positions[0]
    assert positions[-1] == body["position"]
    assert body["items"][3]["body"]["net"] == {"amount": "450.00", "currency": "USD"}
    # later items decided on what earlier ones did: the approval saw the funding
    assert body["items"][3]["body"]["contract_version"] > body["items"][0]["body"][
        "contract_version"]
    assert api.net(CLEARING) == "1069.90"
    assert api.net(PENDING) == "450.00"


def test_the_same_batch_again_answers_every_item_as_first_and_writes_nothing(api: Api) -> None:
    items = steps(api, two_contracts(api))
    first = api.post("/v1/batch", {"items": items}, idempotency_key=None).json()
    position = api.ledger.position()
    again = api.post("/v1/batch", {"items": items}, idempotency_key=None)
    assert again.status_code == 200, again.text
    assert api.ledger.position() == position
    assert [i["replayed"] for i in again.json()["items"]] == [True] * 4
    assert [i["body"] for i in again.json()["items"]] == [i["body"] for i in first["items"]]
    assert api.net(CLEARING) == "1069.90"


def test_one_refused_item_refuses_the_whole_batch_and_nothing_is_written(api: Api) -> None:
    (c1, m1), (c2, m2) = two_contracts(api)
    before = api.ledger.position()
    response = api.post("/v1/batch", {"items": [
        item(api.milestone_path(c1, m1, "fund")),
        item(api.milestone_path(c2, m2, "approve")),  # never funded
    ]}, idempotency_key=None)
    problem = assert_problem(response, 409, "milestone-not-funded")
    assert problem["batch_index"] == 1
    assert problem["batch_path"] == api.milestone_path(c2, m2, "approve")
    assert "nothing in the batch was written" in problem["detail"]
    assert api.ledger.position() == before
    assert api.net(CLEARING) is None
    # the refused batch left no key behind: the first item alone still funds
    assert api.post(api.milestone_path(c1, m1, "fund")).status_code == 200
    assert api.net(CLEARING) == "534.95"


def test_a_key_used_twice_in_one_batch_for_different_commands_is_refused(api: Api) -> None:
    (c1, m1), (c2, m2) = two_contracts(api)
    before = api.ledger.position()
    response = api.post("/v1/batch", {"items": [
        item(api.milestone_path(c1, m1, "fund"), key="k-1"),
        item(api.milestone_path(c2, m2, "fund"), key="k-1"),
    ]}, idempotency_key=None)
    assert assert_problem(response, 409, "idempotency-key-reused")["batch_index"] == 1
    assert api.ledger.position() == before


def test_each_item_is_checked_by_its_own_route(api: Api) -> None:
    cid, mid = two_contracts(api)[0]
    before = api.ledger.position()
    cases = [
        (item("/v1/contracts/00000000-0000-0000-0000-000000000000/milestones",
              {"title": "t", "amount": {"amount": "5.00", "currency": "USD"}}), 404),
        (item(f"/v1/contracts/{cid}/milestones", {"title": "t", "amount": 5}), 422),
        (item(api.milestone_path(cid, mid, "fund"), if_match="99"), 409),
        (item("/v1/accounts/processor:clearing/balance"), 405),
    ]
    for bad, status in cases:
        response = api.post("/v1/batch", {"items": [item(api.milestone_path(cid, mid, "fund")),
                                                    bad]}, idempotency_key=None)
        assert response.status_code == status, response.text
        assert response.json()["batch_index"] == 1
    assert api.ledger.position() == before


def test_malformed_batches_are_422_and_write_nothing(api: Api) -> None:
    cid, mid = two_contracts(api)[0]
    fund = item(api.milestone_path(cid, mid, "fund"))
    for body in ({"items": []}, {"items": [fund] * 1001}, {"items": [{**fund, "method": "GET"}]},
                 {"items": [{**fund, "path": "/v1/batch"}]},
                 {"items": [{**fund, "path": "https://elsewhere/v1/x"}]},
                 {"items": [fund], "atomic": False}):
        api.refused(422, "invalid-input", "/v1/batch", body, idempotency_key=None)


def test_a_batch_needs_the_commands_scope(api: Api) -> None:
    cid, mid = two_contracts(api)[0]
    response = api.post("/v1/batch", {"items": [item(api.milestone_path(cid, mid, "fund"))]},
                        key=None, idempotency_key=None)
    assert response.status_code == 401
