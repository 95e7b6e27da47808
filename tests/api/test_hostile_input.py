"""Hostile and malformed input: each a clear 4xx problem, at once, with nothing written.

Why: a ledger is reached by other services' bugs before anyone's malice. A body
nested 10,000 deep, a float for money, a NUL in an id, a year 9999 in another
zone: each must be refused with a problem a caller can act on, never a 500 or a
hang, and never after writing half of something. Every case runs on SQLite and
PostgreSQL, which differ exactly here (PostgreSQL refuses a NUL in any text
parameter, so a NUL in a path id used to be a 500 there only).

Duplicate keys, NaN/Infinity literals, bodies over 1 MiB and a third decimal
place on milestones are in ``test_strict_json.py``; If-Match in
``test_optimistic_versions.py``.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import httpx

from ledger.application import EscrowLedger
from tests.api.conftest import (
    AUDIT_KEY,
    COMMANDS_KEY,
    FINANCE_KEY,
    READ_KEY,
    Api,
    assert_problem,
    bearer,
    usd,
)

JSON = "application/json"
OPEN = {"kind": "fixed_price", "client_id": "client-acme", "freelancer_id": "freelancer-ada",
        "currency": "USD"}
HOURLY = {**OPEN, "kind": "hourly", "hourly_rate": usd("40.00"), "weekly_limit_hours": 10}


def raw(api: Api, path: str, content: bytes, content_type: str | None = JSON,
        **headers: str) -> httpx.Response:
    h = {**bearer(COMMANDS_KEY), "Idempotency-Key": str(uuid.uuid4()), **headers}
    if content_type is not None:
        h["Content-Type"] = content_type
    response: httpx.Response = api.client.post(path, content=content, headers=h)
    return response


def refused_raw(api: Api, status: int, slug: str, path: str, content: bytes,
                content_type: str | None = JSON, **headers: str) -> dict[str, Any]:
    before = api.ledger.position()
    started = time.monotonic()
    body = assert_problem(raw(api, path, content, content_type, **headers), status, slug)
    assert time.monotonic() - started < 5, "a refusal that took seconds"
    assert api.ledger.position() == before, "a refused request wrote to the log"
    return body


def read_refused(api: Api, status: int, slug: str, path: str, key: str = READ_KEY,
                 **params: Any) -> dict[str, Any]:
    before = api.ledger.position()
    body = assert_problem(api.get(path, key=key, params=params or None), status, slug)
    assert api.ledger.position() == before
    return body


def milestones(api: Api) -> str:
    return f"/v1/contracts/{api.open_contract()}/milestones"


# --- structure -------------------------------------------------------------------------


NESTED = {
    "arrays-10k": b"[" * 10_000 + b"]" * 10_000,
    "in-a-field-100k": b'{"title": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "objects-50k": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
}


def test_deeply_nested_json_is_a_400_at_once(api: Api, subtests: Any) -> None:
    path = milestones(api)
    for name, content in NESTED.items():
        with subtests.test(name):
            body = refused_raw(api, 400, "bad-request", path, content)
            assert body["detail"] == "There was an error parsing the body"


def test_nesting_the_parser_can_hold_is_an_ordinary_422(api: Api) -> None:
    content = b'{"title": ' + b"[" * 500 + b"]" * 500 + b', "amount": {"amount": "5.00", ' \
        b'"currency": "USD"}}'
    body = refused_raw(api, 422, "invalid-input", milestones(api), content)
    assert body["errors"][0]["loc"] == ["body", "title"]


MALFORMED = [  # (body, status, slug)
    (b'{"title": "x", "amount": ', 422, "invalid-input"),  # cut short
    (b'{"title": "x", "amount": {"amount": "5.00", "currency": "USD"},}', 422, "invalid-input"),
    (b'{"title": "\xff"}', 400, "bad-request"),  # not UTF-8
    (b"", 422, "invalid-input"),
    (b"null", 422, "invalid-input"),
    (b"[]", 422, "invalid-input"),
    (b'"title"', 422, "invalid-input"),
]


def test_malformed_json_is_refused(api: Api, subtests: Any) -> None:
    path = milestones(api)
    for content, status, slug in MALFORMED:
        with subtests.test(content[:40]):
            refused_raw(api, status, slug, path, content)


def test_a_body_that_is_not_json_is_refused(api: Api, subtests: Any) -> None:
    """415 naming the media type the route reads, even when the bytes are JSON."""
    path = milestones(api)
    json_text = b'{"title": "x", "amount": {"amount": "5.00", "currency": "USD"}}'
    form = b'--b\r\nContent-Disposition: form-data; name="title"\r\n\r\nx\r\n--b--\r\n'
    for content_type, content in [("text/plain", json_text), ("application/xml", json_text),
                                  ("application/x-www-form-urlencoded", b"title=x&amount=5"),
                                  ("multipart/form-data; boundary=b", form)]:
        with subtests.test(content_type):
            body = refused_raw(api, 415, "unsupported-media-type", path, content, content_type)
            assert "application/json" in body["detail"]


def test_a_huge_idempotency_key_is_400(api: Api) -> None:
    path = milestones(api)
    for length in (201, 100_000):
        refused_raw(api, 400, "idempotency-key-invalid", path,
                    b'{"title": "x", "amount": {"amount": "5.00", "currency": "USD"}}',
                    **{"Idempotency-Key": "k" * length})


# --- numbers and money -----------------------------------------------------------------


NOT_DECIMAL_STRINGS = [
    b"500.0", b"500", b"1e999", b"-0.0", b'"NaN"', b'"Infinity"', b'"1e3"', b'" 5.00"',
    b'"\xd9\xa5.00"',  # an Arabic-Indic digit five
]
WRONG_KIND_OF_NUMBER: list[tuple[str, dict[str, Any]]] = [
    ("/v1/freelancers/freelancer-ada/withdrawals",
     {"amount": 5.0, "currency": "USD", "method": "us_bank"}),
    ("/v1/contracts", {**HOURLY, "weekly_limit_hours": 10.0}),
    ("/v1/contracts", {**HOURLY, "weekly_limit_hours": True}),
    ("/v1/freelancers/freelancer-ada/connects/purchases", {"connects": 1.5}),
    ("/v1/freelancers/freelancer-ada/connects/purchases", {"connects": "10"}),
    ("/v1/freelancers/freelancer-ada/connects/purchases", {"connects": 10**30}),
    ("/v1/contracts", {**OPEN, "service_fee_rate": 0.1}),
    ("/v1/contracts", {**OPEN, "service_fee_rate": "NaN"}),
]


def test_money_that_is_not_a_plain_decimal_string_is_refused(api: Api, subtests: Any) -> None:
    path = milestones(api)
    for amount in NOT_DECIMAL_STRINGS:
        with subtests.test(amount):
            content = b'{"title": "x", "amount": {"amount": ' + amount + b', "currency": "USD"}}'
            body = refused_raw(api, 422, "invalid-input", path, content)
            assert body["errors"][0]["loc"] == ["body", "amount", "amount"]
    for path, body in WRONG_KIND_OF_NUMBER:
        with subtests.test(f"{path} {body}"):
            api.refused(422, "invalid-input", path, body)


def test_unknown_currencies_and_currencies_without_fees_are_refused(
        api: Api, subtests: Any) -> None:
    path = milestones(api)
    for currency, slug in [
        ("usd", "unknown-currency"), ("XYZ", "unknown-currency"), ("", "unknown-currency"),
        ("U\x00D", "unknown-currency"), ("€€€", "unknown-currency"),
        ("EUR", "currency-mismatch"), ("JPY", "currency-mismatch"),
        ("CONNECTS", "currency-mismatch"),  # the second unit of account is not money
    ]:
        with subtests.test(currency):
            api.refused(422, slug, path,
                        {"title": "x", "amount": {"amount": "500", "currency": currency}})
    for currency in ("XXX", "XTS", "XAU", "CONNECTS", "JPY"):
        with subtests.test(f"contract in {currency}"):
            api.refused(422, "unsupported-currency", "/v1/contracts",
                        {**OPEN, "currency": currency})


def test_negative_and_zero_amounts_are_refused_on_every_money_route(api: Api) -> None:
    contract_id, milestone_id = api.funded_milestone()
    api.ok(api.milestone_path(contract_id, milestone_id, "submit"))
    approve = api.milestone_path(contract_id, milestone_id, "approve")
    for amount in ("0.00", "-1.00", "-0.00", "0"):
        api.refused(422, "non-positive-amount", approve, {"amount": usd(amount)})
        api.refused(422, "non-positive-amount", f"/v1/contracts/{contract_id}/bonuses",
                    {"amount": usd(amount)})
        api.refused(422, "non-positive-amount", f"/v1/contracts/{contract_id}/refunds",
                    {"amount": usd(amount)})
        api.refused(422, "non-positive-amount", "/v1/freelancers/freelancer-ada/withdrawals",
                    {"amount": amount, "currency": "USD", "method": "us_bank"})
        api.refused(422, "milestone-below-minimum", f"/v1/contracts/{contract_id}/milestones",
                    {"title": "x", "amount": usd(amount)})
        api.refused(422, "rate-below-minimum", "/v1/contracts",
                    {**HOURLY, "hourly_rate": usd(amount)})
    for connects in (0, -1):
        api.refused(422, "invalid-input", "/v1/freelancers/freelancer-ada/connects/purchases",
                    {"connects": connects})


def test_too_many_decimals_are_refused_beyond_milestones(api: Api) -> None:
    contract_id = api.open_contract()
    api.refused(422, "amount-precision", "/v1/freelancers/freelancer-ada/withdrawals",
                {"amount": "5.001", "currency": "USD", "method": "us_bank"})
    api.refused(422, "amount-precision", f"/v1/contracts/{contract_id}/bonuses",
                {"amount": usd("5.000")})
    api.refused(422, "amount-precision", "/v1/contracts",
                {**HOURLY, "hourly_rate": usd("40.001")})
    api.refused(422, "invalid-fee-rate", "/v1/contracts",
                {**OPEN, "service_fee_rate": "0.10000001"})


# --- times -----------------------------------------------------------------------------


CLOCK_TIMES_REFUSED = [
    "2026-03-03T00:00:00",  # naive
    "0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z",
    "9999-12-31T23:59:59-23:59",  # valid ISO 8601, past datetime.max in UTC: was a 500
    "0001-01-01T00:00:00+23:59",  # before datetime.min in UTC: was a 500
    "9000-01-01T00:00:00Z",  # deadlines added to it would overflow
    99_999_999_999_999, "2026-03-03",
]


def test_the_test_clock_refuses_times_out_of_range(tapi: Api, subtests: Any) -> None:
    for to in CLOCK_TIMES_REFUSED:
        with subtests.test(str(to)):
            tapi.refused(422, "invalid-input", "/v1/test-clock/advance", {"to": to})
    # ten years a call at most: every deadline on the way fires, a monthly one 120 times
    problem = tapi.refused(422, "invalid-input", "/v1/test-clock/advance",
                           {"to": "2036-03-02T09:00:00.000001+00:00"})
    assert "at most 3653 days a call" in problem["detail"]
    assert tapi.get("/v1/test-clock").json()["now"] == "2026-03-02T09:00:00+00:00"
    moved = tapi.ok("/v1/test-clock/advance", {"to": "2036-03-02T09:00:00+00:00"})
    assert moved["now"] == "2036-03-02T09:00:00+00:00"


def test_times_and_dates_out_of_range_elsewhere_are_refused(api: Api) -> None:
    for posted in ("9999-12-31T23:00:00Z", "2026-03-01T00:00:00", 1_700_000_000):
        api.refused(422, "invalid-input", "/v1/freelancers/freelancer-ada/connects/boosts",
                    {"job_id": "job-1", "connects": 2, "job_posted_at": posted})
    hourly = api.open_contract(**{k: v for k, v in HOURLY.items() if k not in OPEN}, kind="hourly")
    for day in ("0000-01-01", "10000-01-01", "2026-02-30", "2026-03-02T00:00:00Z", 20260302):
        api.refused(422, "invalid-input", f"/v1/contracts/{hourly}/time-entries",
                    {"worked_on": day, "minutes": 60})
    read_refused(api, 422, "invalid-input", "/v1/freelancers/freelancer-ada/connects/statement",
                 month="9999-12")  # was a 500: the month after it does not exist
    read_refused(api, 422, "invalid-input", "/v1/accounts/processor:clearing/balance",
                 as_of="2026-03-02T09:00:00")
    read_refused(api, 422, "invalid-input", "/v1/revenue", key=FINANCE_KEY,
                 **{"from": "0000-01-01", "to": "2026-03-02"})
    api.refused(422, "invalid-input", "/v1/audit/digest/verify",
                {"position": 0, "link": "0" * 64, "at": "2026-03-02T09:00:00"}, key=AUDIT_KEY,
                idempotency_key=None)


# --- ids and text ----------------------------------------------------------------------


def test_ids_of_the_wrong_shape_or_length_are_refused(api: Api) -> None:
    long_id = "a" * 10_000
    api.refused(404, "contract-not-found", f"/v1/contracts/{long_id}/milestones",
                {"title": "x", "amount": usd("5.00")})
    read_refused(api, 404, "contract-not-found", f"/v1/contracts/{long_id}")
    read_refused(api, 404, "contract-not-found", f"/v1/contracts/{long_id}/milestones")
    read_refused(api, 422, "invalid-input", f"/v1/freelancers/{long_id}/contracts")
    api.refused(422, "invalid-input", "/v1/contracts", {**OPEN, "client_id": long_id})
    api.refused(422, "invalid-input", "/v1/contracts", {**OPEN, "freelancer_id": "bad:id"})
    read_refused(api, 422, "invalid-input", "/v1/freelancers/freelancer-ada/connects",
                 after=2**63)  # was a 500: beyond a 64-bit integer
    for position in (2**63, 10**30):
        api.refused(422, "invalid-input", "/v1/audit/proof",
                    {"position": 1, "digest": {"position": position, "link": "0" * 64}},
                    key=AUDIT_KEY, idempotency_key=None)


def test_control_characters_in_path_ids_are_4xx_on_every_store(
        api: Api, subtests: Any) -> None:
    """The NUL ones were each a 500 on PostgreSQL, which cannot compare a NUL."""
    for bad in ("a%00b", "a%1bb", "%E2%80%AEab"):
        with subtests.test(bad):
            path_ids_refused(api, bad)


def path_ids_refused(api: Api, bad: str) -> None:
    read_refused(api, 422, "invalid-input", f"/v1/clients/{bad}/contracts")
    read_refused(api, 422, "invalid-input", f"/v1/freelancers/{bad}/contracts")
    read_refused(api, 422, "invalid-input", f"/v1/freelancers/{bad}/jss-inputs")
    read_refused(api, 404, "contract-not-found", f"/v1/contracts/{bad}/milestones")
    read_refused(api, 404, "contract-not-found", f"/v1/contracts/{bad}/payments")
    read_refused(api, 404, "contract-not-found", f"/v1/contracts/{bad}")
    api.refused(404, "contract-not-found", f"/v1/contracts/{bad}/milestones",
                {"title": "x", "amount": usd("5.00")})
    cursor = base64.urlsafe_b64encode(b"1 a\x00b").decode()
    read_refused(api, 422, "invalid-cursor", "/v1/deadlines", key=AUDIT_KEY, after=cursor)


TEXT_FIELDS = [  # (path template, body with {v} where the text goes, key)
    ("/v1/contracts/{c}/milestones", {"title": "{v}", "amount": usd("5.00")}, COMMANDS_KEY),
    ("/v1/contracts", {**OPEN, "job_id": "{v}"}, COMMANDS_KEY),
    ("/v1/contracts", {**OPEN, "actor": "{v}"}, COMMANDS_KEY),
    ("/v1/contracts/{c}/end", {"by": "client", "feedback": {"rating": 5, "comment": "{v}"}},
     COMMANDS_KEY),
    ("/v1/contracts/{c}/end", {"by": "client", "feedback": "{v}"}, COMMANDS_KEY),
    ("/v1/freelancers/freelancer-ada/connects/grants", {"connects": 5, "reason": "{v}"},
     COMMANDS_KEY),
    ("/v1/clients/client-acme/flag", {"reason": "{v}"}, FINANCE_KEY),
    ("/v1/freelancers/freelancer-ada/holds", {"reason": "manual", "note": "{v}"}, FINANCE_KEY),
]


def _fill(value: Any, text: str) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, text) for k, v in value.items()}
    return text if value == "{v}" else value


CONTROL_TEXTS = ["a\x00b", "\x1b[31mred", "bell\x07", "left\u202eright", "c1\x85",
                 "isolate\u2066", "del\x7f"]


def test_control_characters_in_text_fields_are_refused(api: Api, subtests: Any) -> None:
    contract_id = api.open_contract()
    for text in CONTROL_TEXTS:
        for path, body, key in TEXT_FIELDS:
            with subtests.test(f"{text!r} {body}"):
                problem = api.refused(422, "invalid-input", path.format(c=contract_id),
                                      _fill(body, text), key=key)
                assert "not allowed" in problem["detail"], problem


def test_line_breaks_are_refused_in_one_line_fields_and_kept_in_free_text(
        api: Api, app: EscrowLedger) -> None:
    path = milestones(api)
    api.refused(422, "invalid-input", path, {"title": "two\nlines", "amount": usd("5.00")})
    api.refused(422, "invalid-input", path, {"title": "tab\tbed", "amount": usd("5.00")})
    contract_id, milestone_id = api.funded_milestone()
    api.ok(api.milestone_path(contract_id, milestone_id, "submit"))
    answer = api.ok(api.milestone_path(contract_id, milestone_id, "request-changes"),
                    {"note": "Please:\n\t- fix the header\r\n\t- and the footer"})
    assert answer["status"] == "changes_requested"
    assert api.ok(path, {"title": "Café déjà vu 日本", "amount": usd("5.00")},
                  status=201)["milestone_id"]


def test_control_characters_in_the_idempotency_key_are_refused(api: Api) -> None:
    refused_raw(api, 400, "idempotency-key-invalid", milestones(api),
                b'{"title": "x", "amount": {"amount": "5.00", "currency": "USD"}}',
                **{"Idempotency-Key": "key\x1b[2J"})
