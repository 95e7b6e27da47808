"""The lists over HTTP: contracts of a client or freelancer, milestones and payments of a contract.

Cursor-paginated, newest first, filterable by state; every answer reports the
position it reflects and honours `min_position`. A $1,000.00 milestone funded
by card in March 2026 is charged $50.00 marketplace fee and $9.95 initiation fee.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, get_args

import pytest
from fastapi import FastAPI

from api.list_models import ContractState, MilestoneState, PaymentState
from ledger.clock import FakeClock
from projections.contract_lists import CONTRACT_STATES, MILESTONE_STATES, PAYMENT_STATES
from tests.api.conftest import (
    COMMANDS_KEY,
    FINANCE_KEY,
    READ_KEY,
    Api,
    assert_problem,
    usd,
)

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def walk(api: Api, path: str, **params: Any) -> tuple[list[dict[str, Any]], list[int]]:
    """Every row of a list and the size of each page."""
    rows, sizes, cursor = [], [], None
    while True:
        response = api.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["position"] == api.ledger.position()
        name = next(k for k in body if k not in ("next_cursor", "position"))
        rows += body[name]
        sizes.append(len(body[name]))
        cursor = body["next_cursor"]
        if cursor is None:
            return rows, sizes


def seven_contracts(api: Api, clock: FakeClock) -> list[str]:
    """Newest first: seven contracts of client-acme with freelancer-ada, a minute apart."""
    cids = []
    for _ in range(7):
        clock.advance(timedelta(minutes=1))
        cids.append(api.open_contract())
    return cids[::-1]


def test_the_states_offered_are_the_lists_states() -> None:
    assert get_args(ContractState) == CONTRACT_STATES
    assert get_args(MilestoneState) == MILESTONE_STATES
    assert get_args(PaymentState) == PAYMENT_STATES


def test_seven_contracts_page_3_3_1_newest_first(api: Api, clock: FakeClock) -> None:
    expected = seven_contracts(api, clock)
    for path in ("/v1/clients/client-acme/contracts",
                 "/v1/freelancers/freelancer-ada/contracts"):
        rows, sizes = walk(api, path, limit=3)
        assert sizes == [3, 3, 1]
        assert [r["contract_id"] for r in rows] == expected
    first = rows[-1]
    assert first == {
        "contract_id": expected[-1], "kind": "fixed_price", "client_id": "client-acme",
        "freelancer_id": "freelancer-ada", "job_id": None, "title": None, "currency": "USD",
        "state": "active", "opened_at": "2026-03-02T09:01:00+00:00",
        "updated_at": "2026-03-02T09:01:00+00:00", "ended_at": None,
    }
    assert walk(api, "/v1/clients/nobody/contracts") == ([], [0])


def test_contracts_filter_by_state(api: Api, clock: FakeClock) -> None:
    cids = seven_contracts(api, clock)
    for cid in cids[:2]:
        api.ok(f"/v1/contracts/{cid}/end", {"by": "freelancer"})
    ended, sizes = walk(api, "/v1/clients/client-acme/contracts", state="ended", limit=1)
    assert [r["contract_id"] for r in ended] == cids[:2]
    assert sizes == [1, 1]
    assert {r["state"] for r in ended} == {"ended"}
    active, _ = walk(api, "/v1/freelancers/freelancer-ada/contracts", state="active")
    assert [r["contract_id"] for r in active] == cids[2:]
    assert walk(api, "/v1/clients/client-acme/contracts", state="ending")[0] == []


def test_milestones_and_payments_of_a_contract(api: Api, clock: FakeClock) -> None:
    cid = api.open_contract()
    mids = []
    for amount in ("1000.00", "200.00", "300.00"):
        clock.advance(timedelta(minutes=1))
        mids.append(api.add_milestone(cid, amount))
    funded = api.ok(api.milestone_path(cid, mids[0], "fund"))
    api.ok(api.milestone_path(cid, mids[0], "approve"))
    api.ok(api.milestone_path(cid, mids[1], "fund"))

    milestones, sizes = walk(api, f"/v1/contracts/{cid}/milestones", limit=2)
    assert sizes == [2, 1]
    assert [(r["milestone_id"], r["state"], r["amount"], r["escrow"]) for r in milestones] == [
        (mids[2], "created", usd("300.00"), usd("0.00")),
        (mids[1], "funded", usd("200.00"), usd("200.00")),
        (mids[0], "released", usd("1000.00"), usd("0.00")),
    ]
    released, _ = walk(api, f"/v1/contracts/{cid}/milestones", state="released")
    assert [r["milestone_id"] for r in released] == [mids[0]]

    payments, _ = walk(api, f"/v1/contracts/{cid}/payments")
    assert [p["payment_id"] for p in payments][-1] == funded["payment_id"]
    assert payments[-1] == {
        "payment_id": funded["payment_id"], "contract_id": cid, "kind": "escrow_funding",
        "subject": mids[0], "amount": usd("1000.00"), "marketplace_fee": usd("50.00"),
        "initiation_fee": usd("9.95"), "total_charged": usd("1059.95"),
        "refunded": usd("0.00"), "payment_method": "card", "state": "charged",
        "chargeback_id": None, "chargeback_status": None,
        "charged_at": "2026-03-02T09:03:00+00:00", "updated_at": "2026-03-02T09:03:00+00:00",
    }
    assert (payments[0]["amount"], payments[0]["marketplace_fee"],
            payments[0]["initiation_fee"]) == (usd("200.00"), usd("10.00"), usd("0.00"))

    cb = api.ok(f"/v1/payments/{funded['payment_id']}/chargebacks", {"reason": "fraud"},
                status=201)
    [charged_back], _ = walk(api, f"/v1/contracts/{cid}/payments", state="charged_back")
    assert (charged_back["payment_id"], charged_back["chargeback_id"],
            charged_back["chargeback_status"]) == (funded["payment_id"], cb["chargeback_id"],
                                                   "open")
    assert walk(api, f"/v1/contracts/{cid}/payments", state="refunded")[0] == []


def test_a_refund_shows_on_the_payment(api: Api) -> None:
    cid, mid = api.funded_milestone("1000.00")
    ended = api.ok(f"/v1/contracts/{cid}/end", {"by": "client", "pay": "none"})
    [ending], _ = walk(api, "/v1/clients/client-acme/contracts")
    assert ending["state"] == "ending"
    api.ok(f"/v1/contracts/{cid}/refund-requests/{ended['refund_request_id']}/approve")
    [payment], _ = walk(api, f"/v1/contracts/{cid}/payments")
    assert (payment["refunded"], payment["state"]) == (usd("1000.00"), "refunded")
    [milestone], _ = walk(api, f"/v1/contracts/{cid}/milestones")
    assert (milestone["milestone_id"], milestone["state"]) == (mid, "refunded")
    [contract], _ = walk(api, "/v1/freelancers/freelancer-ada/contracts", state="ended")
    assert contract["ended_at"] == "2026-03-02T09:00:00+00:00"


# ---- freshness ------------------------------------------------------------------------------


def test_min_position_is_honoured_and_reported(api: Api) -> None:
    cid = api.open_contract()
    position = api.ledger.position()
    for path in ("/v1/clients/client-acme/contracts", f"/v1/contracts/{cid}/milestones",
                 f"/v1/contracts/{cid}/payments"):
        response = api.get(path, params={"min_position": position})
        assert response.status_code == 200, response.text
        assert response.json()["position"] >= position
        assert_problem(api.get(path, params={"min_position": position + 5}), 422,
                       "position-not-in-log")


def test_a_lagging_view_answers_what_it_holds_or_503_when_asked_for_more(
        api: Api, web: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    projector = web.state.services.projector
    monkeypatch.setattr(projector, "catch_up", projector.position)  # a projector that lags
    cid = api.open_contract()
    # the contract is in the log, not yet in the view: an empty page, not a 404
    body = api.get(f"/v1/contracts/{cid}/milestones").json()
    assert body == {"milestones": [], "next_cursor": None, "position": 0}
    assert api.get("/v1/clients/client-acme/contracts").json()["contracts"] == []
    response = api.get(f"/v1/contracts/{cid}/payments",
                       params={"min_position": api.ledger.position()})
    assert_problem(response, 503, "projection-behind")
    assert_problem(api.get(f"/v1/contracts/{UNKNOWN}/payments"), 404, "contract-not-found")


# ---- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [f"/v1/contracts/{UNKNOWN}/milestones",
                                  f"/v1/contracts/{UNKNOWN}/payments",
                                  "/v1/contracts/not-a-uuid/payments"])
def test_an_unknown_contract_is_404(api: Api, path: str) -> None:
    api.open_contract()
    assert_problem(api.get(path), 404, "contract-not-found")


@pytest.mark.parametrize(("params", "slug"), [
    ({"limit": 0}, "invalid-input"),
    ({"limit": 201}, "invalid-input"),
    ({"limit": "ten"}, "invalid-input"),
    ({"state": "paused"}, "invalid-input"),
    ({"cursor": "not-a-cursor"}, "invalid-cursor"),
    ({"cursor": "WyJ4IiwxXQ"}, "invalid-cursor"),  # ["x",1]: a key of the wrong shape
])
def test_bad_limits_states_and_cursors_are_422(api: Api, params: dict[str, Any],
                                                slug: str) -> None:
    cid = api.open_contract()
    before = api.ledger.position()
    for path in ("/v1/clients/client-acme/contracts",
                 "/v1/freelancers/freelancer-ada/contracts",
                 f"/v1/contracts/{cid}/milestones", f"/v1/contracts/{cid}/payments"):
        assert_problem(api.get(path, params=params), 422, slug)
    assert api.ledger.position() == before


def test_a_milestone_state_is_not_a_payment_state(api: Api) -> None:
    cid = api.open_contract()
    assert_problem(api.get(f"/v1/contracts/{cid}/payments", params={"state": "funded"}), 422,
                   "invalid-input")
    assert api.get(f"/v1/contracts/{cid}/milestones", params={"state": "funded"}).json()[
        "milestones"] == []


def test_lists_need_the_read_scope(api: Api) -> None:
    cid = api.open_contract()
    for path in ("/v1/clients/client-acme/contracts", f"/v1/contracts/{cid}/payments"):
        assert_problem(api.get(path, key=None), 401, "unauthorized")
        assert_problem(api.get(path, key=FINANCE_KEY), 403, "insufficient-scope")
        assert api.get(path, key=COMMANDS_KEY).status_code == 200
        assert api.get(path, key=READ_KEY).status_code == 200


def test_the_lists_are_documented(api: Api) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/v1/clients/{client_id}/contracts", "/v1/freelancers/{freelancer_id}/contracts",
                 "/v1/contracts/{contract_id}/milestones", "/v1/contracts/{contract_id}/payments"):
        params = {p["name"] for p in paths[path]["get"]["parameters"]}
        assert {"state", "limit", "cursor", "min_position"} <= params
