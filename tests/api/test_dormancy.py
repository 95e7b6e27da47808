"""Dormant fixed-price contracts over HTTP, on both stores, driven by the test clock.

A $1,000.00 milestone funded by card at the clock's start, Monday 2 March 2026
09:00 UTC (charged 1,059.95: 5% marketplace fee $50.00, initiation fee $9.95;
10% service fee), then left alone: notices on day 76 (05-17) and day 83
(05-24); dormant on day 90 (05-31), when the client has 7 days (to 06-07); then
the freelancer has 7 days to request release (to 06-14); a request made 06-10
gives the client 14 days (to 06-24), whose silence releases the escrow. Figures
follow ``tests/integration/test_dormancy.py``.
"""

from __future__ import annotations

from typing import Any

from tests.api.conftest import AUDIT_KEY, FINANCE_KEY, Api, usd

ADVANCE = "/v1/test-clock/advance"
CLEARING = "processor:clearing"
PENDING = "freelancer:freelancer-ada:pending"
SERVICE_FEE = "revenue:service_fee"
MARKETPLACE_FEE = "revenue:marketplace_fee"
INITIATION_FEE = "revenue:initiation_fee"
FUNDED_AT = "2026-03-02T09:00:00+00:00"


# --- helpers --------------------------------------------------------------------------------------


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> str:
    return f"2026-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00+00:00"


def advance(api: Api, to: str) -> list[tuple[str, str]]:
    """Moves the test clock; answers what fired, as (kind, due)."""
    fired = api.ok(ADVANCE, {"to": to})["fired"]
    return [(f["kind"], f["due"]) for f in fired]


def view(api: Api, contract_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/contracts/{contract_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def dormancy(api: Api, contract_id: str) -> dict[str, Any]:
    found: dict[str, Any] = view(api, contract_id)["dormancy"]
    return found


def deadlines(api: Api, kind: str) -> list[tuple[str, str, str]]:
    response = api.get("/v1/deadlines", key=AUDIT_KEY, params={"kind": kind})
    assert response.status_code == 200, response.text
    return [(d["subject"], d["due"], d["status"]) for d in response.json()["deadlines"]]


def release_request_path(contract_id: str) -> str:
    return f"/v1/contracts/{contract_id}/dormancy/release-request"


def dormancy_dispute_path(contract_id: str) -> str:
    return f"/v1/contracts/{contract_id}/dormancy/dispute"


def balances(api: Api, *accounts: str) -> dict[str, str | None]:
    return {a: api.net(a) for a in accounts}


def assert_balanced(api: Api) -> None:
    response = api.get("/v1/finance/trial-balance", key=FINANCE_KEY)
    assert response.status_code == 200, response.text
    assert response.json()["balanced"] is True


def left_alone(api: Api) -> tuple[str, str]:
    """A $1,000.00 milestone funded at the clock's start: (contract, milestone)."""
    contract_id, milestone_id = api.funded_milestone("1000.00")
    assert dormancy(api, contract_id) == {"last_activity_at": FUNDED_AT, "notices": [],
                                          "stage": None, "due_at": None}
    return contract_id, milestone_id


def to_freelancer_to_request(api: Api) -> tuple[str, str]:
    """Dormant on 05-31, the client silent to 06-07: (contract, milestone)."""
    contract_id, milestone_id = left_alone(api)
    advance(api, at(6, 7))
    assert dormancy(api, contract_id)["stage"] == "freelancer_to_request"
    return contract_id, milestone_id


# --- the whole flow -------------------------------------------------------------------------------


def test_notices_then_dormant_then_the_freelancer_is_paid_when_the_client_stays_silent(
        tapi: Api) -> None:
    contract_id, milestone_id = left_alone(tapi)
    assert deadlines(tapi, "dormancy") == [(contract_id, at(5, 31), "pending")]
    assert deadlines(tapi, "dormancy_notice") == [
        (contract_id, at(5, 17), "pending"), (contract_id, at(5, 24), "pending")]

    # day 76
    assert advance(tapi, at(5, 17, 8, 59)) == []
    assert advance(tapi, at(5, 17)) == [("dormancy_notice", at(5, 17))]
    assert dormancy(tapi, contract_id) == {"last_activity_at": FUNDED_AT, "notices": [76],
                                           "stage": None, "due_at": None}
    # day 83
    assert advance(tapi, at(5, 24)) == [("dormancy_notice", at(5, 24))]
    assert dormancy(tapi, contract_id)["notices"] == [76, 83]
    # day 90: dormant, the client has 7 days
    assert advance(tapi, at(5, 31, 8, 59)) == []
    assert dormancy(tapi, contract_id)["stage"] is None
    assert advance(tapi, at(5, 31)) == [("dormancy", at(5, 31))]
    assert dormancy(tapi, contract_id) == {"last_activity_at": FUNDED_AT, "notices": [76, 83],
                                           "stage": "client_to_act", "due_at": at(6, 7)}
    assert deadlines(tapi, "dormancy") == []
    assert deadlines(tapi, "dormancy_client_action") == [(contract_id, at(6, 7), "pending")]
    # the client still has its 7 days: the freelancer may not ask yet
    tapi.refused(409, "dormancy-state", release_request_path(contract_id))
    assert advance(tapi, at(6, 6, 9)) == []
    tapi.refused(409, "dormancy-state", release_request_path(contract_id), {})

    # the client was silent: the freelancer has 7 days to request release
    assert advance(tapi, at(6, 7)) == [("dormancy_client_action", at(6, 7))]
    assert dormancy(tapi, contract_id) == {
        "last_activity_at": FUNDED_AT, "notices": [76, 83],
        "stage": "freelancer_to_request", "due_at": at(6, 14)}
    assert advance(tapi, at(6, 10)) == []
    requested = tapi.ok(release_request_path(contract_id))
    assert {k: v for k, v in requested.items() if k not in ("position", "contract_version")} \
        == {"contract_id": contract_id, "last_activity_at": FUNDED_AT, "notices": [76, 83],
            "stage": "client_to_answer", "due_at": at(6, 24)}
    assert dormancy(tapi, contract_id)["stage"] == "client_to_answer"
    assert deadlines(tapi, "dormancy_release_request") == []
    assert deadlines(tapi, "dormancy_release_answer") == [(contract_id, at(6, 24), "pending")]
    # asked once: a second request is out of stage
    tapi.refused(409, "dormancy-state", release_request_path(contract_id))

    # the client did not answer in 14 days: the escrow is released, net of the 10% fee
    assert advance(tapi, at(6, 24, 8, 59)) == []
    assert tapi.net(PENDING) is None
    assert advance(tapi, at(6, 24)) == [("dormancy_release_answer", at(6, 24))]
    assert balances(tapi, PENDING, f"escrow:{contract_id}:{milestone_id}", SERVICE_FEE,
                    MARKETPLACE_FEE, INITIATION_FEE, CLEARING) == {
        PENDING: "900.00", f"escrow:{contract_id}:{milestone_id}": "0.00",
        SERVICE_FEE: "100.00", MARKETPLACE_FEE: "50.00", INITIATION_FEE: "9.95",
        CLEARING: "1059.95"}
    contract = view(tapi, contract_id)
    assert contract["milestones"][0]["status"] == "released"
    assert contract["escrow_balance"] == usd("0.00")
    assert contract["total_released"] == usd("1000.00")
    assert contract["dormancy"]["stage"] is None
    assert_balanced(tapi)


def test_both_silent_refunds_the_client_and_ends_the_contract(tapi: Api) -> None:
    contract_id, milestone_id = to_freelancer_to_request(tapi)
    assert deadlines(tapi, "dormancy_release_request") == [(contract_id, at(6, 14), "pending")]
    assert advance(tapi, at(6, 14, 8, 59)) == []
    assert view(tapi, contract_id)["status"] == "active"
    assert advance(tapi, at(6, 14)) == [("dormancy_release_request", at(6, 14))]
    contract = view(tapi, contract_id)
    assert contract["status"] == "ended"
    assert contract["escrow_balance"] == usd("0.00")
    assert contract["dormancy"]["stage"] is None
    # 1,059.95 charged; 1,000.00 + 50.00 + the 9.95 initiation fee (nothing released) back
    assert balances(tapi, CLEARING, f"escrow:{contract_id}:{milestone_id}", MARKETPLACE_FEE,
                    f"deferred:initiation_fee:{contract_id}", INITIATION_FEE, PENDING) == {
        CLEARING: "0.00", f"escrow:{contract_id}:{milestone_id}": "0.00",
        MARKETPLACE_FEE: "0.00", f"deferred:initiation_fee:{contract_id}": "0.00",
        INITIATION_FEE: None, PENDING: None}
    # too late to ask now
    tapi.refused(409, "dormancy-state", release_request_path(contract_id))
    assert_balanced(tapi)


def test_milestone_activity_on_day_90_resets_the_ninety_days(tapi: Api) -> None:
    contract_id, milestone_id = left_alone(tapi)
    assert advance(tapi, at(5, 31)) == [
        ("dormancy_notice", at(5, 17)), ("dormancy_notice", at(5, 24)),
        ("dormancy", at(5, 31))]
    assert dormancy(tapi, contract_id)["stage"] == "client_to_act"

    tapi.ok(tapi.milestone_path(contract_id, milestone_id, "submit"), {})  # day 90, 09:00
    assert dormancy(tapi, contract_id) == {"last_activity_at": at(5, 31), "notices": [],
                                           "stage": None, "due_at": None}
    assert deadlines(tapi, "dormancy_client_action") == []
    # the ninety days count again from the submission
    assert deadlines(tapi, "dormancy") == [(contract_id, "2026-08-29T09:00:00+00:00",
                                            "pending")]
    tapi.refused(409, "dormancy-state", release_request_path(contract_id))
    tapi.refused(409, "dormancy-state", dormancy_dispute_path(contract_id))

    # the submission's own 14-day clock approves it long before the next dormancy
    assert advance(tapi, at(6, 14)) == [("auto_release", at(6, 14))]
    assert balances(tapi, PENDING, f"escrow:{contract_id}:{milestone_id}") == {
        PENDING: "900.00", f"escrow:{contract_id}:{milestone_id}": "0.00"}
    # no escrow left to watch: the dormancy clocks are gone
    assert deadlines(tapi, "dormancy") == []
    assert deadlines(tapi, "dormancy_notice") == []
    assert_balanced(tapi)


def test_the_client_disputes_the_release_request_and_mediation_releases_600(
        tapi: Api) -> None:
    contract_id, milestone_id = to_freelancer_to_request(tapi)
    # the client cannot dispute before the freelancer asks
    tapi.refused(409, "dormancy-state", dormancy_dispute_path(contract_id))
    assert advance(tapi, at(6, 8)) == []
    tapi.ok(release_request_path(contract_id))

    opened = tapi.ok(dormancy_dispute_path(contract_id), {}, status=201)
    dispute_id = opened["dispute_id"]
    assert dispute_id.startswith("dsp_")
    assert (opened["origin"], opened["request_id"]) == ("dormancy", None)
    assert opened["stage"] == "mediation"
    assert opened["opened_at"] == at(6, 8)
    assert opened["amount"] == usd("1000.00")
    assert opened["marketplace_fee_held"] == usd("50.00")
    assert opened["milestones"] == [{"milestone_id": milestone_id, "amount": usd("1000.00")}]
    # mediation starts at once: a proposal is due in 2 days
    assert opened["deadlines"][-1] == {"kind": "mediation_proposal", "due_at": at(6, 10),
                                       "status": "running"}
    contract = view(tapi, contract_id)
    assert contract["dormancy"]["stage"] is None
    assert contract["disputes"] == [{"dispute_id": dispute_id, "stage": "mediation",
                                     "amount": usd("1000.00"), "outcome": None}]
    assert deadlines(tapi, "dormancy_release_answer") == []
    assert balances(tapi, f"escrow_dispute:{contract_id}",
                    f"escrow:{contract_id}:{milestone_id}") == {
        f"escrow_dispute:{contract_id}": "1000.00",
        f"escrow:{contract_id}:{milestone_id}": "0.00"}
    # disputed once: again is out of stage
    tapi.refused(409, "dormancy-state", dormancy_dispute_path(contract_id))

    proposed = tapi.ok(f"/v1/disputes/{dispute_id}/propose", {"release": usd("600.00")})
    assert proposed["proposal"] == {"release": usd("600.00"), "refund": usd("400.00"),
                                    "accepted_by": []}
    tapi.ok(f"/v1/disputes/{dispute_id}/accept", {"by": "freelancer"})
    done = tapi.ok(f"/v1/disputes/{dispute_id}/accept", {"by": "client"})
    assert done["stage"] == "resolved"
    outcome = done["outcome"]
    assert outcome["kind"] == "mediation_accepted"
    assert (outcome["released"], outcome["service_fee"], outcome["net"]) == (
        usd("600.00"), usd("60.00"), usd("540.00"))
    assert (outcome["refunded"], outcome["marketplace_fee_refunded"],
            outcome["client_refund_total"]) == (usd("400.00"), usd("20.00"), usd("420.00"))
    assert outcome["available_at"] == at(6, 13)
    assert balances(tapi, PENDING, CLEARING, SERVICE_FEE, MARKETPLACE_FEE,
                    f"escrow_dispute:{contract_id}") == {
        PENDING: "540.00",
        CLEARING: "639.95",  # charged 1,059.95, refunded 420.00
        SERVICE_FEE: "60.00", MARKETPLACE_FEE: "30.00",
        f"escrow_dispute:{contract_id}": "0.00"}
    assert_balanced(tapi)


def test_the_client_ending_a_dormant_contract_stops_dormancy(tapi: Api) -> None:
    """Dormancy does not run once the client is ending the contract (README)."""
    contract_id, _ = left_alone(tapi)
    assert advance(tapi, at(5, 31))[-1] == ("dormancy", at(5, 31))
    ended = tapi.ok(f"/v1/contracts/{contract_id}/end", {"by": "client", "pay": "none"})
    assert (ended["status"], ended["refund_requested"]) == ("ending", usd("1000.00"))
    assert deadlines(tapi, "dormancy_client_action") == []
    tapi.refused(409, "dormancy-state", release_request_path(contract_id))
    tapi.refused(409, "dormancy-state", dormancy_dispute_path(contract_id))

    # only the refund request's 7 days run: the freelancer's silence refunds the client
    assert advance(tapi, at(6, 14)) == [("refund_request_timeout", at(6, 7))]
    assert view(tapi, contract_id)["status"] == "ended"
    assert tapi.net(CLEARING) == "0.00"
    assert dormancy(tapi, contract_id)["stage"] is None
    assert_balanced(tapi)


def test_a_contract_being_ended_shows_no_dormancy_stage(tapi: Api) -> None:
    """While the client ends the contract no dormancy clock runs (its deadline is
    stopped, and release requests and dormancy disputes are refused), so the contract
    view should not show a dormancy stage with a due time that will never take effect."""
    contract_id, _ = left_alone(tapi)
    advance(tapi, at(6, 10))
    tapi.ok(release_request_path(contract_id))
    assert dormancy(tapi, contract_id)["stage"] == "client_to_answer"
    tapi.ok(f"/v1/contracts/{contract_id}/end", {"by": "client", "pay": "none"})
    assert deadlines(tapi, "dormancy_release_answer") == []
    tapi.refused(409, "dormancy-state", dormancy_dispute_path(contract_id))
    shown = dormancy(tapi, contract_id)
    assert (shown["stage"], shown["due_at"]) == (None, None)
