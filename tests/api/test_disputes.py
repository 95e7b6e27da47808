"""Fixed-price disputes over HTTP, on both stores, with every money figure pinned.

The test clock starts Monday 2 March 2026, 09:00 UTC and stands still between
commands. A $1,000.00 milestone is funded by card in 2026: the client pays a 5%
marketplace fee ($50.00) and the $9.95 initiation fee (charged 1,059.95); the
freelancer's service fee is 10%. The client ends the contract paying nothing
and the freelancer disputes the whole $1,000.00 refund request.

Clocks: the client responds within 5 days (silence releases the escrow), the
mediator proposes within 2 days of the response, both parties accept within 2
days, else arbitration, whose $291.00 fee each party has 7 days to pay. Net
earnings are pending for 5 days. Figures follow
``tests/integration/test_dispute_flow.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import (
    COMMANDS_KEY,
    FINANCE_KEY,
    READ_KEY,
    Api,
    assert_problem,
    bearer,
    usd,
)

ADVANCE = "/v1/test-clock/advance"
MISSING = "00000000-0000-0000-0000-000000000000"
UNKNOWN_CONTRACT_DISPUTE = "dsp_" + "0" * 31 + "1_3"
CLEARING = "processor:clearing"
PENDING = "freelancer:freelancer-ada:pending"
AVAILABLE = "freelancer:freelancer-ada:available"
SERVICE_FEE = "revenue:service_fee"
MARKETPLACE_FEE = "revenue:marketplace_fee"
INITIATION_FEE = "revenue:initiation_fee"
ARBITRATION = "arbitration:payable"
HOURLY = {"kind": "hourly", "client_id": "client-acme", "freelancer_id": "freelancer-ada",
          "currency": "USD", "hourly_rate": usd("40.00"), "weekly_limit_hours": 20,
          "manual_time_allowed": False}


# --- helpers --------------------------------------------------------------------------------------


def advance(api: Api, to: str) -> list[tuple[str, str]]:
    """Moves the test clock; answers what fired, as (kind, due)."""
    fired = api.ok(ADVANCE, {"to": to})["fired"]
    return [(f["kind"], f["due"]) for f in fired]


def dispute_path(dispute_id: str, step: str | None = None) -> str:
    return f"/v1/disputes/{dispute_id}" + (f"/{step}" if step else "")


def step(api: Api, dispute_id: str, name: str, by: str) -> dict[str, Any]:
    return api.ok(dispute_path(dispute_id, name), {"by": by})


def propose(api: Api, dispute_id: str, amount: str) -> dict[str, Any]:
    return api.ok(dispute_path(dispute_id, "propose"), {"release": usd(amount)})


def read(api: Api, dispute_id: str) -> dict[str, Any]:
    response = api.get(dispute_path(dispute_id))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    assert response.headers["ETag"] == f'"{data["contract_version"]}"'
    return data


def contract_status(api: Api, contract_id: str) -> str:
    response = api.get(f"/v1/contracts/{contract_id}")
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


def ending(api: Api, **contract: Any) -> tuple[str, str, str]:
    """A $1,000.00 milestone funded by card; the client ends paying none: (contract,
    milestone, refund request)."""
    contract_id, milestone_id = api.funded_milestone("1000.00", **contract)
    ended = api.ok(f"/v1/contracts/{contract_id}/end", {"by": "client", "pay": "none"})
    assert ended["status"] == "ending"
    assert ended["refund_requested"] == usd("1000.00")
    return contract_id, milestone_id, str(ended["refund_request_id"])


def refund_dispute_path(contract_id: str, request_id: str) -> str:
    return f"/v1/contracts/{contract_id}/refund-requests/{request_id}/dispute"


def disputed(api: Api, **contract: Any) -> tuple[str, str]:
    """The freelancer disputes all of the $1,000.00 refund request: (contract, dispute)."""
    contract_id, _, request_id = ending(api, **contract)
    opened = api.ok(refund_dispute_path(contract_id, request_id), status=201)
    return contract_id, str(opened["dispute_id"])


def to_arbitration(api: Api, dispute_id: str) -> dict[str, Any]:
    """The client responds, the mediator proposes $600.00, the client declines."""
    step(api, dispute_id, "respond", "client")
    propose(api, dispute_id, "600.00")
    return step(api, dispute_id, "decline", "client")


def balances(api: Api, *accounts: str) -> dict[str, str | None]:
    return {a: api.net(a) for a in accounts}


def assert_balanced(api: Api) -> None:
    response = api.get("/v1/finance/trial-balance", key=FINANCE_KEY)
    assert response.status_code == 200, response.text
    assert response.json()["balanced"] is True


# --- opening --------------------------------------------------------------------------------------


def test_disputing_a_refund_request_freezes_all_of_its_escrow(tapi: Api) -> None:
    contract_id, milestone_id, request_id = ending(tapi)
    opened = tapi.ok(refund_dispute_path(contract_id, request_id), {}, status=201)
    dispute_id = opened["dispute_id"]
    assert dispute_id.startswith("dsp_")
    assert opened["contract_id"] == contract_id
    assert (opened["origin"], opened["request_id"]) == ("refund_request", request_id)
    assert opened["stage"] == "awaiting_response"
    assert opened["opened_at"] == "2026-03-02T09:00:00+00:00"
    assert opened["amount"] == usd("1000.00")
    assert opened["marketplace_fee_held"] == usd("50.00")
    assert opened["milestones"] == [{"milestone_id": milestone_id, "amount": usd("1000.00")}]
    assert opened["deadlines"] == [{"kind": "dispute_response",
                                    "due_at": "2026-03-07T09:00:00+00:00", "status": "running"}]
    assert (opened["proposal"], opened["arbitration"], opened["outcome"]) == (None, None, None)
    assert balances(tapi, f"escrow_dispute:{contract_id}",
                    f"escrow:{contract_id}:{milestone_id}") == {
        f"escrow_dispute:{contract_id}": "1000.00",
        f"escrow:{contract_id}:{milestone_id}": "0.00"}

    # the read shows the same, and its ETag is the contract's version
    view = read(tapi, dispute_id)
    assert view["contract_version"] == opened["contract_version"]
    skip = {"position", "contract_version"}
    assert {k: v for k, v in view.items() if k not in skip} == {
        k: v for k, v in opened.items() if k not in skip}
    assert contract_status(tapi, contract_id) == "ending"
    # the request can no longer be approved, nor the milestone released
    tapi.refused(409, "refund-request-state",
                 f"/v1/contracts/{contract_id}/refund-requests/{request_id}/approve", {})
    tapi.refused(409, "contract-not-active",
                 tapi.milestone_path(contract_id, milestone_id, "approve"), {})


# --- mediation ------------------------------------------------------------------------------------


def test_mediation_releasing_600_leaves_540_pending_and_refunds_400_plus_20(
        tapi: Api) -> None:
    contract_id, dispute_id = disputed(tapi)
    responded = step(tapi, dispute_id, "respond", "client")
    assert responded["stage"] == "mediation"
    assert responded["deadlines"][-1] == {"kind": "mediation_proposal",
                                          "due_at": "2026-03-04T09:00:00+00:00",
                                          "status": "running"}
    proposed = propose(tapi, dispute_id, "600.00")
    assert proposed["stage"] == "proposed"
    assert proposed["proposal"] == {"release": usd("600.00"), "refund": usd("400.00"),
                                    "accepted_by": []}
    assert proposed["deadlines"][-1]["kind"] == "mediation_acceptance"
    first = step(tapi, dispute_id, "accept", "freelancer")
    assert first["stage"] == "proposed"
    assert first["proposal"]["accepted_by"] == ["freelancer"]
    assert tapi.net(PENDING) is None  # nothing moves on one acceptance

    done = step(tapi, dispute_id, "accept", "client")
    assert done["stage"] == "resolved"
    assert all(clock["status"] == "stopped" for clock in done["deadlines"])
    assert done["outcome"] == {
        "kind": "mediation_accepted",
        "reason": done["outcome"]["reason"],
        "released": usd("600.00"),
        "service_fee": usd("60.00"),
        "net": usd("540.00"),
        "refunded": usd("400.00"),
        "marketplace_fee_refunded": usd("20.00"),
        "client_refund_total": usd("420.00"),
        "initiation_fee_recognised": usd("9.95"),
        "available_at": "2026-03-07T09:00:00+00:00",
        "resolved_at": "2026-03-02T09:00:00+00:00",
    }
    assert done["outcome"]["reason"]
    assert read(tapi, dispute_id)["outcome"] == done["outcome"]
    assert balances(tapi, PENDING, CLEARING, SERVICE_FEE, MARKETPLACE_FEE, INITIATION_FEE,
                    f"escrow_dispute:{contract_id}",
                    f"deferred:initiation_fee:{contract_id}") == {
        PENDING: "540.00",
        CLEARING: "639.95",  # charged 1,059.95, refunded 420.00
        SERVICE_FEE: "60.00",
        MARKETPLACE_FEE: "30.00",
        INITIATION_FEE: "9.95",
        f"escrow_dispute:{contract_id}": "0.00",
        f"deferred:initiation_fee:{contract_id}": "0.00",
    }
    assert contract_status(tapi, contract_id) == "ended"
    assert_balanced(tapi)

    # five days later the net is available
    assert advance(tapi, "2026-03-07T08:59:00Z") == []
    assert tapi.net(PENDING) == "540.00"
    assert advance(tapi, "2026-03-07T09:00:00Z") == [
        ("security_period", "2026-03-07T09:00:00+00:00")]
    assert balances(tapi, PENDING, AVAILABLE) == {PENDING: "0.00", AVAILABLE: "540.00"}


def test_client_silence_for_5_days_releases_the_escrow(tapi: Api) -> None:
    contract_id, dispute_id = disputed(tapi)
    assert read(tapi, dispute_id)["deadlines"] == [
        {"kind": "dispute_response", "due_at": "2026-03-07T09:00:00+00:00",
         "status": "running"}]
    # 4 days 23:59 later nothing has happened
    assert advance(tapi, "2026-03-07T08:59:00Z") == []
    assert read(tapi, dispute_id)["stage"] == "awaiting_response"
    assert tapi.net(PENDING) is None

    assert advance(tapi, "2026-03-07T09:00:00Z") == [
        ("dispute_response", "2026-03-07T09:00:00+00:00")]
    view = read(tapi, dispute_id)
    assert view["stage"] == "resolved"
    assert view["deadlines"] == [{"kind": "dispute_response",
                                  "due_at": "2026-03-07T09:00:00+00:00", "status": "stopped"}]
    outcome = view["outcome"]
    assert outcome["kind"] == "client_silent"
    assert (outcome["released"], outcome["service_fee"], outcome["net"]) == (
        usd("1000.00"), usd("100.00"), usd("900.00"))
    assert (outcome["refunded"], outcome["marketplace_fee_refunded"]) == (
        usd("0.00"), usd("0.00"))
    assert outcome["available_at"] == "2026-03-12T09:00:00+00:00"
    assert outcome["resolved_at"] == "2026-03-07T09:00:00+00:00"
    assert balances(tapi, PENDING, SERVICE_FEE, MARKETPLACE_FEE, INITIATION_FEE,
                    CLEARING) == {
        PENDING: "900.00", SERVICE_FEE: "100.00", MARKETPLACE_FEE: "50.00",
        INITIATION_FEE: "9.95", CLEARING: "1059.95"}
    assert contract_status(tapi, contract_id) == "ended"
    assert_balanced(tapi)
    # a step after the outcome is out of stage
    tapi.refused(409, "dispute-state", dispute_path(dispute_id, "respond"), {"by": "client"})


def test_lapsed_mediation_clocks_go_to_arbitration(tapi: Api) -> None:
    _, no_proposal = disputed(tapi)
    step(tapi, no_proposal, "respond", "client")
    # another relationship: a contract's due deadlines fire its siblings' first, unreported
    _, not_accepted = disputed(tapi, client_id="client-globex", freelancer_id="freelancer-bob")
    step(tapi, not_accepted, "respond", "client")
    propose(tapi, not_accepted, "600.00")
    step(tapi, not_accepted, "accept", "freelancer")

    assert advance(tapi, "2026-03-04T08:59:00Z") == []
    assert sorted(advance(tapi, "2026-03-04T09:00:00Z")) == [
        ("mediation_acceptance", "2026-03-04T09:00:00+00:00"),
        ("mediation_proposal", "2026-03-04T09:00:00+00:00")]

    lapsed = read(tapi, no_proposal)
    assert lapsed["stage"] == "arbitration"
    assert lapsed["arbitration"] == {
        "reason": "no mediation proposal within 2 days of the client's response",
        "fees_paid_by": []}
    assert lapsed["deadlines"] == [
        {"kind": "dispute_response", "due_at": "2026-03-07T09:00:00+00:00",
         "status": "stopped"},
        {"kind": "mediation_proposal", "due_at": "2026-03-04T09:00:00+00:00",
         "status": "stopped"},
        {"kind": "arbitration_fee", "due_at": "2026-03-11T09:00:00+00:00",
         "status": "running"}]

    unaccepted = read(tapi, not_accepted)
    assert unaccepted["stage"] == "arbitration"
    assert unaccepted["arbitration"]["reason"] == (
        "the mediation proposal was not accepted by both parties within 2 days")
    assert [c["kind"] for c in unaccepted["deadlines"]] == [
        "dispute_response", "mediation_proposal", "mediation_acceptance", "arbitration_fee"]
    assert tapi.net(PENDING) is None
    # the proposal can no longer be accepted
    tapi.refused(409, "dispute-state", dispute_path(not_accepted, "accept"), {"by": "client"})


# --- arbitration ----------------------------------------------------------------------------------


def test_neither_paying_arbitration_refunds_1000_plus_50_and_the_initiation_fee(
        tapi: Api) -> None:
    contract_id, dispute_id = disputed(tapi)
    declined = to_arbitration(tapi, dispute_id)
    assert declined["stage"] == "arbitration"
    assert declined["arbitration"] == {"reason": "the client declined the mediation proposal",
                                       "fees_paid_by": []}
    assert declined["deadlines"][-1] == {"kind": "arbitration_fee",
                                         "due_at": "2026-03-09T09:00:00+00:00",
                                         "status": "running"}
    assert advance(tapi, "2026-03-09T08:59:00Z") == []
    assert advance(tapi, "2026-03-09T09:00:00Z") == [
        ("arbitration_fee", "2026-03-09T09:00:00+00:00")]
    outcome = read(tapi, dispute_id)["outcome"]
    assert outcome["kind"] == "arbitration_unpaid"
    assert (outcome["released"], outcome["service_fee"], outcome["net"]) == (
        usd("0.00"), usd("0.00"), usd("0.00"))
    assert (outcome["refunded"], outcome["marketplace_fee_refunded"],
            outcome["client_refund_total"]) == (usd("1000.00"), usd("50.00"), usd("1050.00"))
    assert (outcome["initiation_fee_recognised"], outcome["available_at"]) == (None, None)
    assert balances(tapi, CLEARING, MARKETPLACE_FEE, INITIATION_FEE,
                    f"deferred:initiation_fee:{contract_id}", ARBITRATION, PENDING,
                    f"escrow_dispute:{contract_id}") == {
        CLEARING: "0.00",  # 1,059.95 charged, all of it back
        MARKETPLACE_FEE: "0.00",
        INITIATION_FEE: None,  # never recognised
        f"deferred:initiation_fee:{contract_id}": "0.00",
        ARBITRATION: None,
        PENDING: None,
        f"escrow_dispute:{contract_id}": "0.00",
    }
    assert contract_status(tapi, contract_id) == "ended"
    assert_balanced(tapi)


def test_only_the_freelancer_paying_releases_900_net_and_keeps_291_payable(
        tapi: Api) -> None:
    contract_id, dispute_id = disputed(tapi)
    to_arbitration(tapi, dispute_id)
    tapi.refused(409, "dispute-state", dispute_path(dispute_id, "rule"),
                 {"release": usd("250.00")})
    paid = step(tapi, dispute_id, "arbitration-fee", "freelancer")
    assert paid["stage"] == "arbitration"
    assert paid["arbitration"]["fees_paid_by"] == ["freelancer"]
    assert tapi.net(ARBITRATION) == "291.00"
    # paying twice, or a ruling before both paid, is refused
    tapi.refused(409, "dispute-state", dispute_path(dispute_id, "arbitration-fee"),
                 {"by": "freelancer"})
    tapi.refused(409, "dispute-state", dispute_path(dispute_id, "rule"),
                 {"release": usd("250.00")})

    assert advance(tapi, "2026-03-09T09:00:00Z") == [
        ("arbitration_fee", "2026-03-09T09:00:00+00:00")]
    outcome = read(tapi, dispute_id)["outcome"]
    assert outcome["kind"] == "only_freelancer_paid"
    assert (outcome["released"], outcome["service_fee"], outcome["net"]) == (
        usd("1000.00"), usd("100.00"), usd("900.00"))
    assert (outcome["refunded"], outcome["marketplace_fee_refunded"]) == (
        usd("0.00"), usd("0.00"))
    assert outcome["initiation_fee_recognised"] == usd("9.95")
    assert balances(tapi, ARBITRATION, PENDING, SERVICE_FEE, MARKETPLACE_FEE,
                    INITIATION_FEE, CLEARING) == {
        ARBITRATION: "291.00", PENDING: "900.00", SERVICE_FEE: "100.00",
        MARKETPLACE_FEE: "50.00", INITIATION_FEE: "9.95",
        CLEARING: "1350.95"}  # 1,059.95 + the 291.00 fee
    assert contract_status(tapi, contract_id) == "ended"
    assert_balanced(tapi)


def test_only_the_client_paying_refunds_the_client_and_keeps_291_payable(
        tapi: Api) -> None:
    contract_id, dispute_id = disputed(tapi)
    to_arbitration(tapi, dispute_id)
    paid = step(tapi, dispute_id, "arbitration-fee", "client")
    assert paid["arbitration"]["fees_paid_by"] == ["client"]
    assert advance(tapi, "2026-03-09T09:00:00Z") == [
        ("arbitration_fee", "2026-03-09T09:00:00+00:00")]
    outcome = read(tapi, dispute_id)["outcome"]
    assert outcome["kind"] == "only_client_paid"
    assert (outcome["released"], outcome["net"]) == (usd("0.00"), usd("0.00"))
    assert (outcome["refunded"], outcome["marketplace_fee_refunded"],
            outcome["client_refund_total"]) == (usd("1000.00"), usd("50.00"), usd("1050.00"))
    assert balances(tapi, ARBITRATION, PENDING, MARKETPLACE_FEE, INITIATION_FEE,
                    f"deferred:initiation_fee:{contract_id}", CLEARING) == {
        ARBITRATION: "291.00", PENDING: None, MARKETPLACE_FEE: "0.00",
        INITIATION_FEE: None, f"deferred:initiation_fee:{contract_id}": "0.00",
        CLEARING: "291.00"}  # 1,059.95 + 291.00 charged, 1,059.95 back
    assert contract_status(tapi, contract_id) == "ended"
    assert_balanced(tapi)


def test_both_paying_applies_the_ruling_and_keeps_582_payable(tapi: Api) -> None:
    contract_id, dispute_id = disputed(tapi)
    to_arbitration(tapi, dispute_id)
    step(tapi, dispute_id, "arbitration-fee", "client")
    both = step(tapi, dispute_id, "arbitration-fee", "freelancer")
    assert both["stage"] == "awaiting_ruling"
    assert sorted(both["arbitration"]["fees_paid_by"]) == ["client", "freelancer"]
    tapi.refused(409, "dispute-state", dispute_path(dispute_id, "arbitration-fee"),
                 {"by": "client"})
    tapi.refused(422, "invalid-input", dispute_path(dispute_id, "rule"),
                 {"release": usd("1000.01")})

    ruled = tapi.ok(dispute_path(dispute_id, "rule"), {"release": usd("250.00")})
    assert ruled["stage"] == "resolved"
    outcome = ruled["outcome"]
    assert outcome["kind"] == "arbitration_ruling"
    # 10% of 250.00 = 25.00; 750.00 back with 50.00 x 750/1000 = 37.50 of the fee
    assert (outcome["released"], outcome["service_fee"], outcome["net"]) == (
        usd("250.00"), usd("25.00"), usd("225.00"))
    assert (outcome["refunded"], outcome["marketplace_fee_refunded"],
            outcome["client_refund_total"]) == (usd("750.00"), usd("37.50"), usd("787.50"))
    assert outcome["initiation_fee_recognised"] == usd("9.95")
    assert balances(tapi, ARBITRATION, PENDING, SERVICE_FEE, MARKETPLACE_FEE,
                    INITIATION_FEE, CLEARING) == {
        ARBITRATION: "582.00", PENDING: "225.00", SERVICE_FEE: "25.00",
        MARKETPLACE_FEE: "12.50", INITIATION_FEE: "9.95",
        CLEARING: "854.45"}  # 1,059.95 + 582.00 charged, 787.50 back
    assert contract_status(tapi, contract_id) == "ended"
    assert_balanced(tapi)
    tapi.refused(409, "dispute-state", dispute_path(dispute_id, "rule"),
                 {"release": usd("250.00")})


# --- a milestone on an active contract ------------------------------------------------------------


def test_a_milestone_with_changes_requested_is_disputed_and_silence_releases_it(
        tapi: Api) -> None:
    contract_id = tapi.open_contract()
    disputed_ms = tapi.add_milestone(contract_id, "300.00", "Design")
    other = tapi.add_milestone(contract_id, "200.00", "Build")
    for milestone_id in (disputed_ms, other):
        tapi.ok(tapi.milestone_path(contract_id, milestone_id, "fund"))
    dispute = tapi.milestone_path(contract_id, disputed_ms, "dispute")
    # funded but never submitted: nothing to dispute yet
    tapi.refused(409, "milestone-state", dispute)
    tapi.ok(tapi.milestone_path(contract_id, disputed_ms, "submit"), {})
    tapi.ok(tapi.milestone_path(contract_id, disputed_ms, "request-changes"), {"note": "no"})

    opened = tapi.ok(dispute, {}, status=201)
    dispute_id = opened["dispute_id"]
    assert (opened["origin"], opened["request_id"]) == ("milestone", None)
    assert opened["amount"] == usd("300.00")
    assert opened["marketplace_fee_held"] == usd("15.00")
    assert opened["milestones"] == [{"milestone_id": disputed_ms, "amount": usd("300.00")}]
    assert tapi.net(f"escrow_dispute:{contract_id}") == "300.00"

    tapi.refused(409, "dispute-open", dispute)
    tapi.refused(409, "milestone-state",
                 tapi.milestone_path(contract_id, disputed_ms, "approve"), {})
    tapi.refused(409, "dispute-open", f"/v1/contracts/{contract_id}/end",
                 {"by": "freelancer"})
    # the other milestone is untouched (approved an hour later: its net is available
    # 2026-03-07 10:00, apart from the dispute's clock)
    assert advance(tapi, "2026-03-02T10:00:00Z") == []
    tapi.ok(tapi.milestone_path(contract_id, other, "approve"), {})
    assert tapi.net(PENDING) == "180.00"

    assert advance(tapi, "2026-03-07T08:59:00Z") == []
    assert read(tapi, dispute_id)["stage"] == "awaiting_response"
    assert advance(tapi, "2026-03-07T09:00:00Z") == [
        ("dispute_response", "2026-03-07T09:00:00+00:00")]
    view = tapi.get(f"/v1/contracts/{contract_id}").json()
    assert view["status"] == "active"
    assert balances(tapi, PENDING, AVAILABLE) == {PENDING: "450.00", AVAILABLE: None}
    assert advance(tapi, "2026-03-07T10:00:00Z") == [
        ("security_period", "2026-03-07T10:00:00+00:00")]
    outcome = read(tapi, dispute_id)["outcome"]
    assert outcome["kind"] == "client_silent"
    assert (outcome["released"], outcome["service_fee"], outcome["net"]) == (
        usd("300.00"), usd("30.00"), usd("270.00"))
    assert outcome["refunded"] == usd("0.00")
    assert balances(tapi, PENDING, AVAILABLE, SERVICE_FEE, MARKETPLACE_FEE,
                    f"escrow_dispute:{contract_id}") == {
        PENDING: "270.00", AVAILABLE: "180.00", SERVICE_FEE: "50.00",
        MARKETPLACE_FEE: "25.00", f"escrow_dispute:{contract_id}": "0.00"}
    assert contract_status(tapi, contract_id) == "active"
    assert_balanced(tapi)


# --- refusals -------------------------------------------------------------------------------------


def test_steps_out_of_stage_or_by_the_wrong_party_are_refused(tapi: Api) -> None:
    _, dispute_id = disputed(tapi)
    tapi.refused(409, "wrong-party", dispute_path(dispute_id, "respond"),
                 {"by": "freelancer"})
    tapi.refused(409, "dispute-state", dispute_path(dispute_id, "propose"),
                 {"release": usd("600.00")})
    tapi.refused(409, "dispute-state", dispute_path(dispute_id, "accept"), {"by": "client"})
    tapi.refused(409, "dispute-state", dispute_path(dispute_id, "decline"), {"by": "client"})
    tapi.refused(409, "dispute-state", dispute_path(dispute_id, "arbitration-fee"),
                 {"by": "client"})

    step(tapi, dispute_id, "respond", "client")
    tapi.refused(409, "dispute-state", dispute_path(dispute_id, "respond"), {"by": "client"})
    tapi.refused(422, "invalid-input", dispute_path(dispute_id, "propose"),
                 {"release": usd("1000.01")})
    tapi.refused(422, "currency-mismatch", dispute_path(dispute_id, "propose"),
                 {"release": {"amount": "600.00", "currency": "EUR"}})

    propose(tapi, dispute_id, "600.00")
    step(tapi, dispute_id, "accept", "freelancer")
    tapi.refused(409, "dispute-state", dispute_path(dispute_id, "accept"),
                 {"by": "freelancer"})
    tapi.refused(409, "dispute-state", dispute_path(dispute_id, "propose"),
                 {"release": usd("500.00")})


def test_unknown_disputes_are_404(tapi: Api) -> None:
    contract_id, dispute_id = disputed(tapi)
    version = int(dispute_id.rsplit("_", 1)[1])
    other_version = dispute_id.rsplit("_", 1)[0] + f"_{version + 1}"
    for unknown in ("dsp_nope", UNKNOWN_CONTRACT_DISPUTE, other_version):
        assert_problem(tapi.get(dispute_path(unknown)), 404, "dispute-not-found")
    for unknown in ("dsp_nope", other_version):
        tapi.refused(404, "dispute-not-found", dispute_path(unknown, "respond"),
                     {"by": "client"})
        tapi.refused(404, "dispute-not-found", dispute_path(unknown, "propose"),
                     {"release": usd("600.00")})
    tapi.refused(404, "refund-request-not-found", refund_dispute_path(contract_id, MISSING))
    tapi.refused(404, "contract-not-found", refund_dispute_path(MISSING, MISSING))


@pytest.mark.parametrize("contract", ["unknown", "hourly"])
def test_a_step_on_a_dispute_id_naming_no_fixed_price_contract_is_dispute_not_found(
        tapi: Api, contract: str) -> None:
    """The routes promise 404 `dispute-not-found` for any unknown dispute, as the GET says."""
    if contract == "hourly":
        hourly = tapi.ok("/v1/contracts", {**HOURLY}, status=201)["contract_id"]
        unknown = "dsp_" + hourly.replace("-", "") + "_1"
    else:
        unknown = UNKNOWN_CONTRACT_DISPUTE
    assert_problem(tapi.get(dispute_path(unknown)), 404, "dispute-not-found")
    tapi.refused(404, "dispute-not-found", dispute_path(unknown, "respond"), {"by": "client"})
    tapi.refused(404, "dispute-not-found", dispute_path(unknown, "rule"),
                 {"release": usd("600.00")})


def test_a_refund_request_cannot_be_disputed_after_its_7_days(tapi: Api) -> None:
    contract_id, _, request_id = ending(tapi)
    assert advance(tapi, "2026-03-09T09:00:00Z") == [
        ("refund_request_timeout", "2026-03-09T09:00:00+00:00")]
    tapi.refused(409, "refund-request-state", refund_dispute_path(contract_id, request_id))


def test_malformed_or_unauthorised_requests_are_refused(tapi: Api) -> None:
    _, dispute_id = disputed(tapi)
    respond = dispute_path(dispute_id, "respond")
    propose_path = dispute_path(dispute_id, "propose")
    tapi.refused(422, "invalid-input", respond, {"by": "mediator"})
    tapi.refused(422, "invalid-input", respond, {})
    tapi.refused(422, "invalid-input", respond, {"by": "client", "extra": 1})
    tapi.refused(422, "invalid-input", propose_path, {})
    tapi.refused(422, "invalid-input", propose_path,
                 {"release": {"amount": 600.0, "currency": "USD"}})
    tapi.refused(422, "invalid-input", propose_path, {"release": {"amount": "600.00"}})
    tapi.refused(400, "idempotency-key-missing", respond, {"by": "client"},
                 idempotency_key=None)
    tapi.refused(401, "unauthorized", respond, {"by": "client"}, key=None)
    tapi.refused(403, "insufficient-scope", respond, {"by": "client"}, key=READ_KEY)
    assert_problem(tapi.client.get(dispute_path(dispute_id)), 401, "unauthorized")
    assert read(tapi, dispute_id)["stage"] == "awaiting_response"
    assert tapi.client.get(dispute_path(dispute_id),
                           headers=bearer(COMMANDS_KEY)).status_code == 200


# --- idempotency ----------------------------------------------------------------------------------


def test_a_replayed_proposal_answers_the_same_and_writes_nothing(tapi: Api) -> None:
    _, dispute_id = disputed(tapi)
    step(tapi, dispute_id, "respond", "client")
    path = dispute_path(dispute_id, "propose")
    body = {"release": usd("600.00")}
    first = tapi.post(path, body, idempotency_key="propose-1")
    assert first.status_code == 200, first.text
    assert "idempotent-replayed" not in first.headers
    position = tapi.ledger.position()

    again = tapi.post(path, body, idempotency_key="propose-1")
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert tapi.ledger.position() == position

    tapi.refused(409, "idempotency-key-reused", path, {"release": usd("500.00")},
                 idempotency_key="propose-1")
    tapi.refused(409, "idempotency-key-reused", dispute_path(dispute_id, "accept"),
                 {"by": "client"}, idempotency_key="propose-1")
    assert read(tapi, dispute_id)["proposal"]["release"] == usd("600.00")


@pytest.mark.parametrize("by", ["client", "freelancer"])
def test_either_party_may_decline(tapi: Api, by: str) -> None:
    _, dispute_id = disputed(tapi)
    step(tapi, dispute_id, "respond", "client")
    propose(tapi, dispute_id, "600.00")
    declined = step(tapi, dispute_id, "decline", by)
    assert declined["arbitration"]["reason"] == f"the {by} declined the mediation proposal"
