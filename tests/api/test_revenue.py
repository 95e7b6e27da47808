"""`GET /v1/revenue`: revenue per fee kind per day and the deferred balances, for finance.

A $1,000.00 milestone funded by card on 2026-03-02 posts $50.00 marketplace fee
revenue and defers a $9.95 initiation fee; approved on 2026-03-05 it posts
$100.00 service fee and recognises the $9.95.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.clock import FakeClock
from tests.api.conftest import COMMANDS_KEY, FINANCE_KEY, READ_KEY, Api, assert_problem

REVENUE = "/v1/revenue"


def line(kind: str, gross: str, reversed_: str = "0.00", net: str | None = None,
         **extra: str) -> dict[str, str]:
    return {**extra, "kind": kind, "currency": "USD", "gross": gross, "reversed": reversed_,
            "net": gross if net is None else net}


def revenue(api: Api, first: str, last: str, **params: Any) -> dict[str, Any]:
    response = api.get(REVENUE, key=FINANCE_KEY, params={"from": first, "to": last, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def fund_and_approve(api: Api, clock: FakeClock) -> int:
    cid, mid = api.funded_milestone("1000.00")
    clock.set(datetime(2026, 3, 5, 9, tzinfo=UTC))
    return int(api.ok(api.milestone_path(cid, mid, "approve"))["position"])


def test_the_worked_figures_per_period(api: Api, clock: FakeClock) -> None:
    position = fund_and_approve(api, clock)

    first = revenue(api, "2026-03-02", "2026-03-02", min_position=position)
    assert first == {
        "from": "2026-03-02", "to": "2026-03-02",
        "fees": [line("marketplace_fee", "50.00")],
        "days": [line("marketplace_fee", "50.00", day="2026-03-02")],
        "totals": [{"currency": "USD", "gross": "50.00", "reversed": "0.00", "net": "50.00"}],
        "deferred": [{"kind": "initiation_fee", "currency": "USD", "opening": "0.00",
                      "added": "9.95", "released": "0.00", "closing": "9.95"}],
        "position": position,
    }

    whole = revenue(api, "2026-03-02", "2026-03-05")
    assert whole["fees"] == [line("initiation_fee", "9.95"), line("marketplace_fee", "50.00"),
                             line("service_fee", "100.00")]
    assert whole["totals"] == [{"currency": "USD", "gross": "159.95", "reversed": "0.00",
                                "net": "159.95"}]
    assert whole["deferred"] == [{"kind": "initiation_fee", "currency": "USD",
                                  "opening": "0.00", "added": "9.95", "released": "9.95",
                                  "closing": "0.00"}]
    assert [d["day"] for d in whole["days"]] == ["2026-03-02", "2026-03-05", "2026-03-05"]


def test_a_refunded_contract_reverses_its_marketplace_fee(api: Api) -> None:
    cid, _ = api.funded_milestone("1000.00")
    ended = api.ok(f"/v1/contracts/{cid}/end", {"by": "client", "pay": "none"})
    api.ok(f"/v1/contracts/{cid}/refund-requests/{ended['refund_request_id']}/approve")
    body = revenue(api, "2026-03-02", "2026-03-02")
    assert body["fees"] == [line("marketplace_fee", "50.00", "50.00", "0.00")]
    assert body["deferred"][0]["closing"] == "0.00"


@pytest.mark.parametrize(("params", "slug"), [
    ({"from": "2026-03-05", "to": "2026-03-04"}, "invalid-period"),
    ({"from": "2026-01-01", "to": "2027-01-02"}, "invalid-period"),  # 367 days
    ({"from": "2026-03-02"}, "invalid-input"),
    ({"to": "2026-03-02"}, "invalid-input"),
    ({"from": "2026-02-30", "to": "2026-03-02"}, "invalid-input"),
    ({"from": "yesterday", "to": "2026-03-02"}, "invalid-input"),
])
def test_a_bad_period_is_422(api: Api, params: dict[str, str], slug: str) -> None:
    api.funded_milestone("1000.00")
    before = api.ledger.position()
    assert_problem(api.get(REVENUE, key=FINANCE_KEY, params=params), 422, slug)
    assert api.ledger.position() == before


def test_a_leap_year_is_one_report(api: Api) -> None:
    body = revenue(api, "2024-01-01", "2024-12-31")
    assert (body["fees"], body["deferred"], body["position"]) == ([], [], 0)


def test_revenue_needs_the_finance_scope(api: Api) -> None:
    params = {"from": "2026-03-02", "to": "2026-03-02"}
    assert_problem(api.get(REVENUE, key=None, params=params), 401, "unauthorized")
    for key in (READ_KEY, COMMANDS_KEY):
        assert_problem(api.get(REVENUE, key=key, params=params), 403, "insufficient-scope")


def test_min_position_beyond_the_log_is_refused(api: Api) -> None:
    api.open_contract()
    ahead = api.ledger.position() + 3
    response = api.get(REVENUE, key=FINANCE_KEY,
                       params={"from": "2026-03-02", "to": "2026-03-02", "min_position": ahead})
    assert_problem(response, 422, "position-not-in-log")


def test_the_report_is_documented(api: Api) -> None:
    operation = api.get("/openapi.json").json()["paths"][REVENUE]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"from", "to", "min_position"}
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/RevenueReportOut")
