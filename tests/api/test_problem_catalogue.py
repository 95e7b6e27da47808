"""``GET /v1/problems`` and the OpenAPI ``Problem`` schema list every problem type.

Completeness is checked against the source itself: every slug an
``ApiProblem(...)`` or ``problem_response(...)`` names anywhere in our
packages, every framework status slug, and every ``type = "..."`` an error
class declares must be in the catalogue, with the same status.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.errors import _SLUG_BY_HTTP_STATUS, PROBLEM_BASE, status_of
from api.routes.problems import catalogue
from domain import errors
from tests.api.conftest import COMMANDS_KEY, FINANCE_KEY, READ_KEY, Api, assert_problem

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "ledger", "projections", "api", "reconciliation", "entrypoints")
RAISED = re.compile(r'\b(?:ApiProblem|problem_response)\(\s*(\d{3})\s*,\s*"([a-z0-9-]+)"')
CALLS = re.compile(r"\b(?:ApiProblem|problem_response)\(")
DECLARED = re.compile(r'^\s+type = "([a-z0-9-]+)"', re.MULTILINE)


def sources() -> dict[str, str]:
    return {str(path.relative_to(ROOT)): path.read_text()
            for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def listed() -> dict[str, int]:
    return {k.slug: k.status for k in catalogue()}


def test_every_slug_the_http_layer_answers_is_in_the_catalogue_with_its_status() -> None:
    found: dict[str, int] = {}
    for path, text in sources().items():
        calls = len(CALLS.findall(text)) - text.count("def problem_response(")
        literal = RAISED.findall(text)
        # a slug held in a variable could not be checked: every call names its own
        assert len(literal) == calls or path == "api/errors.py", path
        found.update({slug: int(status) for status, slug in literal})
    found.update({slug: status for status, slug in _SLUG_BY_HTTP_STATUS.items()})
    assert {"unauthorized", "insufficient-scope", "idempotency-key-missing",
            "projection-behind", "store-unavailable", "internal-error"} <= set(found)
    assert {slug: listed().get(slug) for slug in found} == found


def test_every_error_class_type_is_in_the_catalogue() -> None:
    declared = {slug for text in sources().values() for slug in DECLARED.findall(text)}
    assert {"insufficient-escrow", "milestone-not-funded", "ledger-error"} <= declared
    assert declared <= set(listed())


def test_each_error_class_is_listed_with_its_familys_status() -> None:
    for kind in vars(errors).values():
        if isinstance(kind, type) and issubclass(kind, errors.LedgerError):
            assert listed()[kind.type] == status_of(kind), kind


def test_each_slug_is_listed_once_with_a_description() -> None:
    kinds = catalogue()
    assert len({k.slug for k in kinds}) == len(kinds)
    assert all(k.description for k in kinds)
    assert [(k.status, k.slug) for k in kinds] == sorted((k.status, k.slug) for k in kinds)


def test_the_catalogue_answers_slug_type_status_title_and_description(api: Api) -> None:
    response = api.get("/v1/problems")
    assert response.status_code == 200, response.text
    problems = {p["slug"]: p for p in response.json()["problems"]}
    assert problems["insufficient-escrow"] == {
        "slug": "insufficient-escrow",
        "type": PROBLEM_BASE + "insufficient-escrow",
        "status": 409,
        "title": "Insufficient escrow",
        "description": "A release or refund asks for more than the escrow holds for it.",
    }
    assert problems["unauthorized"] == {
        "slug": "unauthorized",
        "type": PROBLEM_BASE + "unauthorized",
        "status": 401,
        "title": "Unauthorized",
        "description": "No API key was sent, or the key is not recognised.",
    }
    assert problems["not-found"]["status"] == 404
    assert problems["unbalanced-entry"]["status"] == 500
    assert problems["projection-behind"]["status"] == 503
    assert set(problems) == set(listed())


@pytest.mark.parametrize(("key", "status", "slug"), [
    (None, 401, "unauthorized"),
    (FINANCE_KEY, 403, "insufficient-scope"),
])
def test_the_catalogue_needs_the_read_scope(
        api: Api, key: str | None, status: int, slug: str) -> None:
    assert_problem(api.get("/v1/problems", key=key), status, slug)


def test_a_commands_key_with_read_reads_the_catalogue(api: Api) -> None:
    assert api.get("/v1/problems", key=COMMANDS_KEY).status_code == 200
    assert api.get("/v1/problems", key=READ_KEY).status_code == 200


def test_the_openapi_problem_type_is_an_enum_of_every_type(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    type_field = schema["components"]["schemas"]["Problem"]["properties"]["type"]
    assert type_field["enum"] == sorted(PROBLEM_BASE + slug for slug in listed())
    assert PROBLEM_BASE + "version-mismatch" in type_field["enum"]
    assert "/v1/problems" in schema["paths"]
    assert "/v1/problems" in type_field["description"]
