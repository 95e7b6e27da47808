"""Job Success Score inputs over HTTP, on both stores, with the test clock.

The same four contracts as ``tests/integration/test_jss_inputs.py`` (its module
docstring holds the hand table), driven through the routes: a $1,200.00
fixed-price contract paid over 105 days, one ended paying none and refunded,
one disputed and settled by mediation at $600.00, and three hourly weeks;
c-bolt is flagged by finance. The answer must equal that hand table exactly.
Refusals are problems with their slug, and write nothing.
"""

from __future__ import annotations

from typing import Any

from tests.api.conftest import COMMANDS_KEY, FINANCE_KEY, READ_KEY, Api, assert_problem, usd
from tests.integration.test_jss_inputs import ACME, BOLT, expected_july

ADVANCE = "/v1/test-clock/advance"
JSS = "/v1/freelancers/f1/jss-inputs"


def advance(api: Api, to: str) -> None:
    api.ok(ADVANCE, {"to": to})


def open_fixed(api: Api, client: str) -> str:
    return api.open_contract(client_id=client, freelancer_id="f1")


def funded(api: Api, contract_id: str, amount: str) -> str:
    milestone_id = api.add_milestone(contract_id, amount)
    api.ok(api.milestone_path(contract_id, milestone_id, "fund"))
    return milestone_id


def paid_milestone(api: Api, contract_id: str, when: str | None) -> None:
    """Funded and approved at ``when`` (None: now)."""
    if when is not None:
        advance(api, when)
    milestone_id = funded(api, contract_id, "400.00")
    api.ok(api.milestone_path(contract_id, milestone_id, "approve"))


def end(api: Api, contract_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return api.ok(f"/v1/contracts/{contract_id}/end", body)


def feedback(rating: int, comment: str) -> dict[str, Any]:
    return {"rating": rating, "comment": comment}


def four_contracts(api: Api) -> dict[str, str]:
    a = open_fixed(api, ACME)
    paid_milestone(api, a, None)  # the clock starts at 2026-03-02T09:00:00Z

    advance(api, "2026-03-03T10:00:00Z")
    b = open_fixed(api, ACME)
    funded(api, b, "300.00")
    advance(api, "2026-03-03T11:00:00Z")
    request_b = end(api, b, {"by": "client", "pay": "none",
                             "feedback": feedback(2, "Did not deliver")})["refund_request_id"]
    advance(api, "2026-03-04T10:00:00Z")
    api.ok(f"/v1/contracts/{b}/refund-requests/{request_b}/approve")

    advance(api, "2026-03-05T10:00:00Z")
    c = open_fixed(api, BOLT)
    funded(api, c, "1000.00")
    advance(api, "2026-03-05T11:00:00Z")
    request_c = end(api, c, {"by": "client", "pay": "none",
                             "feedback": feedback(3, "Mixed")})["refund_request_id"]
    advance(api, "2026-03-06T10:00:00Z")
    dispute = api.ok(f"/v1/contracts/{c}/refund-requests/{request_c}/dispute",
                     status=201)["dispute_id"]
    advance(api, "2026-03-07T10:00:00Z")
    api.ok(f"/v1/disputes/{dispute}/respond", {"by": "client"})
    advance(api, "2026-03-08T10:00:00Z")
    api.ok(f"/v1/disputes/{dispute}/propose", {"release": usd("600.00")})
    advance(api, "2026-03-08T11:00:00Z")
    api.ok(f"/v1/disputes/{dispute}/accept", {"by": "freelancer"})
    advance(api, "2026-03-08T12:00:00Z")
    api.ok(f"/v1/disputes/{dispute}/accept", {"by": "client"})

    advance(api, "2026-03-09T09:00:00Z")
    d = api.ok("/v1/contracts", {
        "kind": "hourly", "client_id": BOLT, "freelancer_id": "f1", "currency": "USD",
        "hourly_rate": usd("40.00"), "weekly_limit_hours": 20, "manual_time_allowed": False,
    }, status=201)["contract_id"]
    for day, minutes in (("2026-03-09", 300), ("2026-03-16", 450), ("2026-03-23", 150)):
        advance(api, f"{day}T18:00:00Z")  # Monday noon passed: last week invoiced
        api.ok(f"/v1/contracts/{d}/time-entries", {"worked_on": day, "minutes": minutes},
               status=201)
    advance(api, "2026-04-06T10:00:00Z")  # the third week released on 4 April
    end(api, d, {"by": "freelancer", "feedback": feedback(4, "Good client")})
    advance(api, "2026-04-10T09:00:00Z")
    flagged = api.post(f"/v1/clients/{BOLT}/flag", {"reason": "chargeback pattern"},
                       key=FINANCE_KEY)
    assert flagged.status_code == 200, flagged.text
    assert flagged.json() == {"client_id": BOLT, "flagged": True,
                              "reason": "chargeback pattern", "position": api.ledger.position()}

    paid_milestone(api, a, "2026-04-20T10:00:00Z")
    paid_milestone(api, a, "2026-06-15T10:00:00Z")
    end(api, a, {"by": "client", "feedback": feedback(5, "Superb")})
    advance(api, "2026-06-20T10:00:00Z")
    refund_a = api.ok(f"/v1/contracts/{a}/refunds", {"amount": usd("50.00")},
                      status=201)["refund_id"]
    return {"a": a, "b": b, "c": c, "d": d, "dispute": dispute, "request_b": request_b,
            "refund_a": refund_a}


def read(api: Api, **params: Any) -> dict[str, Any]:
    response = api.get(JSS, params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def test_four_contracts_over_http_match_the_hand_table(tapi: Api) -> None:
    ids = four_contracts(tapi)
    position = tapi.ledger.position()
    answer = read(tapi, as_of="2026-07-01T00:00:00Z", min_position=position)
    assert answer.pop("position") == position
    assert answer == expected_july(ids)

    # without as_of: now on the ledger's (test) clock
    advance(tapi, "2026-07-01T00:00:00Z")
    now = read(tapi)
    assert now.pop("position") == tapi.ledger.position()
    assert now == expected_july(ids)

    # as_of in another zone is the same moment
    assert read(tapi, as_of="2026-07-01T02:00:00+02:00")["badges"] == \
        expected_july(ids)["badges"]


def test_the_read_honours_min_position_and_refuses_bad_input(tapi: Api) -> None:
    contract_id = open_fixed(tapi, ACME)
    position = tapi.ledger.position()
    answer = read(tapi, min_position=position)
    assert answer["position"] == position
    assert [c["contract_id"] for c in answer["contracts"]] == [contract_id]
    assert_problem(tapi.get(JSS, params={"min_position": position + 100}), 422,
                   "position-not-in-log")
    assert_problem(tapi.get(JSS, params={"as_of": "2026-07-01T00:00:00"}), 422,
                   "invalid-input")
    assert_problem(tapi.get(JSS, params={"as_of": "0001-06-01T00:00:00Z"}), 422,
                   "invalid-input")
    assert_problem(tapi.get(JSS, key=FINANCE_KEY), 403, "insufficient-scope")
    assert_problem(tapi.get(JSS, key=None), 401, "unauthorized")


def test_a_freelancer_without_contracts_answers_empty(tapi: Api) -> None:
    answer = read(tapi, as_of="2026-07-01T00:00:00Z")
    assert answer["contracts"] == []
    assert answer["clients"] == []
    assert answer["eligibility"] == {"since": "2024-07-01T00:00:00+00:00", "jobs": [],
                                     "clients": [], "eligible": False}
    assert answer["badges"]["earnings_12_months"] == usd("0.00")


def test_flag_refusals_write_nothing(tapi: Api) -> None:
    path = f"/v1/clients/{BOLT}/flag"
    tapi.refused(403, "insufficient-scope", path, {"reason": "abuse"}, key=COMMANDS_KEY)
    tapi.refused(403, "insufficient-scope", path, {"reason": "abuse"}, key=READ_KEY)
    tapi.refused(400, "idempotency-key-missing", path, {"reason": "abuse"}, key=FINANCE_KEY,
                 idempotency_key=None)
    tapi.refused(422, "invalid-input", path, {"reason": " "}, key=FINANCE_KEY)
    tapi.refused(422, "invalid-input", path, {}, key=FINANCE_KEY)
    tapi.refused(422, "invalid-input", "/v1/clients/bad:id/flag", {"reason": "abuse"},
                 key=FINANCE_KEY)
    tapi.refused(409, "client-not-flagged", f"/v1/clients/{BOLT}/unflag", key=FINANCE_KEY)

    first = tapi.post(path, {"reason": "abuse"}, key=FINANCE_KEY, idempotency_key="flag-1")
    assert first.status_code == 200, first.text
    replay = tapi.post(path, {"reason": "abuse"}, key=FINANCE_KEY, idempotency_key="flag-1")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    tapi.refused(409, "client-already-flagged", path, {"reason": "abuse"}, key=FINANCE_KEY)
    tapi.refused(409, "idempotency-key-reused", path, {"reason": "other"}, key=FINANCE_KEY,
                 idempotency_key="flag-1")

    lifted = tapi.post(f"/v1/clients/{BOLT}/unflag", {"reason": "paid back"},
                       key=FINANCE_KEY)
    assert lifted.status_code == 200, lifted.text
    assert lifted.json() == {"client_id": BOLT, "flagged": False, "reason": None,
                             "position": tapi.ledger.position()}


def test_feedback_out_of_bounds_is_refused_and_writes_nothing(tapi: Api) -> None:
    contract_id, _ = tapi.funded_milestone("500.00", client_id=ACME, freelancer_id="f1")
    path = f"/v1/contracts/{contract_id}/end"
    for bad in ({"rating": 0}, {"rating": 6}, {"rating": 5, "comment": "x" * 2001}):
        tapi.refused(422, "invalid-feedback", path, {"by": "client", "feedback": bad})
    tapi.refused(422, "invalid-feedback", path, {"by": "client", "feedback": "x" * 2001})
    for shape in ({"rating": "5"}, {"rating": 4.5}, {"rating": 5, "stars": 5}, {}):
        tapi.refused(422, "invalid-input", path, {"by": "client", "feedback": shape})

    ended = tapi.ok(path, {"by": "client",
                           "feedback": {"rating": 1, "comment": "x" * 2000}})
    assert ended["status"] == "ended"
    [row] = read(tapi)["contracts"]
    assert row["feedback"] == {"by": "client", "rating": 1, "comment": "x" * 2000}
    assert row["ended_with_work_paid"] is True
    assert row["earnings_total"] == usd("500.00")


def test_a_bare_comment_is_still_taken_as_feedback_without_rating(tapi: Api) -> None:
    contract_id, _ = tapi.funded_milestone("500.00", client_id=ACME, freelancer_id="f1")
    end(tapi, contract_id, {"by": "client", "feedback": "Great work"})
    [row] = read(tapi)["contracts"]
    assert row["feedback"] == {"by": "client", "rating": None, "comment": "Great work"}
