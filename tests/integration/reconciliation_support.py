"""A month of marketplace activity, and the files the processor and the bank would send for it.

Four weeks from Monday 2 March 2026 on the test clock: each weekday a client
funds a new fixed-price milestone by card ($100.00 + $25.00 a day); four days
in five the client approves it, the fifth the freelancer ends the contract and
the escrow goes back to the card (a refund). Every Friday each freelancer with
money available withdraws $50.00 by US bank (sent that day, settled Monday);
one withdrawal in week 2 fails after it was sent; one payment is charged back
on the Wednesday of week 3 and the chargeback is won on the Thursday.
Deadlines (pending -> available) fire as the clock moves.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from domain.contracts.terms import Party
from domain.money import money
from entrypoints.scheduler import tick
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from projections.runner import ProjectionRunner

FREELANCERS = ("fl-ada", "fl-bob", "fl-cy")


def simulate_month(app: EscrowLedger, clock: FakeClock, projector: ProjectionRunner) -> None:
    pending_settle: list[str] = []
    charged: list[str] = []
    for week in range(4):
        for weekday in range(5):
            n = week * 5 + weekday
            freelancer, client = FREELANCERS[n % 3], f"cl-{n % 4}"
            cid = app.open_contract(client_id=client, freelancer_id=freelancer, currency="USD",
                                    actor=client).response["contract_id"]
            mid = app.add_milestone(contract_id=cid, title=f"m{n}",
                                    amount=money(str(Decimal(100 + 25 * n)), "USD"),
                                    actor=client).response["milestone_id"]
            funded = app.fund_milestone(contract_id=cid, milestone_id=mid, actor=client)
            charged.append(funded.response["charge"]["payment_id"])
            clock.advance(timedelta(hours=2))
            if n % 5 == 4:
                app.end_contract(contract_id=cid, by=Party.FREELANCER, pay=None,
                                 actor=freelancer)
            else:
                app.approve_milestone(contract_id=cid, milestone_id=mid, actor=client)
            if weekday == 0:
                for wid in pending_settle:
                    app.settle_withdrawal(withdrawal_id=wid, actor="processor")
                pending_settle = []
            if weekday == 4:
                pending_settle = _withdrawals(app, projector, fail=(week == 1))
            if week == 2 and weekday == 2:
                chargeback = app.receive_chargeback(payment_id=charged[3], reason="fraudulent",
                                                    actor="processor")
            if week == 2 and weekday == 3:  # won: the processor returns the money
                app.decide_chargeback(chargeback_id=chargeback.response["chargeback_id"],
                                      won=True, actor="processor")
            clock.advance(timedelta(hours=22))
            projector.catch_up()
            tick(app, projector)
        clock.advance(timedelta(days=2))
        projector.catch_up()
        tick(app, projector)
    for wid in pending_settle:
        app.settle_withdrawal(withdrawal_id=wid, actor="processor")
    projector.catch_up()


def _withdrawals(app: EscrowLedger, projector: ProjectionRunner, *, fail: bool) -> list[str]:
    projector.catch_up()
    sent = []
    for freelancer in FREELANCERS:
        if _available(projector, freelancer) < Decimal("50.00"):
            continue
        wid = app.request_withdrawal(freelancer_id=freelancer, amount=money("50.00", "USD"),
                                     method="us_bank", actor=freelancer
                                     ).response["withdrawal_id"]
        app.mark_withdrawal_sent(withdrawal_id=wid, processor_reference=None,
                                 actor="processor")
        if fail and not sent:
            app.return_withdrawal(withdrawal_id=wid, failed=True, reason="account closed",
                                  actor="processor")
            fail = False
            continue
        sent.append(wid)
    return sent


def _available(projector: ProjectionRunner, freelancer: str) -> Decimal:
    found = projector.queries.balance(f"freelancer:{freelancer}:available")
    return found[0].balance if found else Decimal("0.00")
