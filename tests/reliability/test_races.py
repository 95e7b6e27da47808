"""Races on PostgreSQL between two real API processes: exactly the allowed outcome happens.

Every race sends its commands from threads released by one barrier, half to
each process, each on a connection opened beforehand. After each: the other
racers got a 409 (or the first answer, for a replayed key), none got a 500,
the money is where a simple model says, the trial balance is zero in every
currency and the journal equals a replay of the log (``Ledger.assert_books``).

Figures (2026, default 10% service fee): a $500.00 milestone funded by card
charges the client 534.95 (25.00 marketplace fee, 9.95 initiation fee) and,
released, puts 450.00 in the freelancer's pending balance (50.00 service fee).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from api.auth import fingerprint
from ledger.bootstrap import build_ledger
from ledger.settings import Settings
from projections.runner import ProjectionRunner
from tests.api.conftest import COMMANDS_KEY
from tests.conftest import fresh_store, require_backend
from tests.reliability.conftest import Call, race, replayed, slug
from tests.reliability.servers import Ledger, new_key

pytestmark = pytest.mark.postgres


def tag() -> str:
    return uuid.uuid4().hex[:8]


def milestone(cid: str, mid: str, step: str) -> str:
    return f"/v1/contracts/{cid}/milestones/{mid}/{step}"


def move_clock(ledger: Ledger, by: timedelta) -> dict[str, Any]:
    """Moves the stores' shared test clock forward, firing what falls due on the way."""
    now = datetime.fromisoformat(ledger.get("/v1/test-clock")["now"])
    return ledger.ok("/v1/test-clock/advance", {"to": (now + by).isoformat()})


def available_450(ledger: Ledger, freelancer: str) -> None:
    """$450.00 available: a $500.00 milestone approved, then its 5-day security period."""
    cid, mid = ledger.funded_milestone(f"cl-{freelancer}", freelancer)
    ledger.ok(milestone(cid, mid, "approve"))
    move_clock(ledger, timedelta(days=5, minutes=1))
    assert ledger.freelancer(freelancer)["available"] == "450.00"


# ---- start-up -------------------------------------------------------------------------


def test_four_processes_creating_one_empty_schemas_tables_at_once_all_start() -> None:
    """Replicas started together used to die with ``duplicate key value violates unique
    constraint "pg_type_typname_nsp_index"`` (``CREATE TABLE IF NOT EXISTS`` racing);
    threads stand in for processes here: each builds its own ledger and connection pool."""
    require_backend("postgres")
    for _ in range(2):
        with fresh_store("postgres") as url:
            barrier = threading.Barrier(4, timeout=30)
            errors: list[str] = []

            def start(url: str = url, barrier: threading.Barrier = barrier,
                      errors: list[str] = errors) -> None:
                barrier.wait()
                try:
                    app = build_ledger(Settings(database_url=url))
                    try:
                        ProjectionRunner(app).catch_up()
                    finally:
                        app.close()
                except Exception as e:
                    errors.append(f"{type(e).__name__}: {e}")

            threads = [threading.Thread(target=start) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert errors == []


# ---- one milestone, many approvals ----------------------------------------------------------


def test_parallel_approvals_of_one_funded_milestone_release_it_exactly_once(
        pg_ledger: Ledger) -> None:
    t = tag()
    freelancer = f"fl-approve-{t}"
    cid, mid = pg_ledger.funded_milestone(f"cl-approve-{t}", freelancer)
    assert pg_ledger.usd(f"escrow:{cid}:{mid}") == "500.00"
    path = milestone(cid, mid, "approve")
    twin = new_key()  # one client retrying at once: the same key, to each process
    calls = [Call(i % 2, path) for i in range(6)] + [Call(0, path, key=twin),
                                                    Call(1, path, key=twin)]
    answers = race(pg_ledger, calls)

    assert {a.status_code for a in answers} <= {200, 409}
    first = [a for a in answers if a.status_code == 200 and not replayed(a)]
    assert len(first) == 1, [(a.status_code, a.text) for a in answers]
    (release,) = first
    assert release.json()["net"] == {"amount": "450.00", "currency": "USD"}
    assert release.json()["service_fee"] == {"amount": "50.00", "currency": "USD"}
    replays = [a for a in answers if replayed(a)]
    if replays:  # the twin that lost answers the winning twin's first answer
        assert [a.request.headers["Idempotency-Key"] for a in replays] == [twin]
        assert release.request.headers["Idempotency-Key"] == twin
        assert replays[0].json() == release.json()
    refusals = [slug(a) for a in answers if a.status_code == 409]
    assert refusals == ["milestone-state"] * (8 - 1 - len(replays))

    assert pg_ledger.usd(f"escrow:{cid}:{mid}") == "0.00"
    assert pg_ledger.freelancer(freelancer)["pending"] == "450.00"
    assert len(pg_ledger.contract_events(cid, ".MilestoneReleased")) == 1
    assert len(pg_ledger.contract_events(cid, ".MilestoneFunded")) == 1
    pg_ledger.assert_books()


# ---- withdrawals beyond the balance ---------------------------------------------------------


def test_parallel_withdrawals_beyond_the_balance_accept_exactly_what_it_covers(
        pg_ledger: Ledger) -> None:
    freelancer = f"fl-withdraw-{tag()}"
    available_450(pg_ledger, freelancer)
    fees_before = Decimal(pg_ledger.usd("revenue:withdrawal_fee"))
    body = {"amount": "100.00", "currency": "USD", "method": "local_bank"}  # fee 0.99
    answers = race(pg_ledger, [Call(i % 2, f"/v1/freelancers/{freelancer}/withdrawals", body)
                               for i in range(8)])

    # 450.00 covers four of 100.99 (403.96), not a fifth
    assert Counter((a.status_code, slug(a)) for a in answers) == {
        (201, "ok"): 4, (409, "insufficient-funds"): 4}
    assert {a.json()["total"]["amount"] for a in answers if a.status_code == 201} == {"100.99"}
    balances = pg_ledger.freelancer(freelancer)
    assert (balances["available"], balances["in_flight"]) == ("46.04", "400.00")
    assert Decimal(pg_ledger.usd("revenue:withdrawal_fee")) - fees_before == Decimal("3.96")
    pg_ledger.assert_books()


def test_a_dozen_parallel_withdrawals_the_balance_covers_are_all_accepted(
        pg_ledger: Ledger) -> None:
    """Twelve writers on one balance used to retry in lockstep and run out of attempts:
    a third of them were refused as ``concurrency-conflict`` though 450.00 covers 12 x
    30.00 (measured: 29 of 96 over 8 such races). Now each is decided again until the
    balance says no."""
    freelancer = f"fl-dozen-{tag()}"
    available_450(pg_ledger, freelancer)
    body = {"amount": "30.00", "currency": "USD", "method": "us_bank"}  # no fee
    answers = race(pg_ledger, [Call(i % 2, f"/v1/freelancers/{freelancer}/withdrawals", body)
                               for i in range(12)])
    assert Counter((a.status_code, slug(a)) for a in answers) == {(201, "ok"): 12}
    balances = pg_ledger.freelancer(freelancer)
    assert (balances["available"], balances["in_flight"]) == ("90.00", "360.00")
    pg_ledger.assert_books()


def test_parallel_withdrawals_of_different_amounts_match_a_reference_model(
        pg_ledger: Ledger) -> None:
    """Which ones win depends on the order; the model checks whatever order it was.

    Replayed in log order, every accepted withdrawal was covered when it was taken;
    every refused one is not covered by what is left (the balance only fell
    during the race, so it was not covered when it was refused either).
    """
    freelancer = f"fl-model-{tag()}"
    available_450(pg_ledger, freelancer)
    amounts = ["120.00", "100.00", "80.00", "60.00", "50.00", "30.00", "150.00", "200.00"]
    answers = race(pg_ledger, [
        Call(i % 2, f"/v1/freelancers/{freelancer}/withdrawals",
             {"amount": a, "currency": "USD", "method": "local_bank"})
        for i, a in enumerate(amounts)])
    fee = Decimal("0.99")
    outcome = [(Decimal(_amount(a)), a) for a in answers]
    accepted = sorted(((a.json()["position"], need) for need, a in outcome
                       if a.status_code == 201))
    refused = [need for need, a in outcome if a.status_code == 409]
    assert [slug(a) for _, a in outcome if a.status_code != 201] == \
        ["insufficient-funds"] * len(refused)
    model = Decimal("450.00")
    for _, amount in accepted:
        assert amount + fee <= model, "a withdrawal was accepted beyond the balance"
        model -= amount + fee
    assert all(amount + fee > model for amount in refused), (model, refused)
    assert accepted, "the race accepted nothing"
    balances = pg_ledger.freelancer(freelancer)
    assert Decimal(balances["available"]) == model
    assert Decimal(balances["in_flight"]) == sum(a for _, a in accepted)
    pg_ledger.assert_books()


def _amount(answer: Any) -> str:
    """The amount the racer asked for (each answer carries its request)."""
    return str(json.loads(answer.request.content)["amount"])


# ---- a release racing a dispute, and an ending ------------------------------------------------


def test_an_approval_racing_a_dispute_of_the_same_milestone_has_one_outcome(
        pg_ledger: Ledger) -> None:
    outcomes: Counter[str] = Counter()
    for _ in range(4):
        t = tag()
        freelancer = f"fl-dispute-{t}"
        cid, mid = pg_ledger.funded_milestone(f"cl-dispute-{t}", freelancer)
        pg_ledger.ok(milestone(cid, mid, "submit"))
        pg_ledger.ok(milestone(cid, mid, "request-changes"), {"note": "more"})
        approve, dispute = race(pg_ledger, [Call(0, milestone(cid, mid, "approve")),
                                            Call(1, milestone(cid, mid, "dispute"))])
        escrow = pg_ledger.usd(f"escrow:{cid}:{mid}")
        frozen = pg_ledger.usd(f"escrow_dispute:{cid}")
        pending = pg_ledger.freelancer(freelancer)["pending"]
        if approve.status_code == 200:
            outcomes["released"] += 1
            assert (dispute.status_code, slug(dispute)) == (409, "milestone-state")
            assert (escrow, frozen, pending) == ("0.00", "0.00", "450.00")
            assert len(pg_ledger.contract_events(cid, ".MilestoneReleased")) == 1
        else:
            outcomes["disputed"] += 1
            assert dispute.status_code == 201, dispute.text
            assert (approve.status_code, slug(approve)) == (409, "milestone-state")
            assert (escrow, frozen, pending) == ("0.00", "500.00", "0.00")
            assert pg_ledger.contract_events(cid, ".MilestoneReleased") == []
    assert sum(outcomes.values()) == 4
    pg_ledger.assert_books()


def test_an_approval_racing_the_client_ending_without_paying_has_one_outcome(
        pg_ledger: Ledger) -> None:
    for i in range(3):
        t = tag()
        freelancer = f"fl-end-{t}"
        cid, mid = pg_ledger.funded_milestone(f"cl-end-{t}", freelancer)
        approve, end = race(pg_ledger, [
            Call(i % 2, milestone(cid, mid, "approve")),
            Call(1 - i % 2, f"/v1/contracts/{cid}/end", {"by": "client", "pay": "none"})])
        assert end.status_code == 200, end.text  # ending is allowed either way...
        escrow = pg_ledger.usd(f"escrow:{cid}:{mid}")
        pending = pg_ledger.freelancer(freelancer)["pending"]
        requests = pg_ledger.get(f"/v1/contracts/{cid}")["refund_requests"]
        if approve.status_code == 200:
            # ...released first: nothing left to ask back, the contract simply ends
            assert approve.json()["net"] == {"amount": "450.00", "currency": "USD"}
            assert end.json()["status"] == "ended"
            assert end.json()["refund_requested"] == {"amount": "0.00", "currency": "USD"}
            assert (escrow, pending, requests) == ("0.00", "450.00", [])
        else:
            # ...ending first: the approval finds the contract ending; all 500.00 stays
            # in escrow, asked back by the client
            assert (approve.status_code, slug(approve)) == (409, "contract-not-active")
            assert end.json()["status"] == "ending"
            assert end.json()["refund_requested"] == {"amount": "500.00", "currency": "USD"}
            assert (escrow, pending) == ("500.00", "0.00")
            assert [(r["total"]["amount"], r["status"]) for r in requests] == [
                ("500.00", "pending")]
    pg_ledger.assert_books()


# ---- Connects: a spend racing the lot's expiry ------------------------------------------------


SPEND_DELAYS = (0.0, 0.0, 0.3, 0.6, 1.0, 1.6)
"""When each spend leaves, after the advance (seconds): the advance takes about a second
(it catches its views up, then fires each lot's expiry), so spends sent at its instant
win, and later ones meet the expiry mid-way or done."""


def test_connects_spends_racing_their_lots_expiry_each_have_one_outcome(
        pg_ledger: Ledger) -> None:
    """20 Connects bought for $3.00 (0.15 each) expire 12 months later, when a test
    clock advance fires their expiry; a 16-Connect proposal sent meanwhile either
    spent first (2.40 to revenue, the 4 left expire: 0.60 breakage) or was refused
    (409 insufficient-connects: all 20 expired, 3.00 breakage). Never both spent and
    expired, never neither."""
    freelancers = [f"fl-connects-{tag()}" for _ in SPEND_DELAYS]
    before = {a: Decimal(pg_ledger.usd(a)) for a in (
        "deferred:connects", "revenue:connects", "revenue:connects_breakage")}
    lots = [pg_ledger.ok(f"/v1/freelancers/{f}/connects/purchases", {"connects": 20})["lot"]
            for f in freelancers]
    assert {lot["remaining"] for lot in lots} == {20}
    expires = {datetime.fromisoformat(lot["expires_at"]) for lot in lots}
    assert len(expires) == 1
    (expiry,) = expires
    now = datetime.fromisoformat(pg_ledger.get("/v1/test-clock")["now"])
    move_clock(pg_ledger, expiry - now - timedelta(seconds=1))  # everything else fired first
    advance, *spends = race(pg_ledger, [
        Call(1, "/v1/test-clock/advance", {"to": (expiry + timedelta(minutes=1)).isoformat()}),
        *(Call(i % 2, f"/v1/freelancers/{f}/connects/spends",
               {"connects": 16, "job_id": f"job-{f}", "reason": "proposal"}, after=delay)
          for i, (f, delay) in enumerate(zip(freelancers, SPEND_DELAYS, strict=True))),
    ])
    assert advance.status_code == 200, advance.text
    fired = [f for f in advance.json()["fired"] if f["kind"] == "connects_expiry"]
    spent = 0
    for freelancer, spend in zip(freelancers, spends, strict=True):
        wallet = pg_ledger.get(f"/v1/freelancers/{freelancer}/connects")
        (lot,) = wallet["lots"]
        assert wallet["balance"] == 0
        if spend.status_code == 201:
            spent += 1
            assert (lot["remaining"], lot["expired"]) == (0, 4)
        else:
            assert (spend.status_code, slug(spend)) == (409, "insufficient-connects")
            assert (lot["remaining"], lot["expired"]) == (0, 20)
    # the advance fired every expiry a spend had not already settled itself
    assert len(fired) <= len(freelancers)
    n = len(freelancers)
    after = {a: Decimal(pg_ledger.usd(a)) - before[a] for a in before}
    assert after == {
        "deferred:connects": Decimal("0.00"),
        "revenue:connects": Decimal("2.40") * spent,
        "revenue:connects_breakage": Decimal("0.60") * spent + Decimal("3.00") * (n - spent),
    }
    pg_ledger.assert_books()


# ---- one Idempotency-Key sent to both processes at once ----------------------------------------


def records_of(ledger: Ledger, key: str, after: int) -> list[dict[str, Any]]:
    """The idempotency records in the log (after ``after``) for an Idempotency-Key."""
    scoped = f"{fingerprint(COMMANDS_KEY)}:{key}"
    return [e for e in ledger.log(after=after)
            if e["name"].endswith("CommandRecord.Accepted") and e["data"]["key"] == scoped]


def test_one_key_and_body_sent_to_both_processes_at_once_takes_effect_once(
        pg_ledger: Ledger) -> None:
    clearing = Decimal(pg_ledger.usd("processor:clearing"))
    for _ in range(3):
        t = tag()
        client = f"cl-twin-{t}"
        start = pg_ledger.position
        body = {"kind": "fixed_price", "client_id": client, "freelancer_id": f"fl-twin-{t}",
                "currency": "USD"}
        key = new_key()
        opened = race(pg_ledger, [Call(0, "/v1/contracts", body, key),
                                  Call(1, "/v1/contracts", body, key)])
        assert [a.status_code for a in opened] == [201, 201]
        assert opened[0].json() == opened[1].json()
        assert sorted(replayed(a) for a in opened) == [False, True]
        assert opened[0].headers["Location"] == opened[1].headers["Location"]
        cid = opened[0].json()["contract_id"]
        listed = pg_ledger.get(f"/v1/clients/{client}/contracts",
                               params={"min_position": pg_ledger.position})
        assert [c["contract_id"] for c in listed["contracts"]] == [cid]

        mid = pg_ledger.ok(f"/v1/contracts/{cid}/milestones",
                           {"title": "work", "amount": {"amount": "500.00",
                                                        "currency": "USD"}})["milestone_id"]
        key = new_key()
        funded = race(pg_ledger, [Call(0, milestone(cid, mid, "fund"), None, key),
                                  Call(1, milestone(cid, mid, "fund"), None, key)])
        assert [a.status_code for a in funded] == [200, 200]
        assert funded[0].json() == funded[1].json()
        assert sorted(replayed(a) for a in funded) == [False, True]
        assert funded[0].json()["charge"]["total"] == {"amount": "534.95", "currency": "USD"}
        assert len(pg_ledger.contract_events(cid, ".MilestoneFunded")) == 1
        assert len(records_of(pg_ledger, key, start)) == 1
        assert pg_ledger.usd(f"escrow:{cid}:{mid}") == "500.00"
    assert Decimal(pg_ledger.usd("processor:clearing")) - clearing == Decimal("534.95") * 3
    pg_ledger.assert_books()


def test_one_key_with_two_bodies_sent_to_both_processes_at_once_writes_one(
        pg_ledger: Ledger) -> None:
    for _ in range(3):
        t = tag()
        client = f"cl-reuse-{t}"
        start = pg_ledger.position
        key = new_key()
        bodies = [{"kind": "fixed_price", "client_id": client, "freelancer_id": f"fl-{t}",
                   "currency": "USD", "job_id": job} for job in ("job-a", "job-b")]
        answers = race(pg_ledger, [Call(0, "/v1/contracts", bodies[0], key),
                                   Call(1, "/v1/contracts", bodies[1], key)])
        assert sorted((a.status_code, slug(a)) for a in answers) == [
            (201, "ok"), (409, "idempotency-key-reused")]
        (won,) = [a for a in answers if a.status_code == 201]
        listed = pg_ledger.get(f"/v1/clients/{client}/contracts",
                               params={"min_position": pg_ledger.position})["contracts"]
        assert [(c["contract_id"], c["job_id"]) for c in listed] == [
            (won.json()["contract_id"], json.loads(won.request.content)["job_id"])]
        assert len(records_of(pg_ledger, key, start)) == 1

    # money: $100.00 and $200.00 asked under one key; exactly one leaves
    freelancer = f"fl-reuse-{tag()}"
    available_450(pg_ledger, freelancer)
    key = new_key()
    path = f"/v1/freelancers/{freelancer}/withdrawals"
    answers = race(pg_ledger, [
        Call(0, path, {"amount": "100.00", "currency": "USD", "method": "us_bank"}, key),
        Call(1, path, {"amount": "200.00", "currency": "USD", "method": "us_bank"}, key)])
    assert sorted((a.status_code, slug(a)) for a in answers) == [
        (201, "ok"), (409, "idempotency-key-reused")]
    (won,) = [a for a in answers if a.status_code == 201]
    amount = Decimal(won.json()["amount"]["amount"])
    balances = pg_ledger.freelancer(freelancer)
    assert Decimal(balances["available"]) == Decimal("450.00") - amount
    assert Decimal(balances["in_flight"]) == amount
    pg_ledger.assert_books()
