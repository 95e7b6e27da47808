"""``GET /metrics``: Prometheus text, scope ``audit``, with exact counts and gauges."""

from __future__ import annotations

import re
from datetime import timedelta

from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from tests.api.conftest import AUDIT_KEY, READ_KEY, Api, assert_problem


def scrape(api: Api) -> dict[str, float]:
    response = api.get("/metrics", key=AUDIT_KEY)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, float] = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def count(samples: dict[str, float], command: str, outcome: str) -> float:
    return samples.get(f'ledger_commands_total{{command="{command}",outcome="{outcome}"}}', 0.0)


def test_commands_are_counted_by_name_and_outcome(api: Api, app: EscrowLedger) -> None:
    before = scrape(api)
    cid = api.open_contract()
    api.add_milestone(cid, "500.00")
    refused = api.post(f"/v1/contracts/{cid}/milestones",
                       {"title": "m", "amount": {"amount": "4.99", "currency": "USD"}})
    assert refused.status_code == 422
    body = {"kind": "fixed_price", "client_id": "c9", "freelancer_id": "f9", "currency": "USD"}
    again = api.post("/v1/contracts", body, idempotency_key="m-1")
    replay = api.post("/v1/contracts", body, idempotency_key="m-1")
    assert (again.status_code, replay.headers["Idempotent-Replayed"]) == (201, "true")
    after = scrape(api)
    assert count(after, "open_contract", "accepted") - count(before, "open_contract",
                                                             "accepted") == 2
    assert count(after, "open_contract", "replayed") - count(before, "open_contract",
                                                             "replayed") == 1
    assert count(after, "add_milestone", "refused:milestone-below-minimum") - count(
        before, "add_milestone", "refused:milestone-below-minimum") == 1
    histogram = 'ledger_command_seconds_count{command="add_milestone"}'
    assert after[histogram] - before.get(histogram, 0.0) == 2
    assert after["ledger_log_position"] == app.position()
    lags = {k: v for k, v in after.items() if k.startswith("ledger_projection_lag_events")}
    assert set(lags) >= {'ledger_projection_lag_events{projection="journal"}'}
    assert all(re.fullmatch(r"[0-9.]+", str(v)) for v in lags.values())


def test_deadlines_due_and_overdue_follow_the_ledgers_clock(
        api: Api, clock: FakeClock) -> None:
    cid, mid = api.funded_milestone("500.00")
    api.ok(api.milestone_path(cid, mid, "submit"), {})
    assert scrape(api)["ledger_deadlines_due"] == 0
    clock.advance(timedelta(days=14, minutes=1))  # the 14-day approval is due, not yet late
    samples = scrape(api)
    assert (samples["ledger_deadlines_due"], samples["ledger_deadlines_overdue"]) == (1, 0)
    clock.advance(timedelta(minutes=10))
    assert scrape(api)["ledger_deadlines_overdue"] == 1


def test_metrics_need_the_audit_scope(api: Api) -> None:
    assert_problem(api.get("/metrics", key=READ_KEY), 403, "insufficient-scope")
    assert_problem(api.get("/metrics", key=None), 401, "unauthorized")
