"""Random fixed-price disputes never break the ledger's invariants, and reach every outcome.

Each example funds two fixed-price contracts between c1 and f1 ($5.00..$2,000.00 a
milestone, by card or US bank): a story contract with three milestones and a second
with one to three. Its first steps are a story that disputes each of the story
contract's milestones in turn (two after changes were requested, the third on a
refund request after the client ended paying nothing, sometimes after approving part
of it) and takes each dispute to a different end, in a random order: the client's
silence, a mediation both parties accept, or arbitration (fees paid by neither, one
or both, then a ruling or the fee window's lapse). Then random steps on either
contract: submitting work, requesting changes, approving (all, a share of the escrow,
or an amount that may exceed it), ending (the client paying none, all or part; the
freelancer), disputing a refund request or a milestone, the client's (or wrongly the
freelancer's) response, mediation proposals (sometimes above the disputed total),
acceptances and declines by either party, arbitration fees by either party, rulings,
and the clock moving 0..8 days followed by a scheduler tick, or with no tick (a late
scheduler: the next command fires what fell due on its own). Some random draws are
short scripts of the same steps (open a dispute, then mediate, arbitrate or wait out
the client); every step of a script is tried and tallied on its own.

After every step: a refused command (``LedgerError``; anything else fails the test)
wrote nothing; per contract the escrow is conserved: escrow held + escrow under
dispute + released (gross) + refunded from escrow == charged into escrow (fundings
and top-ups, not escrow carried between milestones), to the cent, where refunded
counts ``EscrowRefunded`` and the refunded part of resolved disputes, so released +
refunded never exceeds what was charged; and every resolved dispute split exactly
its total (released + refunded) and its release exactly (service fee + net). After
each tick, after the last step, and once the clock ran past every deadline and the
scheduler fired them all (120 days, so a contract still holding escrow also goes
dormant and has it refunded): no escrow, escrow under dispute, deferred, pending,
available or arbitration payable balance in the journal is negative, and the journal
holds each contract's escrow and disputed escrow as its aggregate does. After the
last step and after the final tick: the trial balance is zero per currency and a
fresh replay equals the projection; after the final tick no deadline is due and
every dispute is resolved or awaits a ruling.

Refusals are expected and swallowed, so the run tallies what happened and, once
Hypothesis is done, asserts floors: disputes were opened on milestones and on refund
requests; some were resolved by mediation, by arbitration (a lapse of the fee window
or a ruling) and by the client's silence before the final tick; and some split the
escrow between the parties. The story meets each floor in nearly every example: when
written, the default derandomized run (25 examples on SQLite, 15 on PostgreSQL)
resolved 26 and 15 disputes by silence, 25 and 14 by mediation, 25 and 16 by
arbitration, split 14 and 4, and thirty randomized runs of 25 examples on SQLite
never fewer than 17 of any outcome nor 9 splits.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.contracts.dispute import DisputeStage, FixedPriceDispute, Outcome
from domain.contracts.fixed_price import FixedPriceContract
from domain.contracts.terms import Party
from domain.errors import LedgerError
from domain.fees.methods import PaymentMethod
from domain.money import money
from entrypoints.scheduler import tick
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from ledger.commands.disputes import contract_of_dispute
from ledger.settings import store_from_url
from projections.runner import ProjectionRunner
from reconciliation.replay import compare_with_projection
from tests.conftest import fresh_store
from tests.integration.support import funded

EXAMPLES = int(os.environ.get("LEDGER_HYPOTHESIS_EXAMPLES", "25"))
"""Examples per run on SQLite; raise it for a soak (``LEDGER_HYPOTHESIS_EXAMPLES=500``)."""
PG_EXAMPLES = max(EXAMPLES * 3 // 5, 1)
"""On PostgreSQL, where each command costs more (about 1 s an example against 0.4 s)."""

START = datetime(2026, 3, 2, 9, tzinfo=UTC)
"""A Monday in the per-contract era (10% service fee by default)."""
SETTLE_ALL = timedelta(days=120)
"""Past every deadline an example started (refund request 7 days, response 5, proposal 2,
acceptance 2, arbitration fees 7, review 14, security period 5), and past a dormancy run
to its end (90 days untouched, 7 for the client, 7 for the freelancer: escrow refunded)."""
NONNEGATIVE = ("escrow:", "escrow_dispute:", "deferred:", "freelancer:f1:pending",
               "freelancer:f1:available", "arbitration:payable")
ARBITRATED = (Outcome.ARBITRATION_UNPAID, Outcome.ONLY_FREELANCER_PAID,
              Outcome.ONLY_CLIENT_PAID, Outcome.ARBITRATION_RULING)
CENT = Decimal("0.01")
CLOCK_STEPS = ("wait", "jump")
NO_DISPUTE = "dsp_00000000000000000000000000000000_1"
"""A well-formed id of no dispute: what a dispute step names before any was opened."""
FLOORS_FROM = 10
"""Runs of fewer examples (``LEDGER_HYPOTHESIS_EXAMPLES=3``) only have to open a dispute."""


def usd(amount: Decimal | str) -> Any:
    return money(amount, "USD")


# ---- strategies --------------------------------------------------------------------------


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each as often as its weight says. ``st.one_of(a, a)`` draws
    ``a`` no more often than ``st.one_of(a)`` (a branch listed twice counts once), so each
    extra share is a copy of its own."""
    return st.one_of(*(s if i == 0 else s.map(lambda x: x)
                       for n, s in choices for i in range(n)))


cents = st.integers(min_value=1, max_value=300_000).map(lambda c: Decimal(c).scaleb(-2))
milestone_amount = st.integers(min_value=500, max_value=200_000).map(
    lambda c: str(Decimal(c).scaleb(-2)))
party = st.sampled_from(["client", "freelancer"])
release_share = st.one_of(st.integers(0, 1000), st.integers(0, 1000), st.just(1000),
                          st.integers(1001, 1010))
"""Per mille of the disputed total to release; above 1000 asks more than the total."""
valid_share = st.one_of(st.integers(0, 1000), st.just(1000))
"""What the scripts propose and rule: always within the total."""
client_pay = st.one_of(st.just("none"), st.just("all"), cents)
wait = st.tuples(st.just("wait"), st.integers(0, 8 * 24))

milestone_terms = st.tuples(milestone_amount, st.sampled_from([PaymentMethod.CARD,
                                                              PaymentMethod.US_BANK]))
contract_terms = st.tuples(
    st.lists(milestone_terms, min_size=3, max_size=3),
    st.lists(milestone_terms, min_size=1, max_size=3),
).map(list)
"""Two contracts: the first story's (below) with three milestones, then one with one to
three. Every command loads all of a relationship's contracts, so a third would slow
every step."""
STORY = 0
"""The contract index of the first story's contract; random steps draw 0 or 1."""

atomic = st.one_of(
    st.tuples(st.just("submit"), st.integers(0, 1), st.integers(0, 2)),
    st.tuples(st.just("changes"), st.integers(0, 1), st.integers(0, 2)),
    st.tuples(st.just("approve"), st.integers(0, 1), st.integers(0, 2),
              st.one_of(st.none(), cents)),
    st.tuples(st.just("approve_share"), st.integers(0, 1), st.integers(0, 2),
              st.integers(0, 1000)),
    st.tuples(st.just("end"), st.integers(0, 1), st.just("client"), client_pay),
    st.tuples(st.just("end"), st.integers(0, 1), st.just("freelancer"), st.none()),
    st.tuples(st.just("dispute_refund"), st.integers(0, 1)),
    st.tuples(st.just("dispute_milestone"), st.integers(0, 1), st.integers(0, 2)),
    st.tuples(st.just("respond"), st.integers(0, 2), party),
    st.tuples(st.just("propose"), st.integers(0, 2), release_share),
    st.tuples(st.just("accept"), st.integers(0, 2), party),
    st.tuples(st.just("decline"), st.integers(0, 2), party),
    st.tuples(st.just("pay_fee"), st.integers(0, 2), party),
    st.tuples(st.just("rule"), st.integers(0, 2), release_share),
    wait, wait.map(lambda x: x),  # two shares (see ``weighted``)
    st.tuples(st.just("jump"), st.integers(1, 8 * 24)),
)

# Scripts: the same steps in an order that tends to be accepted. A dispute index of 0
# names the newest dispute, so a script's steps after an opening act on that dispute.
open_on_milestone = st.tuples(st.integers(0, 1), st.integers(0, 2)).map(lambda t: [
    ("submit", *t), ("changes", *t), ("dispute_milestone", *t)])
open_on_ending = st.tuples(
    st.integers(0, 1), st.one_of(st.just("none"), cents), st.integers(0, 2), st.booleans(),
).map(lambda t: [("end", t[0], "client", t[1]),
                 ("dispute_refund", t[0]) if t[3] else ("dispute_milestone", t[0], t[2])])
acceptances = st.one_of(
    st.sampled_from([("client", "freelancer"), ("freelancer", "client")]),
    st.sampled_from([("client", "freelancer"), ("freelancer", "client")]),
    st.tuples(party, party))
"""Both parties in either order, mostly; sometimes one party twice (refused)."""
mediate = st.tuples(valid_share, acceptances).map(lambda t: [
    ("respond", 0, "client"), ("propose", 0, t[0]), *(("accept", 0, p) for p in t[1])])
arbitrate = st.tuples(
    st.sampled_from([(), ("client",), ("freelancer",), ("client", "freelancer"),
                     ("freelancer", "client")]),
    party, valid_share, st.integers(7 * 24, 8 * 24), st.booleans(),
).map(lambda t: [
    ("respond", 0, "client"), ("propose", 0, t[2]), ("decline", 0, t[1]),
    *(("pay_fee", 0, p) for p in t[0]),
    *([("rule", 0, t[2])] if t[4] or len(t[0]) == 2 else []), ("wait", t[3])])
client_silent = st.integers(5 * 24, 8 * 24).map(lambda h: [("wait", h)])

opening = weighted((1, open_on_milestone), (2, open_on_ending))
dispute_story = st.tuples(opening, weighted((2, mediate), (3, arbitrate), (2, client_silent),
                                            (1, st.just([])))) \
    .map(lambda t: [*t[0], *t[1]])
"""A dispute opened, then (mostly) taken towards one of its outcomes."""

step = weighted((3, atomic.map(lambda s: [s])), (2, dispute_story), (1, mediate),
                (1, arbitrate), (1, client_silent))


def three_disputes(follow_ups: list[Any], paid_first: int | None) -> list[tuple[Any, ...]]:
    """The story contract's first two milestones disputed after changes were requested,
    then the third on ending the contract (paying nothing: a refund request the
    freelancer disputes), perhaps after a part of it was approved; each dispute followed
    up before the next opens."""
    return [
        ("submit", STORY, 0), ("changes", STORY, 0), ("dispute_milestone", STORY, 0),
        *follow_ups[0],
        ("submit", STORY, 1), ("changes", STORY, 1), ("dispute_milestone", STORY, 1),
        *follow_ups[1],
        *([] if paid_first is None else [("submit", STORY, 2),
                                         ("approve_share", STORY, 2, paid_first)]),
        ("end", STORY, "client", "none"), ("dispute_refund", STORY),
        *follow_ups[2],
    ]


first_story = st.tuples(
    st.tuples(client_silent, mediate, arbitrate).flatmap(st.permutations),
    st.one_of(st.none(), st.integers(1, 999)),
).map(lambda t: three_disputes(*t))
"""Each example's first steps: the story contract's three milestones disputed one after
the other, the dispute left to the client's silence, mediated, or taken to arbitration
(a ruling or a lapse) in a random order, so every example tries each outcome, on a
milestone and on a refund request."""


def examples(max_steps: int) -> st.SearchStrategy[tuple[list[Any], list[tuple[Any, ...]]]]:
    """Contracts to fund, then the first story, then random steps (scripts flattened
    into their steps)."""
    return st.tuples(
        contract_terms,
        st.tuples(first_story, st.lists(step, min_size=3, max_size=max_steps))
        .map(lambda p: [*p[0], *(s for chunk in p[1] for s in chunk)]))


# ---- the run's tally ---------------------------------------------------------------------


class Tally:
    def __init__(self) -> None:
        self.examples = 0
        self.steps: Counter[tuple[str, str]] = Counter()
        """(rule, "accepted" | "refused") for every random step but the clock's."""
        self.opened = 0
        self.outcomes: Counter[Outcome] = Counter()
        """Disputes resolved by the end of the random steps, by outcome."""
        self.settled: Counter[Outcome] = Counter()
        """Disputes resolved by the final settling tick, by outcome."""
        self.awaiting_ruling = 0
        """Disputes left awaiting a ruling after the final tick (no clock runs there)."""
        self.origins: Counter[str] = Counter()
        """Disputes opened, by origin (a refund request, or a milestone)."""
        self.split = 0
        """Disputes resolved with part released and part refunded."""

    def summary(self) -> str:
        rules = sorted({r for r, _ in self.steps})
        shown = ", ".join(f"{r} {self.steps[(r, 'accepted')]}/"
                          f"{self.steps[(r, 'accepted')] + self.steps[(r, 'refused')]}"
                          for r in rules)
        return (f"{self.examples} examples; accepted/all: {shown}; disputes opened "
                f"{self.opened}; resolved {dict(sorted(self.outcomes.items()))}; then by the "
                f"final tick {dict(sorted(self.settled.items()))}; left awaiting a ruling "
                f"{self.awaiting_ruling}; by origin {dict(sorted(self.origins.items()))}; "
                f"split between the parties {self.split}")

    def assert_disputes_resolved_every_way(self) -> None:
        summary = self.summary()
        assert self.opened >= 1, f"no dispute was opened: {summary}"
        if self.examples < FLOORS_FROM:
            return
        assert self.outcomes[Outcome.MEDIATION_ACCEPTED] >= 1, (
            f"no dispute was resolved by mediation: {summary}")
        assert sum(self.outcomes[o] for o in ARBITRATED) >= 1, (
            f"no dispute was resolved by arbitration (a lapse or a ruling): {summary}")
        assert self.outcomes[Outcome.CLIENT_SILENT] >= 1, (
            f"no dispute was resolved by the client's silence: {summary}")
        assert self.origins["refund_request"] >= 1, f"no refund request was disputed: {summary}"
        assert self.origins["milestone"] >= 1, f"no milestone was disputed: {summary}"
        assert self.split >= 1, f"no dispute split the escrow between the parties: {summary}"


TALLIES = {"sqlite": Tally(), "postgres": Tally()}
"""Filled by the examples of the run in progress, one per backend."""


# ---- one example -------------------------------------------------------------------------


class Example:
    def __init__(self, app: EscrowLedger, clock: FakeClock, tally: Tally) -> None:
        self.app, self.clock, self.tally = app, clock, tally
        self.projector = ProjectionRunner(app)
        self.contracts: list[str] = []
        self.milestones: dict[str, list[str]] = {}
        self.refund_requests: dict[str, str] = {}
        self.disputes: list[str] = []
        self.charged: dict[str, Decimal] = {}
        """Charged into escrow per contract (fundings and top-ups), from the log."""
        self.escrow_refunded: dict[str, Decimal] = {}
        """``EscrowRefunded`` totals per contract, from the log."""
        self.read_upto = 0

    # ---- steps ---------------------------------------------------------------------------

    def open_contracts(self, terms: list[list[tuple[str, PaymentMethod]]]) -> None:
        for milestones in terms:
            cid, mids = funded(self.app, [a for a, _ in milestones],
                               methods=[m for _, m in milestones])
            self.contracts.append(cid)
            self.milestones[cid] = mids

    def run(self, s: tuple[Any, ...]) -> None:
        kind = s[0]
        before = self.app.position()
        try:
            self.apply(s)
        except LedgerError:
            assert self.app.position() == before, f"refused {s} wrote events"
            self.tally.steps[(kind, "refused")] += 1
        else:
            if kind not in CLOCK_STEPS:
                self.tally.steps[(kind, "accepted")] += 1
        if self.app.position() != before:  # else nothing changed since the last checks
            # the journal after each tick (it caught the view up) and at the end; each
            # step's postings are checked there, as it would cost a catch-up per step
            self.check(journal=kind == "wait")

    def contract(self, i: int) -> str:
        return self.contracts[i % len(self.contracts)]

    def milestone(self, cid: str, i: int) -> str:
        mids = self.milestones[cid]
        return mids[i % len(mids)]

    def dispute(self, i: int) -> str:
        return self.disputes[-1 - i % len(self.disputes)] if self.disputes else NO_DISPUTE

    def release(self, dispute_id: str, per_mille: int) -> Any:
        """``per_mille`` of the dispute's total; above 1000, a cent or more beyond it."""
        total = Decimal("1000.00")
        if dispute_id in self.disputes:
            total = self.app.contract(contract_of_dispute(dispute_id)).disputes[
                dispute_id].total.amount
        if per_mille > 1000:
            return usd(total + CENT * (per_mille - 1000))
        return usd((total * per_mille / 1000).quantize(CENT, rounding=ROUND_DOWN))

    def apply(self, s: tuple[Any, ...]) -> None:
        app, kind = self.app, s[0]
        if kind == "wait":
            self.clock.advance(timedelta(hours=s[1]))
            self.projector.catch_up()
            tick(app, self.projector)
        elif kind == "jump":  # the scheduler is late: the next command fires what fell due
            self.clock.advance(timedelta(hours=s[1]))
        elif kind in ("submit", "changes", "approve", "approve_share", "dispute_milestone"):
            cid = self.contract(s[1])
            mid = self.milestone(cid, s[2])
            if kind == "submit":
                app.submit_work(contract_id=cid, milestone_id=mid, actor="f1")
            elif kind == "changes":
                app.request_changes(contract_id=cid, milestone_id=mid, note="no", actor="c1")
            elif kind == "approve":
                amount = None if s[3] is None else usd(s[3])
                app.approve_milestone(contract_id=cid, milestone_id=mid, amount=amount,
                                      actor="c1")
            elif kind == "approve_share":  # per mille of the milestone's escrow
                escrow = app.contract(cid).milestone(mid).escrow.amount
                app.approve_milestone(
                    contract_id=cid, milestone_id=mid, actor="c1",
                    amount=usd((escrow * s[3] / 1000).quantize(CENT, rounding=ROUND_DOWN)))
            else:
                opened = app.dispute_milestone(contract_id=cid, milestone_id=mid, actor="f1")
                self.opened(opened.response["dispute_id"])
        elif kind == "end":
            cid = self.contract(s[1])
            by = Party(s[2])
            pay = usd(s[3]) if isinstance(s[3], Decimal) else s[3]
            ended = app.end_contract(contract_id=cid, by=by, pay=pay, actor=s[2])
            if ended.response["refund_request_id"]:
                self.refund_requests[cid] = ended.response["refund_request_id"]
        elif kind == "dispute_refund":
            cid = self.contract(s[1])
            opened = app.dispute_refund_request(
                contract_id=cid, request_id=self.refund_requests.get(cid, "none"), actor="f1")
            self.opened(opened.response["dispute_id"])
        else:
            dispute_id = self.dispute(s[1])
            if kind == "respond":
                app.respond_to_dispute(dispute_id=dispute_id, by=Party(s[2]), actor=s[2])
            elif kind == "propose":
                app.propose_dispute_settlement(dispute_id=dispute_id,
                                               release=self.release(dispute_id, s[2]),
                                               actor="mediator")
            elif kind == "accept":
                app.accept_dispute_proposal(dispute_id=dispute_id, by=Party(s[2]), actor=s[2])
            elif kind == "decline":
                app.decline_dispute_proposal(dispute_id=dispute_id, by=Party(s[2]), actor=s[2])
            elif kind == "pay_fee":
                app.pay_arbitration_fee(dispute_id=dispute_id, by=Party(s[2]), actor=s[2])
            elif kind == "rule":
                app.rule_on_dispute(dispute_id=dispute_id,
                                    release=self.release(dispute_id, s[2]), actor="arbitrator")
            else:  # pragma: no cover
                raise AssertionError(s)

    def opened(self, dispute_id: str) -> None:
        assert dispute_id not in self.disputes, f"dispute id {dispute_id} reused"
        self.disputes.append(dispute_id)
        self.tally.opened += 1

    # ---- checks --------------------------------------------------------------------------

    def read_new_events(self) -> set[str]:
        """What went into and out of escrow since the last step, per contract; answers
        the contracts with new events."""
        touched: set[str] = set()
        while batch := self.app.recorder.select_notifications(start=self.read_upto + 1,
                                                              limit=500):
            for n in batch:
                event = self.app.mapper.to_domain_event(n)
                cid = str(event.originator_id)
                touched.add(cid)
                if isinstance(event, FixedPriceContract.MilestoneFunded):
                    assert event.charged.amount >= 0, event
                    self.charged[cid] = self.charged.get(cid, Decimal(0)) + event.charged.amount
                elif isinstance(event, FixedPriceContract.EscrowRefunded):
                    assert event.total.amount > 0, event
                    self.escrow_refunded[cid] = (self.escrow_refunded.get(cid, Decimal(0))
                                                 + event.total.amount)
            self.read_upto = batch[-1].id
        return touched

    def check(self, *, journal: bool, every_contract: bool = False) -> None:
        """Per contract, escrow is conserved; each resolved dispute splits exactly. With
        ``journal``, also: no balance we owe is negative, and the journal holds each
        contract's escrow and disputed escrow as its aggregate does. Contracts with no
        new event are as they were at the last check, unless ``every_contract``."""
        touched = self.read_new_events()
        projected: dict[str, Decimal] = {}
        if journal:
            self.projector.catch_up()
            projected = {b.account: b.balance for b in self.projector.queries.all_balances()
                         if b.currency == "USD"}
            for account, amount in projected.items():
                if account.startswith(NONNEGATIVE):
                    assert amount >= 0, (account, amount)
        for cid in self.contracts:
            if not (every_contract or cid in touched):
                continue
            c = self.app.contract(cid)
            for m in c.milestones.values():
                assert m.escrow.amount >= 0, (cid, m)
                assert m.fee_held.amount >= 0, (cid, m)
            refunded = self.escrow_refunded.get(cid, Decimal(0))
            for d in c.disputes.values():
                refunded += check_dispute(d)
            assert c.marketplace_fee_refunded <= c.marketplace_fee_charged, (
                cid, c.marketplace_fee_refunded, c.marketplace_fee_charged)
            charged = self.charged.get(cid, Decimal(0))
            released = c.total_released.amount
            held, disputed = c.escrow_balance().amount, c.disputed_escrow().amount
            assert released + refunded <= charged, (
                f"{cid}: released {released} + refunded {refunded} exceed the {charged} "
                "charged into escrow")
            assert held + disputed + released + refunded == charged, (
                f"{cid}: escrow {held} + disputed {disputed} + released {released} + "
                f"refunded {refunded} != charged {charged}")
            if not journal:
                continue
            in_escrow = sum((v for a, v in projected.items() if a.startswith(f"escrow:{cid}:")),
                            Decimal(0))
            assert in_escrow == held, (cid, in_escrow, held)
            assert projected.get(f"escrow_dispute:{cid}", Decimal(0)) == disputed, (
                cid, projected.get(f"escrow_dispute:{cid}"), disputed)

    def check_books(self) -> None:
        """Trial balance zero per currency, a fresh replay equal to the projection."""
        self.projector.catch_up()
        trial = self.projector.queries.trial_balance()
        assert all(v == 0 for v in trial.values()), trial
        report = compare_with_projection(self.app, self.projector.queries)
        assert report.ok, report
        assert all(v == 0 for v in report.trial_balance.values()), report.trial_balance
        self.check(journal=True, every_contract=True)

    def outcomes(self) -> Counter[Outcome]:
        found: Counter[Outcome] = Counter()
        for cid in self.contracts:
            for d in self.app.contract(cid).disputes.values():
                if d.outcome is not None:
                    found[d.outcome] += 1
        return found

    def tally_disputes(self) -> None:
        for cid in self.contracts:
            for d in self.app.contract(cid).disputes.values():
                self.tally.origins[d.origin.value] += 1
                r = d.resolution
                if r is not None and r.released.amount > 0 and r.refunded.amount > 0:
                    self.tally.split += 1

    def settle(self) -> None:
        """The clock runs past every deadline; ticks fire them (a lapse may start the next
        stage's clock, already due), until none is left."""
        self.clock.advance(SETTLE_ALL)
        for _ in range(10):
            if not tick(self.app, self.projector):
                break
        self.projector.catch_up()
        left = self.projector.deadlines.queries.due(self.clock.now())
        assert not left, f"due deadlines left after the final ticks: {left}"
        for cid in self.contracts:
            for d in self.app.contract(cid).disputes.values():
                assert d.stage in (DisputeStage.RESOLVED, DisputeStage.AWAITING_RULING), d
                self.tally.awaiting_ruling += d.stage is DisputeStage.AWAITING_RULING


def check_dispute(d: FixedPriceDispute) -> Decimal:
    """A dispute froze what its amounts add up to; once resolved, it split exactly that
    (released + refunded) and its release exactly (service fee + net). Answers what it
    refunded from escrow."""
    assert d.total.amount > 0, d
    assert d.total == sum((a.amount for a in d.amounts), d.total * 0), d
    if d.stage is not DisputeStage.RESOLVED:
        assert (d.resolution, d.outcome) == (None, None), d
        return Decimal(0)
    r = d.resolution
    assert r is not None, d
    assert d.outcome is not None, d
    assert min(r.released.amount, r.refunded.amount) >= 0, (d.dispute_id, r)
    assert r.released + r.refunded == d.total, (d.dispute_id, d.total, r)
    assert r.service_fee + r.net == r.released, (d.dispute_id, r)
    assert min(r.service_fee.amount, r.net.amount) >= 0, (d.dispute_id, r)
    assert 0 <= r.marketplace_fee_refunded.amount <= d.fee_held.amount, (
        d.dispute_id, d.fee_held, r)
    return Decimal(r.refunded.amount)


def run_example(backend: str, terms: list[list[tuple[str, PaymentMethod]]],
                steps: list[tuple[Any, ...]]) -> None:
    tally = TALLIES[backend]
    clock = FakeClock(START)
    with fresh_store(backend) as url:
        app = EscrowLedger(store_from_url(url).env, clock=clock)
        try:
            ex = Example(app, clock, tally)
            ex.open_contracts(terms)
            ex.check(journal=True, every_contract=True)
            for s in steps:
                ex.run(s)
            ex.check_books()
            before = ex.outcomes()
            ex.settle()
            ex.check_books()
            tally.outcomes.update(before)
            tally.settled.update(ex.outcomes() - before)
            ex.tally_disputes()
            tally.examples += 1
        finally:
            app.close()


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(example=examples(6))
def sqlite_examples(example: tuple[list[Any], list[tuple[Any, ...]]]) -> None:
    run_example("sqlite", *example)


@settings(max_examples=PG_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(example=examples(6))
def postgres_examples(example: tuple[list[Any], list[tuple[Any, ...]]]) -> None:
    run_example("postgres", *example)


def test_random_disputes_conserve_escrow_and_keep_the_books_on_sqlite() -> None:
    TALLIES["sqlite"] = Tally()
    sqlite_examples()
    TALLIES["sqlite"].assert_disputes_resolved_every_way()


def test_random_disputes_conserve_escrow_and_keep_the_books_on_postgres(
        postgres_available: None) -> None:
    TALLIES["postgres"] = Tally()
    postgres_examples()
    TALLIES["postgres"].assert_disputes_resolved_every_way()
