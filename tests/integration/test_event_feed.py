"""The event feed and the JSON Lines export, on a long real history, on both stores.

The history is ``test_projection_rebuild.history`` (the demo, an hourly week
invoiced, Connects bought, a bonus, withdrawals through each state, a hold)
plus a chargeback, Connects granted, spent, boosted and a membership, a refund
and a client flag, so every capability that writes events is decoded.
"""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from domain.balances.freelancer_balance import FreelancerBalance
from domain.connects.wallet import ConnectsWallet
from domain.errors import ContractNotFound, FreelancerNotFound
from domain.money import money
from entrypoints.audit_export import export
from entrypoints.cli import main
from entrypoints.demo import seed_demo
from ledger import event_feed
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from ledger.idempotency import CommandRecord
from projections.runner import ProjectionRunner
from tests.integration.test_projection_rebuild import history


def long_history(app: EscrowLedger, clock: FakeClock, projector: ProjectionRunner) -> None:
    history(app, clock, projector)
    contract = app.open_contract(client_id="client-kim", freelancer_id="freelancer-ada",
                                 currency="USD", actor="t").response["contract_id"]
    milestone = app.add_milestone(contract_id=contract, title="m", amount=money("200.00", "USD"),
                                  actor="client-kim").response["milestone_id"]
    funded = app.fund_milestone(contract_id=contract, milestone_id=milestone,
                                actor="client-kim").response
    app.receive_chargeback(payment_id=funded["payment_id"], reason="fraudulent", actor="psp")
    app.grant_connects(freelancer_id="freelancer-ada", connects=5, reason="welcome",
                       actor="ops")
    app.start_membership(freelancer_id="freelancer-ada", plan="plus", actor="freelancer-ada")
    app.spend_connects(freelancer_id="freelancer-ada", connects=6, reason="proposal",
                       job_id="job-7", actor="freelancer-ada")
    app.boost_proposal(freelancer_id="freelancer-ada", job_id="job-7", connects=3,
                       job_posted_at=None, actor="freelancer-ada")
    bonus = app.open_contract(client_id="client-lee", freelancer_id="freelancer-bo",
                              currency="USD", actor="t").response["contract_id"]
    app.pay_bonus(contract_id=bonus, amount=money("100.00", "USD"), actor="client-lee")
    app.refund_client(contract_id=bonus, amount=money("10.00", "USD"), actor="freelancer-bo")
    app.flag_client(client_id="client-lee", reason="abuse", actor="fin")


def demo_contract(app: EscrowLedger) -> str:
    record = app.find(CommandRecord, CommandRecord.id_for("demo:open"))
    assert record is not None
    return str(record.response["contract_id"])


def walk(app: EscrowLedger, limit: int) -> list[dict[str, Any]]:
    """The feed's pages, concatenated, following ``after`` from 0 until a page is empty."""
    out: list[dict[str, Any]] = []
    after = 0
    while page := event_feed.page(app, after=after, limit=limit):
        assert len(page) <= limit
        out.extend(page)
        after = page[-1]["position"]
    return out


def test_every_event_of_a_long_history_decodes_to_json(
        app: EscrowLedger, clock: FakeClock, projector: ProjectionRunner) -> None:
    long_history(app, clock, projector)
    events = walk(app, 1000)
    assert [e["position"] for e in events] == list(range(1, app.position() + 1))
    assert len(events) > 100
    json.dumps(events)  # every value is plain JSON
    names = {e["name"] for e in events}
    assert {
        "FixedPriceContract.Opened", "FixedPriceContract.MilestoneFunded",
        "FixedPriceContract.MilestoneReleased", "FixedPriceContract.DisputeOpened",
        "FixedPriceContract.BonusPaid", "FixedPriceContract.ChargebackReceived",
        "HourlyContract.WeekInvoiced", "HourlyContract.WeekReleased",
        "FreelancerBalance.EarningsPending", "FreelancerBalance.WithdrawalSettled",
        "FreelancerBalance.HoldPlaced", "ConnectsWallet.LotIssued", "CommandRecord.Accepted",
        "Relationship.BillingRecorded",
    } <= names, sorted(names)
    for e in events:
        assert e["type"].endswith(":" + e["name"])
        assert e["recorded_at"] is None
        assert e["effective_at"].endswith("+00:00")
        # every event's postings balance, per currency, to the cent
        net: dict[str, Decimal] = defaultdict(Decimal)
        for p in e["postings"]:
            assert p["side"] in ("debit", "credit")
            net[p["currency"]] += Decimal(p["amount"]) * (1 if p["side"] == "debit" else -1)
        assert all(v == 0 for v in net.values()), e
        assert (e["memo"] is None) == (e["postings"] == [])
        assert not {"originator_id", "originator_version", "timestamp", "actor", "entry"} \
            & set(e["data"]), e["data"]


def test_a_funding_event_decodes_with_its_postings_fees_and_actor(app: EscrowLedger) -> None:
    seed_demo(app)
    contract = demo_contract(app)
    funded = next(e for e in event_feed.contract_events(app, contract)
                  if e["name"] == "FixedPriceContract.MilestoneFunded")
    assert funded["type"] == "domain.contracts.fixed_price:FixedPriceContract.MilestoneFunded"
    assert (funded["aggregate_id"], funded["aggregate_version"]) == (contract, 4)
    assert (funded["actor"], funded["effective_at"]) == ("demo-seed",
                                                         "2026-03-02T09:00:00+00:00")
    milestone = funded["data"]["milestone_id"]
    assert funded["postings"] == [
        {"account": "processor:clearing", "side": "debit", "amount": "534.95",
         "currency": "USD"},
        {"account": f"escrow:{contract}:{milestone}", "side": "credit", "amount": "500.00",
         "currency": "USD"},
        {"account": "revenue:marketplace_fee", "side": "credit", "amount": "25.00",
         "currency": "USD"},
        {"account": f"deferred:initiation_fee:{contract}", "side": "credit", "amount": "9.95",
         "currency": "USD"},
    ]
    data = funded["data"]
    assert data["charged"] == {"amount": "500.00", "currency": "USD"}
    assert (data["marketplace_fee"]["fee"], data["marketplace_fee"]["rate"]) == ("25.00", "0.05")
    assert data["initiation_fee"]["fee"] == "9.95"
    assert (data["payment_method"], data["top_up"]) == ("card", False)
    assert data["payment_id"] == f"pay_{contract.replace('-', '')}_4"
    opened = event_feed.contract_events(app, contract)[0]
    assert opened["data"]["service_fee_rate"] == "0.10"
    assert (opened["postings"], opened["memo"]) == ([], None)


def test_the_export_is_the_feeds_pages_concatenated(
        app: EscrowLedger, clock: FakeClock, projector: ProjectionRunner,
        tmp_path: Path) -> None:
    long_history(app, clock, projector)
    path = tmp_path / "log.jsonl"
    written = export(app, path)
    assert written == app.position()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == written
    exported = [json.loads(line) for line in lines]
    assert exported == walk(app, 7)
    positions = [e["position"] for e in exported]
    assert positions == list(range(1, written + 1))  # strictly increasing, no gaps
    # another batch size gives the same file
    again = tmp_path / "again.jsonl"
    assert export(app, again, batch=5) == written
    assert again.read_bytes() == path.read_bytes()


def test_the_export_reads_the_log_in_batches(
        app: EscrowLedger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_demo(app)
    total = app.position()
    calls: list[tuple[int, int]] = []
    real = app.recorder.select_notifications

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append((kwargs["start"], kwargs["limit"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(app.recorder, "select_notifications", counting)
    assert export(app, tmp_path / "x.jsonl", batch=10) == total
    assert calls == [(10 * k, 10) for k in range(total // 10 + 1)]
    calls.clear()
    assert export(app, tmp_path / "y.jsonl") == total
    assert calls == [(0, 1000)]


def test_an_empty_log_exports_nothing(app: EscrowLedger, tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    assert export(app, path) == 0
    assert path.read_text() == ""
    assert event_feed.page(app) == []


def test_a_contracts_events_come_in_version_order_with_their_positions(
        app: EscrowLedger, clock: FakeClock, projector: ProjectionRunner) -> None:
    long_history(app, clock, projector)
    contract = demo_contract(app)
    events = event_feed.contract_events(app, contract)
    assert [e["aggregate_version"] for e in events] == list(range(1, len(events) + 1))
    assert {e["aggregate_id"] for e in events} == {contract}
    by_position = {e["position"]: e for e in walk(app, 1000)}
    assert [by_position[e["position"]] for e in events] == events
    assert [e["name"] for e in events][:4] == [
        "FixedPriceContract.Opened", "FixedPriceContract.MilestoneAdded",
        "FixedPriceContract.MilestoneAdded", "FixedPriceContract.MilestoneFunded"]


def test_a_freelancers_balance_and_wallet_events_merge_in_log_order(
        app: EscrowLedger, clock: FakeClock, projector: ProjectionRunner) -> None:
    long_history(app, clock, projector)
    events = event_feed.freelancer_events(app, "freelancer-ada")
    positions = [e["position"] for e in events]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    balance = str(FreelancerBalance.id_for("freelancer-ada"))
    wallet = str(ConnectsWallet.id_for("freelancer-ada"))
    assert {e["aggregate_id"] for e in events} == {balance, wallet}
    feed = walk(app, 1000)
    assert events == [e for e in feed if e["aggregate_id"] in (balance, wallet)]
    for aggregate in (balance, wallet):
        versions = [e["aggregate_version"] for e in events if e["aggregate_id"] == aggregate]
        assert versions == list(range(1, len(versions) + 1))


def test_unknown_ids_are_not_found(app: EscrowLedger) -> None:
    seed_demo(app)
    for unknown in ("not-a-uuid", "00000000-0000-0000-0000-000000000001",
                    str(FreelancerBalance.id_for("freelancer-ada"))):  # not a contract
        with pytest.raises(ContractNotFound):
            event_feed.contract_events(app, unknown)
    with pytest.raises(FreelancerNotFound):
        event_feed.freelancer_events(app, "freelancer-nobody")
    # a freelancer with a wallet and no balance still has events
    app.grant_connects(freelancer_id="freelancer-new", connects=5, reason="welcome", actor="o")
    assert {e["name"] for e in event_feed.freelancer_events(app, "freelancer-new")} == {
        "ConnectsWallet.Opened", "ConnectsWallet.LotIssued"}


def test_the_cli_exports_the_log_and_says_how_many_events(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    assert main(["seed-demo"]) == 0
    capsys.readouterr()
    path = tmp_path / "audit.jsonl"
    assert main(["audit", "export", str(path)]) == 0
    lines = path.read_text(encoding="utf-8").splitlines()
    assert capsys.readouterr().out.strip().endswith(f"wrote {len(lines)} event(s) to {path}")
    assert len(lines) > 20
    assert [json.loads(line)["position"] for line in lines] == list(range(1, len(lines) + 1))
