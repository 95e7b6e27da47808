"""Chargebacks over HTTP, on both stores, with every money figure pinned.

The test clock starts Monday 2 March 2026, 09:00 UTC (the per-contract fee
era). A $1,000.00 milestone funded by card is charged $1,059.95 ($50.00
marketplace fee, $9.95 initiation fee): funding is protected, so a chargeback
of it is the platform's loss. A $100.00 bonus as a contract's first payment is
charged $109.95 ($5.00 + $4.95) and pays $90.00 net: a bonus is unprotected,
so the $90.00 is debited from the freelancer's available balance with a hold
and the platform bears the $19.95 of fees. Figures follow
``tests/integration/test_chargebacks.py``.
"""

from __future__ import annotations

from typing import Any

from tests.api.conftest import FINANCE_KEY, READ_KEY, Api, assert_problem, usd

ADVANCE = "/v1/test-clock/advance"
CLEARING = "processor:clearing"
LOSSES = "expense:chargeback_losses"
PENDING = "freelancer:freelancer-ada:pending"
AVAILABLE = "freelancer:freelancer-ada:available"
UNKNOWN_CONTRACT_PAYMENT = "pay_" + "0" * 31 + "1_3"
HOURLY = {"kind": "hourly", "client_id": "client-acme", "freelancer_id": "freelancer-ada",
          "currency": "USD", "hourly_rate": usd("40.00"), "weekly_limit_hours": 20,
          "manual_time_allowed": False}


# --- helpers --------------------------------------------------------------------------------------


def hex_of(contract_id: str) -> str:
    return contract_id.replace("-", "")


def chargeback_path(payment_id: str) -> str:
    return f"/v1/payments/{payment_id}/chargebacks"


def decide_path(chargeback_id: str, decision: str) -> str:
    return f"/v1/chargebacks/{chargeback_id}/{decision}"


def funded_payment(api: Api, amount: str = "1000.00",
                   **contract: Any) -> tuple[str, str, str]:
    """A milestone funded by card: (contract, milestone, payment id)."""
    contract_id = api.open_contract(**contract)
    milestone_id = api.add_milestone(contract_id, amount)
    funded = api.ok(api.milestone_path(contract_id, milestone_id, "fund"))
    return contract_id, milestone_id, str(funded["payment_id"])


def bonus(api: Api, contract_id: str, amount: str = "100.00") -> dict[str, Any]:
    return api.ok(f"/v1/contracts/{contract_id}/bonuses", {"amount": usd(amount)}, status=201)


def charge_back(api: Api, payment_id: str, **body: Any) -> dict[str, Any]:
    return api.ok(chargeback_path(payment_id), {"reason": "fraudulent", **body}, status=201)


def read(api: Api, chargeback_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/chargebacks/{chargeback_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def balances(api: Api, *accounts: str) -> dict[str, str | None]:
    return {a: api.net(a) for a in accounts}


def freelancer(api: Api, freelancer_id: str = "freelancer-ada") -> dict[str, Any]:
    response = api.get(f"/v1/freelancers/{freelancer_id}/balances")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def assert_balanced(api: Api) -> None:
    response = api.get("/v1/finance/trial-balance", key=FINANCE_KEY)
    assert response.status_code == 200, response.text
    assert response.json()["balanced"] is True


# --- payment ids ----------------------------------------------------------------------------------


def test_funding_and_a_bonus_answer_payment_ids_naming_the_contract_and_its_version(
        tapi: Api) -> None:
    contract_id, _, payment_id = funded_payment(tapi)
    assert payment_id == f"pay_{hex_of(contract_id)}_3"  # opened 1, milestone 2, funded 3
    paid = bonus(tapi, contract_id)
    assert paid["payment_id"] == f"pay_{hex_of(contract_id)}_{paid['contract_version']}"
    assert paid["payment_id"] == f"pay_{hex_of(contract_id)}_4"


def test_an_hourly_invoice_firing_lists_its_payment_id_and_can_be_charged_back(
        tapi: Api) -> None:
    contract_id = tapi.ok("/v1/contracts", {**HOURLY}, status=201)["contract_id"]
    tapi.ok(f"/v1/contracts/{contract_id}/time-entries",
            {"worked_on": "2026-03-02", "minutes": 120, "manual": False}, status=201)
    assert tapi.ok(ADVANCE, {"to": "2026-03-09T11:59:00Z"})["fired"] == []
    [fired] = tapi.ok(ADVANCE, {"to": "2026-03-09T12:00:00Z"})["fired"]
    assert (fired["kind"], fired["due"]) == ("hourly_invoice", "2026-03-09T12:00:00+00:00")
    outcome = fired["outcome"]
    assert outcome["invoiced"] is True
    # opened 1, time logged 2, invoiced 3
    assert outcome["payment_id"] == f"pay_{hex_of(contract_id)}_3"
    # 2 h at $40 = 80.00, 5% marketplace fee 4.00, initiation fee under $100 0.99
    assert (outcome["amount"], outcome["marketplace_fee"]) == (usd("80.00"), usd("4.00"))
    assert tapi.net(CLEARING) == "84.99"

    # an invoice is protected: all of it is the platform's loss
    cb = charge_back(tapi, outcome["payment_id"])
    assert (cb["payment_id"], cb["contract_id"]) == (outcome["payment_id"], contract_id)
    assert (cb["amount"], cb["platform_loss"], cb["freelancer_debit"]) == (
        usd("84.99"), usd("84.99"), usd("0.00"))
    assert (cb["client_suspended"], cb["freelancer_holds"]) == (True, [])
    assert balances(tapi, CLEARING, LOSSES) == {CLEARING: "0.00", LOSSES: "84.99"}
    view = read(tapi, cb["chargeback_id"])
    assert (view["status"], view["received_at"], view["platform_loss"]) == (
        "open", "2026-03-09T12:00:00+00:00", usd("84.99"))
    assert_balanced(tapi)


# --- a protected payment --------------------------------------------------------------------------


def test_a_funding_chargeback_is_the_platforms_loss_and_suspends_the_client_until_won(
        tapi: Api) -> None:
    contract_id, milestone_id, payment_id = funded_payment(tapi)
    assert tapi.net(CLEARING) == "1059.95"
    cb = charge_back(tapi, payment_id)
    chargeback_id = cb["chargeback_id"]
    assert chargeback_id == f"cb_{hex_of(contract_id)}_{cb['contract_version']}"
    assert cb == {
        "position": cb["position"],
        "contract_version": cb["contract_version"],
        "chargeback_id": chargeback_id,
        "payment_id": payment_id,
        "contract_id": contract_id,
        "client_id": "client-acme",
        "freelancer_id": "freelancer-ada",
        "status": "open",
        "amount": usd("1059.95"),
        "platform_loss": usd("1059.95"),
        "freelancer_debit": usd("0.00"),
        "client_suspended": True,
        "freelancer_holds": [],
        "received_at": "2026-03-02T09:00:00+00:00",
        "decided_at": None,
    }
    assert balances(tapi, CLEARING, LOSSES, f"escrow:{contract_id}:{milestone_id}") == {
        CLEARING: "0.00", LOSSES: "1059.95",
        f"escrow:{contract_id}:{milestone_id}": "1000.00"}  # the escrow stays
    assert_balanced(tapi)

    # the suspended client may not move money, nor open a contract
    other_milestone = tapi.add_milestone(contract_id, "200.00", "Build")
    tapi.refused(409, "client-suspended",
                 tapi.milestone_path(contract_id, other_milestone, "fund"))
    tapi.refused(409, "client-suspended",
                 tapi.milestone_path(contract_id, milestone_id, "approve"), {})
    tapi.refused(409, "client-suspended", "/v1/contracts",
                 {"kind": "fixed_price", "client_id": "client-acme",
                  "freelancer_id": "freelancer-bob", "currency": "USD"})
    tapi.refused(409, "client-suspended", f"/v1/contracts/{contract_id}/bonuses",
                 {"amount": usd("10.00")})
    # another client (with another freelancer) is unaffected: $200.00 funded by card is
    # charged 200.00 + 10.00 + the 4.95 initiation fee, approved, then a $10.00 bonus
    other_contract, other_ms, _ = funded_payment(tapi, "200.00", client_id="client-globex",
                                                 freelancer_id="freelancer-bob")
    tapi.ok(tapi.milestone_path(other_contract, other_ms, "approve"), {})
    bonus(tapi, other_contract, "10.00")
    assert balances(tapi, CLEARING, "freelancer:freelancer-bob:pending", PENDING) == {
        CLEARING: "225.45",  # 214.95 + 10.50
        "freelancer:freelancer-bob:pending": "189.00",  # 180.00 + 9.00
        PENDING: None}

    won = tapi.ok(decide_path(chargeback_id, "won"), {})
    assert {k: won[k] for k in ("status", "client_suspended", "decided_at", "amount",
                                "platform_loss", "freelancer_debit", "freelancer_holds")} == {
        "status": "won", "client_suspended": False,
        "decided_at": "2026-03-02T09:00:00+00:00", "amount": usd("1059.95"),
        "platform_loss": usd("1059.95"), "freelancer_debit": usd("0.00"),
        "freelancer_holds": []}
    # the processor returned the 1,059.95: the loss reverses
    assert balances(tapi, CLEARING, LOSSES) == {
        CLEARING: "1285.40", LOSSES: "0.00"}  # 1,059.95 back + globex's 225.45
    assert read(tapi, chargeback_id)["status"] == "won"
    # the client can fund and approve again
    tapi.ok(tapi.milestone_path(contract_id, other_milestone, "fund"))
    tapi.ok(tapi.milestone_path(contract_id, milestone_id, "approve"), {})
    assert balances(tapi, CLEARING, PENDING) == {
        CLEARING: "1495.40",  # + 210.00: no initiation fee on the contract's second charge
        PENDING: "900.00"}
    assert_balanced(tapi)


def test_winning_one_of_two_chargebacks_leaves_the_client_suspended(tapi: Api) -> None:
    contract_id, _, first = funded_payment(tapi)
    second = tapi.ok(tapi.milestone_path(
        contract_id, tapi.add_milestone(contract_id, "200.00", "Build"), "fund"))["payment_id"]
    a = charge_back(tapi, first)
    b = charge_back(tapi, second)
    assert b["platform_loss"] == usd("210.00")  # the contract's second charge: no initiation fee
    won = tapi.ok(decide_path(a["chargeback_id"], "won"), {})
    assert won["client_suspended"] is True
    assert read(tapi, b["chargeback_id"])["client_suspended"] is True
    tapi.refused(409, "client-suspended", f"/v1/contracts/{contract_id}/bonuses",
                 {"amount": usd("10.00")})
    assert balances(tapi, CLEARING, LOSSES) == {CLEARING: "1059.95", LOSSES: "210.00"}
    lifted = tapi.ok(decide_path(b["chargeback_id"], "won"), {})
    assert lifted["client_suspended"] is False
    bonus(tapi, contract_id, "10.00")
    assert_balanced(tapi)


# --- an unprotected payment -----------------------------------------------------------------------


def test_a_bonus_chargeback_is_debited_from_the_freelancer_with_a_hold_until_whole(
        tapi: Api) -> None:
    contract_id = tapi.open_contract()
    paid = bonus(tapi, contract_id)  # the contract's first payment
    assert {k: paid[k] for k in ("gross", "marketplace_fee", "initiation_fee", "service_fee",
                                 "net", "available_at")} == {
        "gross": usd("100.00"), "marketplace_fee": usd("5.00"),
        "initiation_fee": usd("4.95"), "service_fee": usd("10.00"), "net": usd("90.00"),
        "available_at": "2026-03-07T09:00:00+00:00"}
    assert balances(tapi, CLEARING, PENDING) == {CLEARING: "109.95", PENDING: "90.00"}

    cb = charge_back(tapi, paid["payment_id"])
    chargeback_id = cb["chargeback_id"]
    assert (cb["amount"], cb["platform_loss"], cb["freelancer_debit"]) == (
        usd("109.95"), usd("19.95"), usd("90.00"))
    assert (cb["status"], cb["client_suspended"], cb["freelancer_holds"]) == (
        "open", True, [chargeback_id])
    # the 90.00 is still pending: available goes negative by the debit
    assert balances(tapi, CLEARING, LOSSES, AVAILABLE, PENDING) == {
        CLEARING: "0.00", LOSSES: "19.95", AVAILABLE: "-90.00", PENDING: "90.00"}
    assert freelancer(tapi)["holds"] == [chargeback_id]
    assert_balanced(tapi)

    lost = tapi.ok(decide_path(chargeback_id, "lost"), {})
    assert (lost["status"], lost["client_suspended"], lost["freelancer_holds"]) == (
        "lost", True, [chargeback_id])
    assert lost["decided_at"] == "2026-03-02T09:00:00+00:00"
    assert balances(tapi, LOSSES, AVAILABLE) == {LOSSES: "19.95", AVAILABLE: "-90.00"}
    assert freelancer(tapi)["holds"] == [chargeback_id]
    # a lost chargeback leaves the client suspended
    tapi.refused(409, "client-suspended", f"/v1/contracts/{contract_id}/bonuses",
                 {"amount": usd("10.00")})

    # five days later the bonus's 90.00 matures: the balance is whole, the hold lifts
    assert tapi.ok(ADVANCE, {"to": "2026-03-07T08:59:00Z"})["fired"] == []
    assert freelancer(tapi)["holds"] == [chargeback_id]
    fired = tapi.ok(ADVANCE, {"to": "2026-03-07T09:00:00Z"})["fired"]
    assert [(f["kind"], f["due"]) for f in fired] == [
        ("security_period", "2026-03-07T09:00:00+00:00")]
    assert balances(tapi, PENDING, AVAILABLE) == {PENDING: "0.00", AVAILABLE: "0.00"}
    view = freelancer(tapi)
    assert view["holds"] == []
    assert view["balances"] == [{"currency": "USD", "pending": usd("0.00"),
                                 "available": usd("0.00"), "in_flight": usd("0.00"),
                                 "held": usd("0.00"), "withdrawable": usd("0.00")}]
    assert read(tapi, chargeback_id)["freelancer_holds"] == []
    assert_balanced(tapi)


def test_a_won_bonus_chargeback_gives_the_freelancer_its_money_back(tapi: Api) -> None:
    contract_id = tapi.open_contract()
    paid = bonus(tapi, contract_id)
    cb = charge_back(tapi, paid["payment_id"])
    won = tapi.ok(decide_path(cb["chargeback_id"], "won"), {})
    assert (won["status"], won["client_suspended"], won["freelancer_holds"]) == (
        "won", False, [])
    assert balances(tapi, CLEARING, LOSSES, AVAILABLE, PENDING) == {
        CLEARING: "109.95", LOSSES: "0.00", AVAILABLE: "0.00", PENDING: "90.00"}
    assert freelancer(tapi)["holds"] == []
    assert_balanced(tapi)


# --- reading --------------------------------------------------------------------------------------


def test_the_chargeback_reads_with_its_status_and_figures(tapi: Api) -> None:
    contract_id, _, payment_id = funded_payment(tapi)
    cb = charge_back(tapi, payment_id)
    chargeback_id = cb["chargeback_id"]
    view = read(tapi, chargeback_id)
    assert view["position"] == tapi.ledger.position()
    skip = {"position", "contract_version"}
    assert {k: v for k, v in view.items() if k not in skip} == {
        k: v for k, v in cb.items() if k not in skip}
    assert (view["status"], view["amount"], view["platform_loss"],
            view["freelancer_debit"]) == ("open", usd("1059.95"), usd("1059.95"), usd("0.00"))

    tapi.ok(ADVANCE, {"to": "2026-03-03T10:00:00Z"})
    tapi.ok(decide_path(chargeback_id, "lost"), {})
    view = read(tapi, chargeback_id)
    assert (view["status"], view["client_suspended"], view["received_at"],
            view["decided_at"]) == ("lost", True, "2026-03-02T09:00:00+00:00",
                                    "2026-03-03T10:00:00+00:00")
    assert view["platform_loss"] == usd("1059.95")
    assert view["contract_id"] == contract_id


# --- refusals -------------------------------------------------------------------------------------


def test_unknown_payments_and_chargebacks_are_404_with_nothing_written(tapi: Api) -> None:
    contract_id, _, payment_id = funded_payment(tapi)
    other_version = payment_id.rsplit("_", 1)[0] + "_9"
    for unknown in ("pay_nope", UNKNOWN_CONTRACT_PAYMENT, other_version):
        tapi.refused(404, "payment-not-found", chargeback_path(unknown), {"reason": "x"})
    cb = charge_back(tapi, payment_id)
    unknown_cbs = ("cb_nope", "cb_" + "0" * 31 + "1_5",
                   cb["chargeback_id"].rsplit("_", 1)[0] + "_9")
    for unknown in unknown_cbs:
        for decision in ("won", "lost"):
            tapi.refused(404, "chargeback-not-found", decide_path(unknown, decision), {})
        assert_problem(tapi.get(f"/v1/chargebacks/{unknown}"), 404, "chargeback-not-found")
    assert contract_id


def test_a_payment_charged_back_twice_or_a_chargeback_decided_twice_is_409(
        tapi: Api) -> None:
    _, _, payment_id = funded_payment(tapi)
    cb = charge_back(tapi, payment_id)
    tapi.refused(409, "chargeback-state", chargeback_path(payment_id), {"reason": "again"})
    tapi.ok(decide_path(cb["chargeback_id"], "lost"), {})
    tapi.refused(409, "chargeback-state", chargeback_path(payment_id), {"reason": "again"})
    for decision in ("won", "lost"):
        tapi.refused(409, "chargeback-state", decide_path(cb["chargeback_id"], decision), {})
    assert read(tapi, cb["chargeback_id"])["status"] == "lost"
    assert tapi.net(LOSSES) == "1059.95"


def test_malformed_or_unauthorised_chargeback_requests_are_refused(tapi: Api) -> None:
    _, _, payment_id = funded_payment(tapi)
    path = chargeback_path(payment_id)
    tapi.refused(400, "idempotency-key-missing", path, {"reason": "x"}, idempotency_key=None)
    tapi.refused(422, "invalid-input", path, {"reason": "x", "extra": 1})
    tapi.refused(422, "invalid-input", path, {"reason": "x" * 501})
    tapi.refused(401, "unauthorized", path, {"reason": "x"}, key=None)
    tapi.refused(403, "insufficient-scope", path, {"reason": "x"}, key=READ_KEY)
    cb = charge_back(tapi, payment_id)
    won = decide_path(cb["chargeback_id"], "won")
    tapi.refused(400, "idempotency-key-missing", won, {}, idempotency_key=None)
    tapi.refused(422, "invalid-input", won, {"won": False})
    assert read(tapi, cb["chargeback_id"])["status"] == "open"


def test_a_replayed_chargeback_answers_the_same_and_writes_nothing(tapi: Api) -> None:
    _, _, payment_id = funded_payment(tapi)
    path = chargeback_path(payment_id)
    first = tapi.post(path, {"reason": "fraudulent"}, idempotency_key="cb-1")
    assert first.status_code == 201, first.text
    position = tapi.ledger.position()

    again = tapi.post(path, {"reason": "fraudulent"}, idempotency_key="cb-1")
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.json()["chargeback_id"] == first.json()["chargeback_id"]
    assert tapi.ledger.position() == position
    assert tapi.net(LOSSES) == "1059.95"  # once
    # the same key on another request is refused
    tapi.refused(409, "idempotency-key-reused", path, {"reason": "other"},
                 idempotency_key="cb-1")
