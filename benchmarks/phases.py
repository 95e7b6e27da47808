"""The command mix as phases, for loads whose later commands need earlier answers' ids.

``wrk`` replays prepared requests, so the mix is cut where a command needs an
id the store chose: each phase's requests are written before it runs, from
the answers of the phase before. Per round (new client and freelancer) twelve
commands over six phases; between phases 5 and 6 the two deadlines the
scheduler would fire (the freelancer's security period and the hourly invoice)
are fired in process, untimed, so the withdrawals find available money.

The same ``Op`` runs in process (``call``) or over HTTP (method, path, body),
so ``http_mix`` compares the two on exactly the same commands.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from domain.balances.freelancer_balance import FreelancerBalance
from domain.contracts import billing_week
from domain.deadlines import Deadline, DeadlineKind
from domain.money import money
from ledger.application import EscrowLedger

PHASES = 6
USD500 = {"amount": "500.00", "currency": "USD"}


@dataclass
class Round:
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    ids: dict[str, str] = field(default_factory=dict)
    failed: bool = False

    @property
    def client(self) -> str:
        return f"client-{self.tag}"

    @property
    def freelancer(self) -> str:
        return f"freelancer-{self.tag}"


@dataclass
class Op:
    round: Round
    name: str
    method: str
    path: str
    body: dict[str, Any] | None
    call: Callable[[EscrowLedger], Any]
    key: str = field(default_factory=lambda: str(uuid.uuid4()))
    keep: tuple[tuple[str, str], ...] = ()
    """(answer field, id name) pairs to remember from the answer."""

    def absorb(self, answer: dict[str, Any]) -> None:
        for answer_field, name in self.keep:
            self.round.ids[name] = str(answer[answer_field])


def _today() -> date:
    return datetime.now(UTC).date()


def ops_for(phase: int, rounds: list[Round]) -> list[Op]:
    """The requests of ``phase`` (1..6) for every round still going."""
    ops: list[Op] = []
    for r in (r for r in rounds if not r.failed):
        ops += _round_ops(phase, r)
    return ops


def _round_ops(phase: int, r: Round) -> list[Op]:
    c, f, ids, key = r.client, r.freelancer, r.ids, str(uuid.uuid4())
    if phase == 1:
        return [
            Op(r, "open_contract", "POST", "/v1/contracts",
               {"kind": "fixed_price", "client_id": c, "freelancer_id": f, "currency": "USD"},
               lambda app, k=key: app.open_contract(client_id=c, freelancer_id=f,
                                                    currency="USD", actor=f"client:{c}",
                                                    idempotency_key=k),
               key=key, keep=(("contract_id", "contract"),)),
            _open_hourly(r),
            _purchase(r),
        ]
    if phase in (2, 3):
        hourly = _log_time(r)
        spend = _spend(r)
        if phase == 2:
            step = Op(r, "add_milestone", "POST", f"/v1/contracts/{ids['contract']}/milestones",
                      {"title": "Milestone", "amount": USD500},
                      lambda app, k=key: app.add_milestone(
                          contract_id=ids["contract"], title="Milestone",
                          amount=money("500.00", "USD"), actor=f"client:{c}",
                          idempotency_key=k),
                      key=key, keep=(("milestone_id", "milestone"),))
        else:
            step = _milestone(r, "fund_milestone", "fund")
        return [step, hourly, spend]
    if phase == 4:
        return [_milestone(r, "submit_work", "submit")]
    if phase == 5:
        return [_milestone(r, "approve_milestone", "approve")]
    amount = {"amount": "100.00", "currency": "USD", "method": "us_bank"}
    return [Op(r, "request_withdrawal", "POST", f"/v1/freelancers/{f}/withdrawals", amount,
               lambda app, k=key: app.request_withdrawal(
                   freelancer_id=f, amount=money("100.00", "USD"), method="us_bank",
                   actor=f"freelancer:{f}", idempotency_key=k), key=key)]


def _milestone(r: Round, name: str, verb: str) -> Op:
    ids, key = r.ids, str(uuid.uuid4())
    actor = f"freelancer:{r.freelancer}" if verb == "submit" else f"client:{r.client}"
    return Op(r, name, "POST",
              f"/v1/contracts/{ids['contract']}/milestones/{ids['milestone']}/{verb}", None,
              lambda app: getattr(app, name)(contract_id=ids["contract"],
                                             milestone_id=ids["milestone"], actor=actor,
                                             idempotency_key=key), key=key)


def _log_time(r: Round) -> Op:
    ids, key, day = r.ids, str(uuid.uuid4()), _today()
    return Op(r, "log_time", "POST", f"/v1/contracts/{ids['hourly']}/time-entries",
              {"worked_on": day.isoformat(), "minutes": 120, "manual": True},
              lambda app: app.log_time(contract_id=ids["hourly"], worked_on=day, minutes=120,
                                       manual=True, actor=f"freelancer:{r.freelancer}",
                                       idempotency_key=key), key=key)


def _open_hourly(r: Round) -> Op:
    c, f, key = r.client, r.freelancer, str(uuid.uuid4())
    return Op(r, "open_hourly", "POST", "/v1/contracts",
              {"kind": "hourly", "client_id": c, "freelancer_id": f, "currency": "USD",
               "hourly_rate": {"amount": "40.00", "currency": "USD"},
               "weekly_limit_hours": 40, "manual_time_allowed": True},
              lambda app: app.open_contract(
                  kind="hourly", client_id=c, freelancer_id=f, currency="USD",
                  hourly_rate=money("40.00", "USD"), weekly_limit_hours=40,
                  manual_time_allowed=True, actor=f"client:{c}", idempotency_key=key),
              key=key, keep=(("contract_id", "hourly"),))


def _purchase(r: Round) -> Op:
    f, key = r.freelancer, str(uuid.uuid4())
    return Op(r, "purchase_connects", "POST", f"/v1/freelancers/{f}/connects/purchases",
              {"connects": 80, "payment_method": "card"},
              lambda app: app.purchase_connects(freelancer_id=f, connects=80,
                                                payment_method="card",
                                                actor=f"freelancer:{f}", idempotency_key=key),
              key=key)


def _spend(r: Round) -> Op:
    f, key, job = r.freelancer, str(uuid.uuid4()), f"job-{r.tag}"
    return Op(r, "spend_connects", "POST", f"/v1/freelancers/{f}/connects/spends",
              {"connects": 16, "reason": "proposal", "job_id": job},
              lambda app: app.spend_connects(freelancer_id=f, connects=16, reason="proposal",
                                             job_id=job, actor=f"freelancer:{f}",
                                             idempotency_key=key), key=key)


def fire_deadlines(app: EscrowLedger, rounds: list[Round]) -> None:
    """What the scheduler fires before phase 6: maturity (for the withdrawal) and invoice."""
    day = _today()
    week = day - timedelta(days=day.weekday())
    for r in (r for r in rounds if not r.failed):
        balance = app.repository.get(FreelancerBalance.id_for(r.freelancer))
        for due in balance.running_deadlines():
            app.fire_deadline(due, now=due.due)
        invoice = Deadline(billing_week.invoice_due(week), DeadlineKind.HOURLY_INVOICE,
                           r.ids["hourly"], week.isoformat())
        app.fire_deadline(invoice, now=invoice.due)
