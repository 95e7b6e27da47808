"""A Hypothesis state machine drives the whole marketplace and holds it to a model.

``Marketplace`` runs every capability through ``EscrowLedger`` on a ``FakeClock``:
fixed-price contracts (milestones, funding, work, changes, approving all, part or more,
endings paying none, all or part, refund requests) and their disputes (response,
mediation, arbitration, rulings); hourly contracts (time, limits, Monday invoices,
disputes); bonuses; chargebacks; Connects (bought, granted, spent, returned, expiring);
payouts (withdrawals in every state, holds); the clock, each move then the scheduler.
The model (``marketplace_model.Market``) says beforehand which payout, Connects and
chargeback commands must be accepted and refuses a suspended client's money commands;
``marketplace_model.Books`` checks every invariant after each step. The run's tally
must meet ``ACCEPTED_AT_LEAST``, ``FIRED_AT_LEAST`` and ``HAPPENED_AT_LEAST``, so a run
that only refused fails. Derandomized; ``LEDGER_HYPOTHESIS_EXAMPLES=300`` soaks it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from functools import partial
from typing import Any, TypeVar, cast

from hypothesis import HealthCheck, settings, stateful
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

from domain.contracts import billing_week as weeks
from domain.contracts.dispute import DisputeStage
from domain.contracts.milestone import MilestoneStatus
from domain.contracts.terms import ContractStatus, Party
from domain.errors import LedgerError
from domain.fees.methods import PaymentMethod
from domain.money import money
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from ledger.commands.disputes import contract_of_dispute
from ledger.engine import CommandResult
from ledger.settings import store_from_url
from projections.runner import ProjectionRunner
from tests.conftest import fresh_store
from tests.integration import marketplace_model as mm

DEFAULT_EXAMPLES = 40
EXAMPLES = int(os.environ.get("LEDGER_HYPOTHESIS_EXAMPLES", str(DEFAULT_EXAMPLES // 2)))
"""Half the floors' base by default, to keep CI under its 15 minutes; the floors scale."""
PG_EXAMPLES = max(EXAMPLES // 3, 1)
"""PostgreSQL runs a third as many: each command costs about twice as much there."""
STEPS, FLOORS_FROM = 50, 5
"""Rules per example at most; runs of fewer examples than FLOORS_FROM skip the floors."""
START = datetime(2026, 3, 2, 9, tzinfo=UTC)
"""A Monday in the per-contract era: 10% service fee unless a contract names its rate."""
JOBS, CENT = ("j0", "j1", "j2"), Decimal("0.01")
T = TypeVar("T")
CREATED, FUNDED, SUBMITTED, CHANGES = (MilestoneStatus(s) for s in (
    "created", "funded", "submitted", "changes_requested"))
STEP_OF = {"respond": "respond_to_dispute", "propose": "propose_dispute_settlement",
           "accept": "accept_dispute_proposal", "decline": "decline_dispute_proposal",
           "pay_fee": "pay_arbitration_fee", "rule": "rule_on_dispute"}
NEXT_STEP = {DisputeStage.AWAITING_RESPONSE: "respond", DisputeStage.MEDIATION: "propose",
             DisputeStage.PROPOSED: "accept", DisputeStage.ARBITRATION: "pay_fee"}
OTHER = {Party.CLIENT: Party.FREELANCER, Party.FREELANCER: Party.CLIENT}
WITHDRAWAL_STEPS: dict[str, tuple[str, dict[str, Any]]] = {
    "sent": ("mark_withdrawal_sent", {"processor_reference": None}),
    "settled": ("settle_withdrawal", {}),
    "failed": ("return_withdrawal", {"failed": True, "reason": "bounced"}),
    "cancel": ("return_withdrawal", {"failed": False, "reason": "asked"})}

idx, per_mille = st.integers(0, 7), st.integers(0, 1000)
client, freelancer = st.sampled_from(mm.CLIENTS), st.sampled_from(mm.FREELANCERS)
rate = st.sampled_from([None, "0.00", "0.15"])
method = st.sampled_from([PaymentMethod.CARD, PaymentMethod.US_BANK])
party = st.sampled_from([Party.CLIENT, Party.FREELANCER])
milestone_amount = st.integers(500, 200_000).map(lambda c: Decimal(c).scaleb(-2))
bonus_amount = st.integers(100, 100_000).map(lambda c: Decimal(c).scaleb(-2))


def usd(amount: Decimal | str) -> Any:
    return money(amount, "USD")


def newest(items: Sequence[T], i: int, default: T) -> T:
    """The newest item for 0 (Hypothesis's simplest draw), older ones for more."""
    return items[-1 - i % len(items)] if items else default


def share(total: Decimal, mille: int) -> Decimal:
    return (total * mille / 1000).quantize(CENT, rounding=ROUND_DOWN)


class Marketplace(stateful.RuleBasedStateMachine):
    def __init__(self, backend: str, tally: mm.Tally) -> None:
        super().__init__()
        self.stack, self.clock = ExitStack(), FakeClock(START)
        url = self.stack.enter_context(fresh_store(backend))
        self.app = EscrowLedger(store_from_url(url).env, clock=self.clock)
        self.stack.callback(self.app.close)
        self.tally, self.model = tally, mm.Market()
        self.books = mm.Books(self.app, ProjectionRunner(self.app), self.model, tally)
        self.fixed, self.hourly, self.ended = self.books.fixed, list[str](), set[str]()
        self.milestones, self.spends = dict[str, list[str]](), dict[str, list[str]]()
        self.refund_requests, self.disputes = dict[str, str](), list[str]()
        self.hourly_disputes, self.chargebacks = list[tuple[str, str]](), list[str]()
        self.paused, self.withdrawals = set[str](), list[tuple[str, str]]()
        self.long_moves, self.setting_up = 0, True

    def teardown(self) -> None:
        # every aggregate the run cached still equals a replay: no command changed state in
        # place, so the cache's shallow copies are safe (ledger/aggregate_cache.py)
        try:
            assert self.app.aggregates is not None
            assert self.app.aggregates.differing_from_replay() == []
        finally:
            self.stack.close()
        self.tally.examples += 1

    # ---- the command path, and what the machine keeps of the answers ----------------------

    def attempt(self, rule: str, command: Callable[[], CommandResult],
                expect: bool | None = None) -> dict[str, Any] | None:
        """Runs a command; ``expect`` is the model's word on whether it must be accepted."""
        before = self.app.position()
        counts = self.tally.setup if self.setting_up else self.tally.commands
        try:
            result = command()
        except LedgerError as refusal:
            counts[(rule, "refused")] += 1
            self.tally.refusals[(rule, type(refusal).__name__)] += 1
            wrote, reason = self.app.position() != before, repr(refusal)
            assert not wrote, f"the refused {rule} wrote events: {reason}"
            assert expect is not True, f"{rule} refused, the model accepts it: {reason}"
            return None
        assert expect is not False, f"{rule} accepted, the model refuses it: {result.response}"
        counts[(rule, "accepted")] += 1
        return result.response

    def client_may(self, cid: str, by: Party = Party.CLIENT) -> bool | None:
        """A suspended client's money command is refused; otherwise the rules decide."""
        payer = self.model.parties.get(cid, ("", ""))[0]
        return False if by is Party.CLIENT and self.model.suspended(payer) else None

    def active(self, hourly: bool = False) -> list[str]:
        return [c for c in (self.hourly if hourly else self.fixed) if c not in self.ended]

    def ticked(self) -> None:
        """The scheduler fires what fell due; a dormant contract may have closed."""
        self.books.tick()
        self.ended |= {c for c in self.active() + self.active(True)
                       if self.app.any_contract(c).status is not ContractStatus.ACTIVE}

    def milestone_of(self, i: int, m: int, *status: MilestoneStatus,
                     among: list[str] | None = None) -> tuple[str, str]:
        """For ``m`` under 6, a milestone in one of ``status`` if any; else any milestone."""
        among = self.active() if among is None else among
        fit = [(c, x) for c in among for x, ms in self.app.contract(c).milestones.items()
               if ms.status in status and x in self.milestones[c]] if m < 6 else []
        cid = newest(among, i, "none")
        return newest(fit, i + m, ("", "")) if fit else (
            cid, newest(self.milestones.get(cid, []), m, "none"))

    def escrow(self, cid: str, mid: str) -> Decimal:
        try:
            return Decimal(self.app.contract(cid).milestone(mid).escrow.amount)
        except LedgerError:
            return Decimal("100.00")

    def charged(self, cid: str, r: dict[str, Any] | None, bears: Decimal = mm.D0) -> None:
        """A payment the processor may charge back; the freelancer ``bears`` part of it."""
        if payment_id := ((r or {}).get("charge") or {}).get("payment_id"):
            self.model.payments[payment_id] = mm.Payment(*self.model.parties[cid], bears)
            self.books.payment_ids.append(payment_id)

    # ---- the opening: something of everything, so the rules have money to move ----------

    @initialize(first=milestone_amount, second=milestone_amount, fee_rate=rate,
                hourly_rate=st.integers(300, 9_999), limit=st.integers(1, 40),
                bonus=bonus_amount, connects=st.integers(10, 80))
    def open_market(self, first: Decimal, second: Decimal, fee_rate: str | None,
                    hourly_rate: int, limit: int, bonus: Decimal, connects: int) -> None:
        self.open_fixed("c0", "f0", None, None)
        self.open_fixed("c1", "f1", fee_rate, 0)
        for i, amount in ((1, first), (1, second), (0, second)):
            self.add_milestone(i, amount, True, PaymentMethod.CARD)
        self.open_hourly("c1", "f0", hourly_rate, limit, False, PaymentMethod.CARD)
        self.log_time(0, 0, 60 * limit, False)
        self.buy_connects("f0", connects, "card")
        self.buy_connects("f1", 10, "grant")
        self.bonus(1, bonus)
        self.setting_up = False

    # ---- fixed-price ------------------------------------------------------------------

    @precondition(lambda self: len(self.active()) < 2 and len(self.fixed) < 5)
    @rule(payer=client, payee=freelancer, fee_rate=rate, job=st.sampled_from([None, 0, 1, 2]))
    def open_fixed(self, payer: str, payee: str, fee_rate: str | None, job: int | None) -> None:
        job_id = None if job is None else JOBS[job]
        if r := self.attempt("open_fixed", lambda: self.app.open_contract(
                client_id=payer, freelancer_id=payee, currency="USD", job_id=job_id,
                service_fee_rate=None if fee_rate is None else Decimal(fee_rate),
                actor=payer), False if self.model.suspended(payer) else None):
            self.fixed.append(self.model.opened(r["contract_id"], payer, payee, fee_rate))
            self.milestones[r["contract_id"]] = []
            self.model.hired |= {job_id} if job_id else set()

    @precondition(lambda self: self.active())
    @rule(i=idx, amount=milestone_amount, then_fund=st.booleans(), via=method)
    def add_milestone(self, i: int, amount: Decimal, then_fund: bool,
                      via: PaymentMethod) -> None:
        cid = newest(self.active(), i, "none")
        if r := self.attempt("add_milestone", lambda: self.app.add_milestone(
                contract_id=cid, title="m", amount=usd(amount), actor="c")):
            self.milestones[cid].append(r["milestone_id"])
            if then_fund:
                self.fund_one(cid, r["milestone_id"], via)

    @precondition(lambda self: self.active())
    @rule(i=idx, m=idx, via=method)
    def fund(self, i: int, m: int, via: PaymentMethod) -> None:
        self.fund_one(*self.milestone_of(i, m, CREATED), via)

    def fund_one(self, cid: str, mid: str, via: PaymentMethod) -> None:
        self.charged(cid, self.attempt("fund", lambda: self.app.fund_milestone(
            contract_id=cid, milestone_id=mid, payment_method=via, actor="c"),
            self.client_may(cid)))

    @precondition(lambda self: self.fixed)
    @rule(i=idx, m=idx, then=st.sampled_from([None, "changes", "dispute", "dispute_only"]),
          more=st.integers(0, 5), by=party, mille=per_mille)
    def work(self, i: int, m: int, then: str | None, more: int, by: Party, mille: int) -> None:
        """Work submitted, then perhaps changes asked, then perhaps a dispute and ``more``
        of its steps; ``dispute_only`` disputes a milestone (an ended contract's too)."""
        if then == "dispute_only":
            cid, mid = self.milestone_of(i, m, CHANGES, among=self.fixed)
        else:
            cid, mid = self.milestone_of(i, m, FUNDED, CHANGES)
            self.attempt("submit", lambda: self.app.submit_work(
                contract_id=cid, milestone_id=mid, actor="f"))
        if then in ("changes", "dispute"):
            self.attempt("request_changes", lambda: self.app.request_changes(
                contract_id=cid, milestone_id=mid, note="more", actor="c"))
        if then and then.startswith("dispute") and (r := self.attempt(
                "dispute_milestone", lambda: self.app.dispute_milestone(
                    contract_id=cid, milestone_id=mid, actor="f"))):
            self.disputes.append(r["dispute_id"])
            self.dispute_step(0, "next", by, mille, more)

    @precondition(lambda self: self.active())
    @rule(i=idx, m=idx, hours=st.integers(0, 48))
    def client_silent(self, i: int, m: int, hours: int) -> None:
        """Work submitted (now or before), then 14 days without an answer: released."""
        cid, mid = self.milestone_of(i, m, FUNDED, CHANGES, SUBMITTED)
        self.attempt("submit", lambda: self.app.submit_work(
            contract_id=cid, milestone_id=mid, actor="f"))
        self.clock.advance(timedelta(days=14, hours=hours))
        self.ticked()

    @precondition(lambda self: self.active())
    @rule(i=idx, m=idx, how=st.sampled_from(["all", "part", "part", "more"]), mille=per_mille,
          extra=bonus_amount)
    def approve(self, i: int, m: int, how: str, mille: int, extra: Decimal) -> None:
        """All the escrow, a share of it (a partial approval), or more (a top-up charge)."""
        cid, mid = self.milestone_of(i, m, FUNDED, SUBMITTED, CHANGES)
        escrow = self.escrow(cid, mid)
        amount = {"all": None, "part": max(share(escrow, mille), CENT),
                  "more": escrow + extra}[how]
        if r := self.attempt(f"approve_{how}", lambda: self.app.approve_milestone(
                contract_id=cid, milestone_id=mid, actor="c",
                amount=None if amount is None else usd(amount)), self.client_may(cid)):
            assert Decimal(r["gross"]["amount"]) == (amount or escrow), (how, escrow, r)
            self.charged(cid, r)

    @precondition(lambda self: len(self.active()) > 1 or len(self.active(True)) > 1)
    @rule(i=idx, by=party, pay=st.one_of(st.sampled_from(["none", "all"]), per_mille),
          hourly=st.booleans())
    def end(self, i: int, by: Party, pay: str | int, hourly: bool) -> None:
        """Ending is final: one contract of each kind always stays active."""
        hourly = (hourly and len(self.active(True)) > 1) or len(self.active()) < 2
        cid, paid = newest(self.active(hourly), i, "none"), cast(Any, None)
        if by is Party.CLIENT and not hourly:
            held = sum((self.escrow(cid, mid) for mid in self.milestones[cid]), mm.D0)
            paid = pay if isinstance(pay, str) else usd(max(share(held, pay), CENT))
        if r := self.attempt(f"end_{'hourly' if hourly else 'fixed'}", lambda: (
                self.app.end_contract(contract_id=cid, by=by, pay=paid, actor=by.value)),
                self.client_may(cid, by)):
            self.ended.add(cid)
            if r["refund_request_id"]:
                self.refund_requests[cid] = r["refund_request_id"]

    @precondition(lambda self: self.refund_requests)
    @rule(i=idx, dispute=st.booleans(), more=st.integers(0, 5), by=party, mille=per_mille)
    def answer_refund_request(self, i: int, dispute: bool, more: int, by: Party,
                              mille: int) -> None:
        """The freelancer approves the client's escrow refund request, or disputes it."""
        cid = newest(list(self.refund_requests), i, "none")  # in ending order: ids are random
        rid = self.refund_requests.pop(cid)
        if not dispute:
            self.attempt("refund_approve", lambda: self.app.approve_refund_request(
                contract_id=cid, request_id=rid, actor="f"))
        elif r := self.attempt("dispute_refund", lambda: self.app.dispute_refund_request(
                contract_id=cid, request_id=rid, actor="f")):
            self.disputes.append(r["dispute_id"])
            self.dispute_step(0, "next", by, mille, more)

    @precondition(lambda self: self.disputes)
    @rule(j=idx, step=st.sampled_from(["next", "next", *sorted(STEP_OF)]), by=party,
          mille=per_mille, more=st.integers(0, 3))
    def dispute_step(self, j: int, step: str, by: Party, mille: int, more: int) -> None:
        """The client's response, a proposal, an acceptance or decline, an arbitration fee
        or the ruling; ``next`` is what the stage awaits, then ``more`` next steps, the
        parties taking turns (a proposal is declined one time in four)."""
        found = {d: self.app.contract(contract_of_dispute(d)).disputes[d] for d in self.disputes}
        did = newest([d for d, x in found.items() if x.stage is not DisputeStage.RESOLVED]
                     or self.disputes, j, "none")
        for turn in range(more + 1 if step == "next" else 1):
            d = self.app.contract(contract_of_dispute(did)).disputes[did]
            if turn and d.stage is DisputeStage.RESOLVED:
                return
            now = NEXT_STEP.get(d.stage, "rule") if step == "next" else step
            now = "decline" if now == "accept" and mille % 4 == 0 else now
            args: dict[str, Any] = {"release": usd(share(d.total.amount, mille))} \
                if now in ("propose", "rule") else {"by": Party.CLIENT if now == "respond"
                                                    else (by, OTHER[by])[turn % 2]}
            self.attempt(f"dispute_{now}", partial(getattr(self.app, STEP_OF[now]),
                                                  dispute_id=did, actor="x", **args))

    # ---- hourly -------------------------------------------------------------------------

    @precondition(lambda self: len(self.active(True)) < 2 and len(self.hourly) < 4)
    @rule(payer=client, payee=freelancer, hourly_rate=st.integers(300, 9_999),
          limit=st.integers(0, 40), manual=st.booleans(), via=method)
    def open_hourly(self, payer: str, payee: str, hourly_rate: int, limit: int, manual: bool,
                    via: PaymentMethod) -> None:
        per_hour, now = Decimal(hourly_rate).scaleb(-2), self.clock.now()
        if r := self.attempt("open_hourly", lambda: self.app.open_contract(
                kind="hourly", client_id=payer, freelancer_id=payee, currency="USD",
                hourly_rate=usd(per_hour), weekly_limit_hours=limit, manual_time_allowed=manual,
                payment_method=via, actor=payer), False if self.model.suspended(payer) else None):
            self.hourly.append(self.model.opened(r["contract_id"], payer, payee, None))
            self.books.shadow[r["contract_id"]] = mm.Shadow(now, [(now, per_hour)],
                                                            [(now, limit)])

    @precondition(lambda self: self.hourly)
    @rule(i=idx, days_back=st.integers(0, 6), minutes=st.integers(1, 600),
          manual=st.sampled_from([False, False, True]))
    def log_time(self, i: int, days_back: int, minutes: int, manual: bool) -> None:
        cid = newest(self.active(True) or self.hourly, i, "none")
        shadow = self.books.shadow[cid]
        worked_on = max(self.clock.now().date() - timedelta(days=days_back),
                        shadow.opened_at.date())
        logged = sum(n for day, n in shadow.entries.values() if day == worked_on)
        minutes = max(1, min(minutes, 24 * 60 - logged))  # one more than a day holds: refused
        if r := self.attempt("log_time", lambda: self.app.log_time(
                contract_id=cid, worked_on=worked_on, minutes=minutes, manual=manual,
                actor="f")):
            shadow.entries[r["entry_id"]] = (worked_on, minutes)

    @precondition(lambda self: self.hourly)
    @rule(i=idx, hours=st.integers(0, 40))
    def weekly_limit(self, i: int, hours: int) -> None:
        """A new limit; on a contract a dispute paused, a resume first."""
        cid = newest(self.active(True) or self.hourly, i, "none")
        if cid in self.paused and self.attempt("resume", lambda: self.app.resume_contract(
                contract_id=cid, actor="c")):
            self.paused.discard(cid)
        if self.attempt("weekly_limit", lambda: self.app.change_weekly_limit(
                contract_id=cid, hours=hours, actor="c")):
            self.books.shadow[cid].set_limit(self.clock.now(), hours)

    @precondition(lambda self: self.books.in_review())
    @rule(i=idx, quarters=st.integers(1, 4), then=st.sampled_from([None, "next", "decline"]))
    def hourly_dispute(self, i: int, quarters: int, then: str | None) -> None:
        """The client disputes part or all of a week still in review; then perhaps the
        freelancer answers (``next``), or declines and a review resolves it."""
        cid, week, billed = newest(self.books.in_review(), i, ("none", START.date(), 60))
        shadow = self.books.shadow[cid]
        minutes = max(1, (billed - shadow.disputed.get(week, 0)) * quarters // 4)
        if r := self.attempt("hourly_dispute", lambda: self.app.open_hourly_dispute(
                contract_id=cid, week_start=week, minutes=minutes, actor="c")):
            self.hourly_disputes.append((cid, r["dispute_id"]))
            shadow.disputed[week] = shadow.disputed.get(week, 0) + minutes
            shadow.set_limit(self.clock.now(), 0)  # a dispute sets the limit to 0
            self.paused.add(cid)
            for step in {None: [], "next": ["next"], "decline": ["decline", "next"]}[then]:
                self.hourly_dispute_step(0, step, quarters)

    @precondition(lambda self: self.hourly_disputes)
    @rule(j=idx, step=st.sampled_from(["next", "accept", "decline", "resolve"]),
          quarters=st.integers(0, 4))
    def hourly_dispute_step(self, j: int, step: str, quarters: int) -> None:
        """The freelancer accepts or declines, a review resolves a declined one; ``next``
        is what the dispute awaits (accepted or declined by ``quarters``' parity)."""
        found = {k: self.app.hourly_contract(k[0]).disputes[k[1]] for k in self.hourly_disputes}
        cid, did = newest([k for k, d in found.items() if d.status != "settled"]
                          or self.hourly_disputes, j, ("", ""))
        d = found[(cid, did)]
        if step == "next":
            step = "resolve" if d.status == "declined" else ("accept", "decline")[quarters % 2]
        failed = None  # accepted: all refunded; resolved: manual minutes always fail
        if step == "resolve":
            failed = d.manual_minutes + (d.minutes - d.manual_minutes) * quarters // 4
        self.attempt(f"hourly_dispute_{step}", (lambda: self.app.decline_hourly_dispute(
            contract_id=cid, dispute_id=did, actor="f")) if step == "decline" else (
            lambda: self.app.settle_hourly_dispute(contract_id=cid, dispute_id=did,
                                                   failed_minutes=failed, actor="x")))

    # ---- bonuses and chargebacks ----------------------------------------------------------

    @rule(i=idx, amount=bonus_amount)
    def bonus(self, i: int, amount: Decimal) -> None:
        cid = newest(self.fixed + self.hourly, i, "none")
        if r := self.attempt("bonus", lambda: self.app.pay_bonus(
                contract_id=cid, amount=usd(amount), actor="c"), self.client_may(cid)):
            net = amount - mm.fee_of(amount, self.model.rates[cid])
            assert Decimal(r["net"]["amount"]) == net, (amount, r)
            self.charged(cid, r, net)

    @precondition(lambda self: self.books.payment_ids and len(self.chargebacks) < 3
                  and not any(self.model.may_decide(cb) for cb in self.chargebacks))
    @rule(i=idx, again=st.booleans())
    def chargeback(self, i: int, again: bool) -> None:
        """One open at a time (it suspends a client); ``again`` names one charged back;
        for an even ``i``, a bonus (the freelancer bears it) if there is one."""
        fresh = [p for p in self.books.payment_ids if self.model.may_charge_back(p)]
        borne = [p for p in fresh if self.model.payments[p].share > 0]
        pool = self.books.payment_ids if again else borne if borne and i % 2 == 0 else fresh
        payment_id = newest(pool, i // 2, "none")
        if r := self.attempt("chargeback", lambda: self.app.receive_chargeback(
                payment_id=payment_id, reason="fraud", actor="psp"),
                self.model.may_charge_back(payment_id)):
            self.model.charge_back(r["chargeback_id"], payment_id)
            self.chargebacks.append(r["chargeback_id"])

    @precondition(lambda self: self.chargebacks)
    @rule(i=idx, won=st.booleans())
    def decide_chargeback(self, i: int, won: bool) -> None:
        cb = newest(self.chargebacks, i, "none")
        if self.attempt("decide_chargeback", lambda: self.app.decide_chargeback(
                chargeback_id=cb, won=won, actor="psp"), self.model.may_decide(cb)):
            self.model.decide(cb, won)

    # ---- Connects -----------------------------------------------------------------------

    @rule(f=freelancer, n=st.integers(1, 120), via=st.sampled_from(["card", "available",
                                                                      "grant"]))
    def buy_connects(self, f: str, n: int, via: str) -> None:
        """Bought by card or from the available balance, or granted."""
        purse, price = self.model.purse(f), mm.CONNECT_PRICE * n
        if self.attempt(f"connects_{via}", (lambda: self.app.grant_connects(
                freelancer_id=f, connects=n, reason="promotion", actor="ops"))
                if via == "grant" else (lambda: self.app.purchase_connects(
                    freelancer_id=f, connects=n, actor=f,
                    payment_method="available_balance" if via == "available" else "card")),
                via != "available" or price <= purse.available):
            self.model.wallet(f).issue(self.clock.now(), n, paid=via != "grant")
            purse.available -= price if via == "available" else 0

    @rule(f=freelancer, n=st.integers(1, 18), job=st.integers(0, 2),
          reason=st.sampled_from(["proposal", "proposal", "availability_badge"]),
          back=st.sampled_from([None, None, *mm.RETURNING]))
    def spend_connects(self, f: str, n: int, job: int, reason: str, back: str | None) -> None:
        """A spend; then perhaps the job is cancelled or removed (``back``: the reason)."""
        wallet, now = self.model.wallet(f), self.clock.now()
        job_id = JOBS[job] if reason == "proposal" else None
        if r := self.attempt("connects_spend", lambda: self.app.spend_connects(
                freelancer_id=f, connects=n, reason=reason, job_id=job_id, actor=f),
                wallet.may_spend(n, reason, now)):
            wallet.spend(r["spend_id"], n, job_id, now)
            self.spends.setdefault(f, []).append(r["spend_id"])
            if back is not None:
                self.return_connects(f, 0, back)

    @precondition(lambda self: self.spends)
    @rule(f=freelancer, k=idx, reason=st.sampled_from([*mm.RETURNING, "proposal_declined"]))
    def return_connects(self, f: str, k: int, reason: str) -> None:
        """For ``k`` under 6, a spend that may come back if any."""
        wallet, spends = self.model.wallet(f), self.spends.get(f, [])
        standing = [s for s in spends if wallet.spends[s].status == "spent"]
        spend_id = newest(standing if k < 6 and standing else spends, k, "none")
        if self.attempt("connects_return", lambda: self.app.return_connects(
                freelancer_id=f, spend_id=spend_id, reason=reason, actor="market"),
                wallet.may_return(spend_id, reason, self.model.hired)):
            wallet.give_back(spend_id, self.clock.now())

    # ---- payouts ------------------------------------------------------------------------

    @rule(f=freelancer, mille=st.integers(1, 1000), via=st.sampled_from(sorted(mm.FEES)),
          then=st.sampled_from(["sent settled", "", "cancel", "failed", "sent", "sent failed"]))
    def withdraw(self, f: str, mille: int, via: str, then: str) -> None:
        """A withdrawal of a share of what is available, then perhaps its next steps."""
        purse = self.model.purse(f)
        amount = max(share(purse.available - mm.FEES[via], mille), Decimal("1.00"))
        if r := self.attempt("withdraw", lambda: self.app.request_withdrawal(
                freelancer_id=f, amount=usd(amount), method=via, actor=f),
                purse.may_withdraw(amount, via)):
            purse.withdraw(r["withdrawal_id"], amount, via)
            self.withdrawals.append((f, r["withdrawal_id"]))
            for verb in then.split():
                self.withdrawal_step(0, verb)

    @precondition(lambda self: self.withdrawals)
    @rule(k=idx, verb=st.sampled_from(sorted(WITHDRAWAL_STEPS)))
    def withdrawal_step(self, k: int, verb: str) -> None:
        """For ``k`` under 6, a withdrawal that may take this step if any."""
        def state(w: tuple[str, str]) -> str:
            return self.model.purse(w[0]).withdrawals[w[1]].state

        fit = [w for w in self.withdrawals if mm.allowed(state(w), verb)]
        f, wid = newest(fit if k < 6 and fit else self.withdrawals, k, ("", ""))
        name, args = WITHDRAWAL_STEPS[verb]
        if self.attempt(f"withdrawal_{verb}", partial(getattr(self.app, name), actor="psp",
                                                      withdrawal_id=wid, **args),
                        mm.allowed(state((f, wid)), verb)):
            self.model.purse(f).move(wid, verb)

    @rule(f=freelancer)
    def hold(self, f: str) -> None:
        """Finance places a hold on a freelancer, or releases the one it placed."""
        purse = self.model.purse(f)
        if purse.holds:
            if self.attempt("release_hold", lambda: self.app.release_hold(
                    hold_id=purse.holds[0], note="cleared", actor="fin"), True):
                purse.holds.pop(0)
        elif r := self.attempt("place_hold", lambda: self.app.place_hold(
                freelancer_id=f, reason="manual", note="check", actor="fin"), True):
            purse.holds.append(r["hold_id"])

    # ---- the clock, then the scheduler ----------------------------------------------------

    @rule(hours=st.integers(1, 8 * 24), long=st.booleans())
    def wait(self, hours: int, long: bool) -> None:
        """Hours; at most twice an example, fifty times as long (up to 400 days: past
        dormancy, arbitration and, from 365 days, the Connects' expiry)."""
        long = long and self.long_moves < 2
        self.long_moves += long
        self.clock.advance(timedelta(hours=hours * (50 if long else 1)))
        self.ticked()

    @rule(hours=st.integers(0, 100), dispute=st.sampled_from([None, None, 1, 2, 3, 4]),
          then=st.sampled_from([None, "next", "decline"]))
    def to_monday(self, hours: int, dispute: int | None, then: str | None) -> None:
        """To next Monday's invoices (12:00), some hours into their review; with
        ``dispute``, the freelancer works first (under a limit) and the client then
        disputes ``dispute`` quarters of a week."""
        if dispute is not None and self.active(True):
            if self.books.shadow[self.active(True)[-1]].limit_now(self.clock.now()) == 0:
                self.weekly_limit(0, 10)
            self.log_time(0, 0, 30 * dispute, False)
        noon = weeks.invoice_due(weeks.week_of(self.clock.now().date()))
        self.clock.set(noon + timedelta(hours=hours))
        self.ticked()
        if dispute is not None and self.books.in_review():
            self.hourly_dispute(0, dispute, then)

    @invariant()
    def books_and_model_agree(self) -> None:
        self.books.check()


ACCEPTED_AT_LEAST = {
    "open_fixed": 1, "add_milestone": 2, "fund": 1, "submit": 3, "request_changes": 1,
    "approve": 3, "approve_part": 1, "end_fixed": 3, "dispute": 3, "open_hourly": 3,
    "log_time": 10, "weekly_limit": 10, "hourly_dispute": 1, "end_hourly": 1, "bonus": 3,
    "chargeback": 3, "decide_chargeback": 1, "connects_card": 3, "connects_available": 1,
    "connects_grant": 1, "connects_spend": 3, "connects_return": 1, "withdraw": 3,
    "withdrawal": 3, "withdrawal_sent": 1, "withdrawal_settled": 1, "place_hold": 30,
    "release_hold": 25,
}
"""Accepted commands per rule, or per group of rules named by their prefix (``approve``
counts ``approve_all``, ``approve_part`` and ``approve_more``; ``dispute`` every step of a
fixed-price dispute), in ``DEFAULT_EXAMPLES`` examples; scaled down, rounded down, for a
shorter run (PostgreSQL's). Hypothesis switches rules off per example (swarm testing), so
tallies swing widely between draws (eight randomized runs of 40 examples accepted bonuses
3..174 times): a floor is 1 (the capability was exercised at all), or about a quarter of
the fewest those runs had where that was large; ``-s`` prints the whole tally."""
FIRED_AT_LEAST = {"security_period": 30, "hourly_invoice": 10, "hourly_review_end": 10,
                  "auto_release": 1, "connects_expiry": 1, "dormancy": 2}
"""Deadlines fired by the clock, set the same way."""
HAPPENED_AT_LEAST = {
    "FixedPriceContract.MilestoneReleased": 6, "FixedPriceContract.EscrowRefunded": 5,
    "FixedPriceContract.DisputeResolved": 1, "FreelancerBalance.EarningsMatured": 25,
    "FreelancerBalance.WithdrawalSettled": 1, "FreelancerBalance.WithdrawalReturned": 1,
    "FreelancerBalance.ChargebackDebited": 1, "ClientStanding.Reinstated": 1,
    "ConnectsWallet.LotExpired": 1, "ConnectsWallet.ConnectsReturned": 1,
    "HourlyContract.WeekReleased": 10, "HourlyContract.HourlyDisputeSettled": 1,
}
"""Events in the log, whoever wrote them (a command or a deadline), set the same way."""


def run(backend: str, examples: int) -> None:
    tally = mm.Tally()
    machine: Any = lambda: Marketplace(backend, tally)  # noqa: E731 (a factory; the stub says a class)
    stateful.run_state_machine_as_test(machine, settings=settings(
        max_examples=examples, stateful_step_count=STEPS, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                               HealthCheck.data_too_large]))
    print(backend, tally.summary())  # shown with -s: how far above its floors a run is
    if examples >= FLOORS_FROM:
        tally.assert_floors(ACCEPTED_AT_LEAST, FIRED_AT_LEAST, HAPPENED_AT_LEAST,
                            min(1.0, examples / DEFAULT_EXAMPLES))


def test_the_whole_marketplace_keeps_its_books_and_its_model_on_sqlite() -> None:
    run("sqlite", EXAMPLES)


def test_the_whole_marketplace_keeps_its_books_and_its_model_on_postgres(
        postgres_available: None) -> None:
    run("postgres", PG_EXAMPLES)
