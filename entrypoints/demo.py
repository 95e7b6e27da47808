"""A small demo history for ``make run``: one contract's money through every step.

Seeded only into an empty log, with fixed idempotency keys, so running it twice
changes nothing; ``demo_ids`` finds its ids again from those keys' records, so
every start can print them.
"""

from __future__ import annotations

from typing import Any

from domain.contracts.terms import Party
from domain.fees.methods import PaymentMethod
from domain.money import money
from ledger.application import EscrowLedger
from ledger.idempotency import CommandRecord

DEMO_CONTRACTS = (  # idempotency key, freelancer, what the demo did with it
    ("demo:open", "freelancer-ada", "seeded with $500.00 released and $300.00 funded"),
    ("demo:open2", "freelancer-bo", "seeded funded, then ended by the freelancer"),
    ("demo:open3", "freelancer-cy", "seeded funded, ended by the client, then disputed"))
DEMO_DISPUTE = "demo:dispute3"


def seed_demo(app: EscrowLedger) -> list[str]:
    """Seeds the demo if the log is empty; returns lines saying what it did."""
    if app.position() > 0:
        return [f"log already holds {app.position()} events: demo not seeded"]
    actor = "demo-seed"
    lines: list[str] = []
    opened = app.open_contract(client_id="client-acme", freelancer_id="freelancer-ada",
                               currency="USD", job_id="job-logo-design", actor=actor,
                               idempotency_key="demo:open")
    cid = opened.response["contract_id"]
    lines.append(f"opened fixed-price contract {cid} (client-acme hires freelancer-ada)")
    m1 = app.add_milestone(contract_id=cid, title="Logo concepts", amount=money("500.00", "USD"),
                           actor=actor, idempotency_key="demo:m1").response["milestone_id"]
    m2 = app.add_milestone(contract_id=cid, title="Final files", amount=money("300.00", "USD"),
                           actor=actor, idempotency_key="demo:m2").response["milestone_id"]
    f1 = app.fund_milestone(contract_id=cid, milestone_id=m1, actor=actor,
                            idempotency_key="demo:fund1").response
    lines.append(
        f"funded milestone 1 ($500.00) by card: charged {f1['total_charged']['amount']} "
        f"(marketplace fee {f1['marketplace_fee']['amount']}, "
        f"initiation fee {f1['initiation_fee']['amount']})"
    )
    app.submit_work(contract_id=cid, milestone_id=m1, actor=actor, idempotency_key="demo:sub1")
    r1 = app.approve_milestone(contract_id=cid, milestone_id=m1, actor=actor,
                               idempotency_key="demo:approve1").response
    lines.append(
        f"approved milestone 1: {r1['net']['amount']} pending for freelancer-ada "
        f"(service fee {r1['service_fee']['amount']}), available at {r1['available_at']}"
    )
    app.fund_milestone(contract_id=cid, milestone_id=m2, actor=actor,
                       idempotency_key="demo:fund2")
    lines.append("funded milestone 2 ($300.00): held in escrow, awaiting work")
    other = app.open_contract(client_id="client-acme", freelancer_id="freelancer-bo",
                              currency="USD", actor=actor, idempotency_key="demo:open2")
    cid2 = other.response["contract_id"]
    m3 = app.add_milestone(contract_id=cid2, title="Landing page", amount=money("250.00", "USD"),
                           actor=actor, idempotency_key="demo:m3").response["milestone_id"]
    app.fund_milestone(contract_id=cid2, milestone_id=m3, actor=actor,
                       payment_method=PaymentMethod.US_BANK, idempotency_key="demo:fund3")
    app.end_contract(contract_id=cid2, by=Party.FREELANCER, pay=None, actor=actor,
                     idempotency_key="demo:end2")
    lines.append(f"second contract {cid2}: funded $250.00 by US bank, ended by the freelancer "
                 "(escrow, marketplace fee and initiation fee returned)")
    third = app.open_contract(client_id="client-acme", freelancer_id="freelancer-cy",
                              currency="USD", actor=actor, idempotency_key="demo:open3")
    cid3 = third.response["contract_id"]
    m4 = app.add_milestone(contract_id=cid3, title="Mobile app", amount=money("1000.00", "USD"),
                           actor=actor, idempotency_key="demo:m4").response["milestone_id"]
    app.fund_milestone(contract_id=cid3, milestone_id=m4, actor=actor,
                       idempotency_key="demo:fund4")
    ended = app.end_contract(contract_id=cid3, by=Party.CLIENT, pay="none", actor=actor,
                             idempotency_key="demo:end3").response
    dispute = app.dispute_refund_request(contract_id=cid3,
                                         request_id=ended["refund_request_id"], actor=actor,
                                         idempotency_key="demo:dispute3").response
    lines.append(f"third contract {cid3}: $1,000.00 funded, ended by the client paying none; "
                 f"the freelancer disputed it: GET /v1/disputes/{dispute['dispute_id']} "
                 f"(the client has until {dispute['deadlines'][0]['due_at']} to respond)")
    return lines


def demo_ids(app: EscrowLedger) -> list[str]:
    """The demo's contract, freelancer and dispute ids, read back from the store.

    Found from the records of the demo's fixed idempotency keys, so a restart
    on a seeded store prints the same ids; a store the demo never seeded says so.
    """
    def response_of(key: str) -> dict[str, Any] | None:
        record = app.find(CommandRecord, CommandRecord.id_for(key))
        return None if record is None else record.response

    lines = []
    for key, freelancer_id, what in DEMO_CONTRACTS:
        opened = response_of(key)
        if opened is not None:
            lines.append(f"contract {opened['contract_id']} (client-acme, {freelancer_id}, "
                         f"{what}): GET /v1/contracts/{opened['contract_id']}")
    if not lines:
        return ["no demo in this store (it was not seeded by the demo)"]
    freelancers = ", ".join(freelancer_id for _, freelancer_id, _ in DEMO_CONTRACTS)
    lines.append(f"freelancers {freelancers}: GET /v1/freelancers/<id>/balances")
    dispute = response_of(DEMO_DISPUTE)
    if dispute is not None:
        lines.append(f"dispute {dispute['dispute_id']}: GET /v1/disputes/{dispute['dispute_id']}")
    return lines
