"""Random sequences of commands never break the ledger's invariants.

Hypothesis drives a few contracts through arbitrary orders of funding, submitting,
approving (part, all, more), requesting changes, ending and refunding, with the
clock moving between steps. After every step: refused commands wrote nothing;
and at the end the journal balances per currency, no escrow, pending or
available balance is negative, and a fresh replay equals the projection.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.contracts.terms import Party
from domain.errors import LedgerError
from domain.fees.methods import PaymentMethod
from domain.money import money
from entrypoints.scheduler import tick
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from ledger.settings import store_from_url
from projections.runner import ProjectionRunner
from reconciliation.replay import compare_with_projection
from tests.conftest import fresh_store

EXAMPLES = int(os.environ.get("LEDGER_HYPOTHESIS_EXAMPLES", "40"))
"""Examples per run; raise it for a soak (``LEDGER_HYPOTHESIS_EXAMPLES=1000 make test``)."""

cents = st.integers(min_value=1, max_value=200_000).map(lambda c: Decimal(c).scaleb(-2))
milestone_cents = st.integers(min_value=500, max_value=200_000).map(
    lambda c: Decimal(c).scaleb(-2))
money_step = st.one_of(
    st.tuples(st.just("submit"), st.integers(0, 3), st.integers(0, 5)),
    st.tuples(st.just("approve"), st.integers(0, 3), st.integers(0, 5),
              st.one_of(st.none(), cents)),
    st.tuples(st.just("wait"), st.integers(24, 6 * 24)),
)
step = st.one_of(
    money_step,
    money_step,
    st.tuples(st.just("open"), st.integers(0, 2), st.sampled_from([None, "0.00", "0.15"])),
    st.tuples(st.just("add"), st.integers(0, 3), milestone_cents),
    st.tuples(st.just("fund"), st.integers(0, 3), st.integers(0, 5),
              st.sampled_from(list(PaymentMethod))),
    st.tuples(st.just("submit"), st.integers(0, 3), st.integers(0, 5)),
    st.tuples(st.just("changes"), st.integers(0, 3), st.integers(0, 5)),
    st.tuples(st.just("approve"), st.integers(0, 3), st.integers(0, 5),
              st.one_of(st.none(), cents)),
    st.tuples(st.just("approve"), st.integers(0, 3), st.integers(0, 5), st.none()),
    st.tuples(st.just("end"), st.integers(0, 3), st.sampled_from(["client", "freelancer"]),
              st.one_of(st.none(), cents)),
    st.tuples(st.just("approve_refund"), st.integers(0, 3)),
    st.tuples(st.just("wait"), st.integers(1, 8 * 24)),
)

# Every example starts with contracts that have funded milestones, so the random
# steps mostly move money instead of being refused for want of a contract.
prelude = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from([None, "0.00", "0.15"]),
              st.lists(st.tuples(milestone_cents, st.sampled_from(list(PaymentMethod))),
                       min_size=1, max_size=3)),
    min_size=1, max_size=3,
).map(lambda cs: [
    s for i, (who, rate, ms) in enumerate(cs) for s in (
        [("open", who, rate)]
        + [x for j, (amount, method) in enumerate(ms)
           for x in (("add", i, amount), ("fund", i, j, method))]
    )
])


def run_invariants(backend: str, steps: list[tuple]) -> None:
    clock = FakeClock(datetime(2026, 1, 5, 12, tzinfo=UTC))
    with fresh_store(backend) as url:
        app = EscrowLedger(store_from_url(url).env, clock=clock)
        projector = ProjectionRunner(app)
        contracts: list[str] = []
        milestones: dict[str, list[str]] = {}
        refunds: dict[str, str] = {}
        try:
            for s in steps:
                before = app.position()
                try:
                    apply_step(app, clock, projector, s, contracts, milestones, refunds)
                except LedgerError:
                    assert app.position() == before, f"refused {s} wrote events"
                check_aggregates(app, contracts)
            projector.catch_up()
            report = compare_with_projection(app, projector.queries)
            assert report.ok, report
            for b in projector.queries.all_balances():
                if b.account.startswith(("escrow:", "freelancer:", "deferred:", "client:")) \
                        and not b.account.endswith(":funding_source"):
                    assert b.balance >= 0, b
        finally:
            app.close()


def apply_step(app, clock, projector, s, contracts, milestones, refunds) -> None:
    kind = s[0]
    def pick(seq, i):
        return (seq[i % len(seq)] if seq else "00000000-0000-0000-0000-000000000000")
    if kind == "open":
        rate = None if s[2] is None else Decimal(s[2])
        cid = app.open_contract(client_id=f"c{s[1]}", freelancer_id=f"f{s[1]}", currency="USD",
                                service_fee_rate=rate, actor="t").response["contract_id"]
        contracts.append(cid)
        milestones[cid] = []
    elif kind == "add":
        cid = pick(contracts, s[1])
        if not contracts:
            raise LedgerError("no contract yet")
        mid = app.add_milestone(contract_id=cid, title="m", amount=money(s[2], "USD"),
                                actor="t").response["milestone_id"]
        milestones.setdefault(cid, []).append(mid)
    elif kind in ("fund", "submit", "changes", "approve"):
        cid = pick(contracts, s[1])
        mid = pick(milestones.get(cid, []), s[2])
        if kind == "fund":
            app.fund_milestone(contract_id=cid, milestone_id=mid, actor="c", payment_method=s[3])
        elif kind == "submit":
            app.submit_work(contract_id=cid, milestone_id=mid, actor="f")
        elif kind == "changes":
            app.request_changes(contract_id=cid, milestone_id=mid, note="n", actor="c")
        else:
            amount = None if s[3] is None else money(s[3], "USD")
            app.approve_milestone(contract_id=cid, milestone_id=mid, amount=amount, actor="c")
    elif kind == "end":
        cid = pick(contracts, s[1])
        pay = None if s[3] is None else money(s[3], "USD")
        by = Party(s[2])
        result = app.end_contract(contract_id=cid, by=by,
                                  pay=pay if by is Party.CLIENT else None, actor="x")
        if result.response["refund_request_id"]:
            refunds[cid] = result.response["refund_request_id"]
    elif kind == "approve_refund":
        cid = pick(sorted(refunds), s[1])
        app.approve_refund_request(contract_id=cid, request_id=refunds.get(cid, "none"),
                                   actor="f")
    elif kind == "wait":
        clock.advance(timedelta(hours=s[1]))
        projector.catch_up()
        tick(app, projector)


def check_aggregates(app: EscrowLedger, contracts: list[str]) -> None:
    for cid in contracts:
        c = app.contract(cid)
        for m in c.milestones.values():
            assert m.escrow.amount >= 0, (cid, m)
        balance = app.find_freelancer_balance(c.freelancer_id)
        if balance is not None:
            for code in balance.currencies():
                assert balance.pending_in(code).amount >= 0
                assert balance.available_in(code).amount >= 0


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.builds(lambda p, r: p + r, prelude, st.lists(step, min_size=5, max_size=30)))
def test_random_commands_keep_the_books_balanced_and_nothing_negative_on_sqlite(steps):
    run_invariants("sqlite", steps)


@settings(max_examples=max(EXAMPLES // 3, 1), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(steps=st.builds(lambda p, r: p + r, prelude, st.lists(step, min_size=5, max_size=25)))
def test_random_commands_keep_the_books_balanced_and_nothing_negative_on_postgres(
        postgres_available, steps):
    run_invariants("postgres", steps)
