"""The realistic command mix, shared by the in-process (``command_mix``) and HTTP
(``http_mix``) benchmarks, and the small helpers every scenario module reuses.

One **round** is fourteen commands between a new client and a new freelancer
(many distinct users, so workers never contend on one aggregate and nothing
grows during a run):

* fixed price: open, add a $500.00 milestone, fund it, submit, approve (5);
* the freelancer's security period ends (the deadline fired at its due time),
  then a $100.00 withdrawal to a US bank (2);
* hourly: open at $40/h, log 2 h twice this week, the Monday invoice (4);
* Connects: buy 80 by card, spend 16 twice (3).

The two deadlines (maturity and invoice) are what the scheduler fires; here
they are fired in line, at their own due time, as ``fire_deadline`` does.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from domain.balances.freelancer_balance import FreelancerBalance
from domain.contracts import billing_week
from domain.deadlines import Deadline, DeadlineKind
from domain.money import money
from ledger.application import EscrowLedger

ROUND_COMMANDS = (
    "open_contract", "add_milestone", "fund_milestone", "submit_work", "approve_milestone",
    "security_period", "request_withdrawal",
    "open_hourly", "log_time", "log_time", "hourly_invoice",
    "purchase_connects", "spend_connects", "spend_connects",
)
COMMAND_NAMES = tuple(dict.fromkeys(ROUND_COMMANDS))


def key() -> str:
    """A fresh idempotency key, as a production client sends with every request."""
    return str(uuid.uuid4())


def round_steps(app: EscrowLedger) -> list[tuple[str, Callable[[], object]]]:
    """The fourteen commands of one round, as (name, call) in order."""
    tag = uuid.uuid4().hex[:12]
    client, freelancer = f"client-{tag}", f"freelancer-{tag}"
    by_client, by_freelancer = f"client:{client}", f"freelancer:{freelancer}"
    ids: dict[str, Any] = {}

    def open_contract() -> object:
        r = app.open_contract(client_id=client, freelancer_id=freelancer, currency="USD",
                              actor=by_client, idempotency_key=key())
        ids["contract"] = r.response["contract_id"]
        return r

    def add_milestone() -> object:
        r = app.add_milestone(contract_id=ids["contract"], title="Milestone",
                              amount=money("500.00", "USD"), actor=by_client,
                              idempotency_key=key())
        ids["milestone"] = r.response["milestone_id"]
        return r

    def fund() -> object:
        return app.fund_milestone(contract_id=ids["contract"], milestone_id=ids["milestone"],
                                  actor=by_client, idempotency_key=key())

    def submit() -> object:
        return app.submit_work(contract_id=ids["contract"], milestone_id=ids["milestone"],
                               actor=by_freelancer, idempotency_key=key())

    def approve() -> object:
        return app.approve_milestone(contract_id=ids["contract"],
                                     milestone_id=ids["milestone"], actor=by_client,
                                     idempotency_key=key())

    def security_period() -> object:
        balance = app.repository.get(FreelancerBalance.id_for(freelancer))
        [due] = balance.running_deadlines()
        return app.fire_deadline(due, now=due.due)

    def withdraw() -> object:
        return app.request_withdrawal(freelancer_id=freelancer, amount=money("100.00", "USD"),
                                      method="us_bank", actor=by_freelancer,
                                      idempotency_key=key())

    def open_hourly() -> object:
        r = app.open_contract(kind="hourly", client_id=client, freelancer_id=freelancer,
                              currency="USD", hourly_rate=money("40.00", "USD"),
                              weekly_limit_hours=40, manual_time_allowed=True,
                              actor=by_client, idempotency_key=key())
        ids["hourly"] = r.response["contract_id"]
        return r

    def log_time() -> object:
        r = app.log_time(contract_id=ids["hourly"], worked_on=app.clock.now().date(),
                         minutes=120, manual=True, actor=by_freelancer, idempotency_key=key())
        ids["week"] = r.response["week_start"]
        return r

    def invoice() -> object:
        week = date.fromisoformat(ids["week"])
        due = Deadline(billing_week.invoice_due(week), DeadlineKind.HOURLY_INVOICE,
                       ids["hourly"], week.isoformat())
        return app.fire_deadline(due, now=due.due)

    def purchase() -> object:
        return app.purchase_connects(freelancer_id=freelancer, connects=80,
                                     payment_method="card", actor=by_freelancer,
                                     idempotency_key=key())

    def spend() -> object:
        return app.spend_connects(freelancer_id=freelancer, connects=16, reason="proposal",
                                  job_id=f"job-{tag}", actor=by_freelancer,
                                  idempotency_key=key())

    calls = [open_contract, add_milestone, fund, submit, approve, security_period, withdraw,
             open_hourly, log_time, log_time, invoice, purchase, spend, spend]
    return list(zip(ROUND_COMMANDS, calls, strict=True))


def run_round(app: EscrowLedger) -> None:
    for _name, step in round_steps(app):
        step()


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def median(values: list[float]) -> float:
    s = sorted(v for v in values if not math.isnan(v))
    if not s:
        return math.nan
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def fmt(x: float | None, spec: str = ".1f") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return format(x, spec)


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b and not math.isnan(a) and not math.isnan(b) else None
