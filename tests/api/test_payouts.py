"""Withdrawals and holds over HTTP, on both stores, with every figure pinned.

The test clock starts Monday 2 March 2026, 09:00 UTC (the per-contract fee
era, 10% service fee). A $500.00 milestone approved at once pays $450.00 net,
pending until 7 March 09:00 and then available. Withdrawal fees (domain.md,
Payouts): US bank free; local bank $0.99 with a $5.00 minimum; US dollar wire
$50.00; instant to debit card $2.00; a fee is never returned.
"""

from __future__ import annotations

from typing import Any

from tests.api.conftest import COMMANDS_KEY, FINANCE_KEY, READ_KEY, Api, assert_problem, usd

ADVANCE = "/v1/test-clock/advance"
ADA = "freelancer-ada"
AVAILABLE = f"freelancer:{ADA}:available"
IN_FLIGHT = f"freelancer:{ADA}:in_flight"
PENDING = f"freelancer:{ADA}:pending"
FEES = "revenue:withdrawal_fee"
PAYOUTS = "payouts:clearing"
WITHDRAW = f"/v1/freelancers/{ADA}/withdrawals"
HOLDS = f"/v1/freelancers/{ADA}/holds"


def earn_450(api: Api) -> None:
    """$500.00 approved on 03-02 09:00: $450.00 net available from 03-07 09:00."""
    contract_id, milestone_id = api.funded_milestone("500.00")
    api.ok(api.milestone_path(contract_id, milestone_id, "approve"), {})
    api.ok(ADVANCE, {"to": "2026-03-07T09:00:00Z"})


def withdraw(api: Api, amount: str, method: str) -> dict[str, Any]:
    return api.ok(WITHDRAW, {"amount": amount, "method": method}, status=201)


def step(api: Api, withdrawal_id: str, verb: str, body: Any = None) -> dict[str, Any]:
    return api.ok(f"/v1/withdrawals/{withdrawal_id}/{verb}", body or {})


def books(api: Api) -> dict[str, str | None]:
    return {a: api.net(a) for a in (AVAILABLE, IN_FLIGHT, FEES, PAYOUTS)}


def line(api: Api) -> dict[str, Any]:
    response = api.get(f"/v1/freelancers/{ADA}/balances")
    assert response.status_code == 200, response.text
    [usd_line] = response.json()["balances"]
    return dict(usd_line)


def finance_post(api: Api, path: str, body: Any) -> Any:
    return api.post(path, body, key=FINANCE_KEY)


def place_hold(api: Api, reason: str = "compliance") -> dict[str, Any]:
    response = finance_post(api, HOLDS, {"reason": reason, "note": "KYC refresh"})
    assert response.status_code == 201, response.text
    return dict(response.json())


def assert_balanced(api: Api) -> None:
    response = api.get("/v1/finance/trial-balance", key=FINANCE_KEY)
    assert response.status_code == 200, response.text
    assert response.json()["balanced"] is True


def test_a_wire_moves_the_amount_in_flight_and_the_fee_to_revenue_and_a_failure_returns_it(
        tapi: Api) -> None:
    earn_450(tapi)
    assert line(tapi) == {"currency": "USD", "pending": usd("0.00"), "available": usd("450.00"),
                          "in_flight": usd("0.00"), "held": usd("0.00"),
                          "withdrawable": usd("450.00")}

    response = tapi.post(WITHDRAW, {"amount": "100.00", "method": "wire"})
    assert response.status_code == 201, response.text
    w = response.json()
    assert response.headers["Location"] == f"/v1/withdrawals/{w['withdrawal_id']}"
    assert w["withdrawal_id"].startswith("wd_")
    assert {k: w[k] for k in ("method", "state", "amount", "fee", "total", "balance")} == {
        "method": "usd_wire", "state": "requested", "amount": usd("100.00"),
        "fee": usd("50.00"), "total": usd("150.00"),
        "balance": {"available": usd("300.00"), "in_flight": usd("100.00")}}
    assert books(tapi) == {AVAILABLE: "300.00", IN_FLIGHT: "100.00", FEES: "50.00",
                           PAYOUTS: None}
    assert line(tapi)["in_flight"] == usd("100.00")

    sent = step(tapi, w["withdrawal_id"], "sent", {"processor_reference": "po_123"})
    assert (sent["state"], sent["processor_reference"]) == ("sent", "po_123")
    failed = step(tapi, w["withdrawal_id"], "failed", {"reason": "account closed"})
    assert (failed["state"], failed["failure_reason"]) == ("failed", "account closed")
    assert failed["balance"] == {"available": usd("400.00"), "in_flight": usd("0.00")}
    # the amount is back; the fee stays revenue
    assert books(tapi) == {AVAILABLE: "400.00", IN_FLIGHT: "0.00", FEES: "50.00",
                           PAYOUTS: None}
    assert_balanced(tapi)


def test_a_settled_withdrawal_leaves_through_payouts_clearing(tapi: Api) -> None:
    earn_450(tapi)
    w = withdraw(tapi, "448.00", "instant_debit_card")  # 448.00 + 2.00 = all of it
    assert (w["fee"], w["total"]) == (usd("2.00"), usd("450.00"))
    step(tapi, w["withdrawal_id"], "sent")
    settled = step(tapi, w["withdrawal_id"], "settled")
    assert settled["state"] == "settled"
    assert settled["balance"] == {"available": usd("0.00"), "in_flight": usd("0.00")}
    # payouts clearing is an asset: money left, so it is credited
    assert books(tapi) == {AVAILABLE: "0.00", IN_FLIGHT: "0.00", FEES: "2.00",
                           PAYOUTS: "-448.00"}
    assert_balanced(tapi)


def test_each_method_prices_its_fee_and_local_bank_has_a_minimum(tapi: Api) -> None:
    earn_450(tapi)
    assert withdraw(tapi, "10.00", "us_bank")["fee"] == usd("0.00")
    assert withdraw(tapi, "5.00", "local_bank")["fee"] == usd("0.99")
    assert withdraw(tapi, "10.00", "instant_debit_card")["fee"] == usd("2.00")
    assert withdraw(tapi, "10.00", "usd_wire")["fee"] == usd("50.00")
    # 450.00 - 10.00 - 5.99 - 12.00 - 60.00
    assert books(tapi)[AVAILABLE] == "362.01"
    assert books(tapi)[FEES] == "52.99"
    tapi.refused(422, "below-withdrawal-minimum", WITHDRAW,
                 {"amount": "4.00", "method": "local_bank"})
    assert_balanced(tapi)


def test_amount_plus_fee_above_available_and_pending_money_are_refused(tapi: Api) -> None:
    contract_id, milestone_id = tapi.funded_milestone("500.00")
    tapi.ok(tapi.milestone_path(contract_id, milestone_id, "approve"), {})
    # 450.00 pending, nothing available yet
    tapi.refused(409, "insufficient-funds", WITHDRAW, {"amount": "1.00", "method": "us_bank"})
    tapi.ok(ADVANCE, {"to": "2026-03-07T09:00:00Z"})
    # 401.00 + 50.00 = 451.00 > 450.00
    tapi.refused(409, "insufficient-funds", WITHDRAW, {"amount": "401.00", "method": "wire"})
    assert withdraw(tapi, "400.00", "wire")["balance"]["available"] == usd("0.00")


def test_a_hold_blocks_withdrawals_until_finance_releases_it(tapi: Api) -> None:
    earn_450(tapi)
    hold = place_hold(tapi)
    assert hold["hold_id"].startswith("hold_")
    assert (hold["reason"], hold["active"], hold["withdrawals_blocked_by"]) == (
        "compliance", True, [hold["hold_id"]])
    assert line(tapi) == {"currency": "USD", "pending": usd("0.00"), "available": usd("450.00"),
                          "in_flight": usd("0.00"), "held": usd("450.00"),
                          "withdrawable": usd("0.00")}
    tapi.refused(409, "withdrawals-on-hold", WITHDRAW, {"amount": "100.00", "method": "wire"})

    released = finance_post(tapi, f"/v1/holds/{hold['hold_id']}/release", {"note": "done"})
    assert released.status_code == 200, released.text
    assert (released.json()["active"], released.json()["withdrawals_blocked_by"]) == (False, [])
    assert line(tapi)["withdrawable"] == usd("450.00")
    withdraw(tapi, "100.00", "wire")
    # released twice: 409, nothing written
    before = tapi.ledger.position()
    assert_problem(finance_post(tapi, f"/v1/holds/{hold['hold_id']}/release", {}), 409,
                   "hold-state")
    assert tapi.ledger.position() == before


def test_a_cancelled_withdrawal_returns_the_amount_and_keeps_the_fee(tapi: Api) -> None:
    earn_450(tapi)
    w = withdraw(tapi, "100.00", "local_bank")
    cancelled = step(tapi, w["withdrawal_id"], "cancel", {"reason": "changed my mind"})
    assert cancelled["state"] == "cancelled"
    assert books(tapi) == {AVAILABLE: "449.01", IN_FLIGHT: "0.00", FEES: "0.99",
                           PAYOUTS: None}


def test_each_step_in_the_wrong_state_is_409_withdrawal_state_with_nothing_written(
        tapi: Api) -> None:
    earn_450(tapi)
    w = withdraw(tapi, "100.00", "us_bank")["withdrawal_id"]
    path = f"/v1/withdrawals/{w}/"
    tapi.refused(409, "withdrawal-state", path + "settled", {})  # not sent yet
    step(tapi, w, "sent")
    tapi.refused(409, "withdrawal-state", path + "sent", {})
    tapi.refused(409, "withdrawal-state", path + "cancel", {})  # sent: only a failure
    step(tapi, w, "settled")
    for verb in ("sent", "settled", "failed", "cancel"):
        tapi.refused(409, "withdrawal-state", path + verb, {})


def test_unknown_ids_bad_bodies_and_wrong_scopes_are_refused_with_nothing_written(
        tapi: Api) -> None:
    earn_450(tapi)
    unknown = "wd_" + "0" * 32 + "_3"
    tapi.refused(404, "withdrawal-not-found", f"/v1/withdrawals/{unknown}/sent", {})
    tapi.refused(404, "withdrawal-not-found", "/v1/withdrawals/not-an-id/sent", {})
    tapi.refused(404, "freelancer-not-found", "/v1/freelancers/nobody/withdrawals",
                 {"amount": "10.00", "method": "us_bank"})
    tapi.refused(422, "invalid-input", WITHDRAW, {"amount": "10.00", "method": "paypal"})
    tapi.refused(422, "invalid-input", WITHDRAW, {"amount": 10.0, "method": "us_bank"})
    tapi.refused(422, "non-positive-amount", WITHDRAW, {"amount": "-1.00", "method": "us_bank"})
    tapi.refused(422, "amount-precision", WITHDRAW, {"amount": "1.001", "method": "us_bank"})
    tapi.refused(422, "currency-mismatch", WITHDRAW,
                 {"amount": "10.00", "currency": "EUR", "method": "us_bank"})
    # holds are finance's: a commands key is 403; a finance key cannot withdraw
    tapi.refused(403, "insufficient-scope", HOLDS, {"reason": "manual"}, key=COMMANDS_KEY)
    tapi.refused(403, "insufficient-scope", WITHDRAW, {"amount": "10.00", "method": "us_bank"},
                 key=FINANCE_KEY)
    tapi.refused(422, "invalid-input", HOLDS, {"reason": "because"}, key=FINANCE_KEY)
    tapi.refused(404, "hold-not-found", f"/v1/holds/hold_{'0' * 32}_2/release", {},
                 key=FINANCE_KEY)


def test_a_chargeback_hold_is_lifted_by_its_chargeback_not_by_finance(tapi: Api) -> None:
    contract_id = tapi.open_contract()
    paid = tapi.ok(f"/v1/contracts/{contract_id}/bonuses", {"amount": usd("100.00")},
                   status=201)
    cb = tapi.ok(f"/v1/payments/{paid['payment_id']}/chargebacks", {"reason": "fraud"},
                 status=201)
    tapi.refused(409, "hold-state", f"/v1/holds/{cb['chargeback_id']}/release", {},
                 key=FINANCE_KEY)
    tapi.ok(f"/v1/chargebacks/{cb['chargeback_id']}/won", {})
    tapi.ok(ADVANCE, {"to": "2026-03-07T09:00:00Z"})
    assert withdraw(tapi, "90.00", "us_bank")["balance"]["available"] == usd("0.00")


def test_a_replayed_withdrawal_answers_the_same_and_moves_money_once(tapi: Api) -> None:
    earn_450(tapi)
    body = {"amount": "100.00", "method": "wire"}
    first = tapi.post(WITHDRAW, body, idempotency_key="wd-1")
    again = tapi.post(WITHDRAW, body, idempotency_key="wd-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert books(tapi)[AVAILABLE] == "300.00"
    tapi.refused(409, "idempotency-key-reused", WITHDRAW, {**body, "amount": "101.00"},
                 idempotency_key="wd-1")


def test_the_withdrawals_list_is_newest_first_paginated_filterable_with_totals(
        tapi: Api) -> None:
    earn_450(tapi)
    ids = []
    for minutes in range(5):
        tapi.ok(ADVANCE, {"to": f"2026-03-07T10:0{minutes}:00Z"})
        ids.append(withdraw(tapi, "10.00", "instant_debit_card")["withdrawal_id"])
    step(tapi, ids[0], "cancel")
    step(tapi, ids[1], "sent")
    step(tapi, ids[1], "settled")

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = tapi.get(WITHDRAW, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [w["withdrawal_id"] for w in page["withdrawals"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert (seen, pages) == (ids[::-1], 3)
    assert page["position"] == tapi.ledger.position()

    requested = tapi.get(WITHDRAW, params={"state": "requested"}).json()
    assert [w["withdrawal_id"] for w in requested["withdrawals"]] == ids[:1:-1]
    row = tapi.get(WITHDRAW, params={"state": "settled"}).json()["withdrawals"][0]
    assert {k: row[k] for k in ("withdrawal_id", "method", "amount", "fee", "requested_at",
                                "settled_at", "returned_at")} == {
        "withdrawal_id": ids[1], "method": "instant_debit_card", "amount": usd("10.00"),
        "fee": usd("2.00"), "requested_at": "2026-03-07T10:01:00+00:00",
        "settled_at": "2026-03-07T10:04:00+00:00", "returned_at": None}
    totals = {t["state"]: (t["count"], t["amount"], t["fees"]) for t in requested["totals"]}
    assert totals == {"cancelled": (1, usd("10.00"), usd("2.00")),
                      "settled": (1, usd("10.00"), usd("2.00")),
                      "requested": (3, usd("30.00"), usd("6.00"))}

    assert_problem(tapi.get(WITHDRAW, params={"state": "lost"}), 422, "invalid-input")
    assert_problem(tapi.get(WITHDRAW, params={"cursor": "garbage"}), 422, "invalid-cursor")
    assert_problem(tapi.get(WITHDRAW, params={"limit": 0}), 422, "invalid-input")
    assert_problem(tapi.get("/v1/freelancers/nobody/withdrawals"), 404, "freelancer-not-found")
    one = tapi.get(f"/v1/withdrawals/{ids[1]}", key=READ_KEY)
    assert (one.status_code, one.json()["state"]) == (200, "settled")
