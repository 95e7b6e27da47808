"""Finance's trial balance and the auditors' replay check over HTTP."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.application import EscrowLedger
from tests.api.conftest import (
    API_KEYS,
    AUDIT_KEY,
    FINANCE_KEY,
    READ_KEY,
    Api,
    assert_problem,
)


def test_the_trial_balance_is_zero_after_the_worked_example(api: Api) -> None:
    cid, mid = api.funded_milestone("500.00")
    api.ok(api.milestone_path(cid, mid, "approve"), {})
    response = api.get("/v1/finance/trial-balance", key=FINANCE_KEY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["balanced"] is True
    assert body["currencies"] == [{"currency": "USD", "net": "0.00"}]
    assert body["position"] == api.ledger.position()


def test_the_replay_check_finds_no_break_and_names_the_accounts(api: Api) -> None:
    cid, mid = api.funded_milestone("500.00")
    api.ok(api.milestone_path(cid, mid, "approve"), {"amount": {"amount": "123.45",
                                                                 "currency": "USD"}})
    body = api.get("/v1/audit/replay-check", key=AUDIT_KEY).json()
    assert body["ok"] is True
    assert body["breaks"] == []
    assert body["accounts"] >= 6


def test_a_break_between_the_view_and_the_log_is_reported_not_hidden(
        app: EscrowLedger) -> None:
    web = create_app(ledger=app, api_keys=dict(API_KEYS), background_projector=False)
    with TestClient(web) as client:
        api = Api(client, app)
        api.funded_milestone("500.00")
        api.get("/v1/finance/trial-balance", key=FINANCE_KEY)  # catch the view up
        _tamper(web)
        body = api.get("/v1/audit/replay-check", key=AUDIT_KEY).json()
    assert body["ok"] is False
    assert body["breaks"] == [{"account": "revenue:marketplace_fee", "currency": "USD",
                               "replayed": "25.00", "projected": "25.01"}]
    assert body["trial_balance"] == [{"currency": "USD", "net": "-0.01"}]


def _tamper(web: FastAPI) -> None:
    """Alters the view behind the projector's back, as a bug or an intruder might."""
    view = web.state.services.projector.journal.view
    rows = view.fetch("SELECT credits_minor FROM {balances} WHERE account = %s",
                      ["revenue:marketplace_fee"])
    assert rows
    with view.datastore.transaction(commit=True) as cursor:
        cursor.execute(view.sql("UPDATE {balances} SET credits_minor = credits_minor + 1 "
                                 "WHERE account = %s"), ["revenue:marketplace_fee"])


def test_each_check_needs_its_own_scope(api: Api) -> None:
    assert_problem(api.get("/v1/finance/trial-balance", key=READ_KEY), 403,
                   "insufficient-scope")
    assert_problem(api.get("/v1/audit/replay-check", key=FINANCE_KEY), 403,
                   "insufficient-scope")
    assert_problem(api.get("/v1/audit/replay-check", key=None), 401, "unauthorized")
