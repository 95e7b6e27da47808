"""Random chargebacks among releases, bonuses, disputes and refunds keep the books.

Hypothesis funds fixed-price milestones and pays bonuses on one contract between
c1 and f1, then mixes approvals, endings, refund-request disputes with their
outcomes, chargebacks on any payment the contract answered, chargebacks won or
lost, and the clock with the scheduler. After every example: the journal
balances per currency and equals a replay; escrow is conserved per contract
(held + under dispute + released + refunded == charged into it); no escrow or
pending balance is negative; a freelancer's available balance is negative only
while a chargeback hold stands; the platform's chargeback losses equal the
losses of chargebacks not won. Floors make sure chargebacks and their decisions
were accepted, not only refused.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.contracts.chargebacks import ChargebackStatus
from domain.contracts.fixed_price import FixedPriceContract
from domain.contracts.terms import Party
from domain.errors import LedgerError
from domain.money import money
from entrypoints.scheduler import tick
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from ledger.settings import store_from_url
from projections.runner import ProjectionRunner
from reconciliation.replay import compare_with_projection
from tests.conftest import fresh_store

ACCEPTED: dict[str, Counter[str]] = {"sqlite": Counter(), "postgres": Counter()}

amount = st.sampled_from(["5.00", "99.99", "100.00", "640.00", "1000.00"])
step = st.one_of(
    st.tuples(st.just("milestone"), amount),
    st.tuples(st.just("bonus"), amount),
    st.tuples(st.just("approve"), st.integers(0, 5)),
    st.tuples(st.just("chargeback"), st.integers(0, 9)),
    st.tuples(st.just("decide"), st.integers(0, 4), st.booleans()),
    st.tuples(st.just("end"), st.sampled_from(["client", "freelancer"])),
    st.tuples(st.just("dispute"), st.integers(0, 3)),
    st.tuples(st.just("wait"), st.integers(0, 8)),
)


def usd(value: str) -> object:
    return money(value, "USD")


def run(backend: str, steps: list[tuple]) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    with fresh_store(backend) as url:
        app = EscrowLedger(store_from_url(url).env, clock=clock)
        projector = ProjectionRunner(app)
        try:
            cid = app.open_contract(client_id="c1", freelancer_id="f1", currency="USD",
                                    actor="t").response["contract_id"]
            milestones: list[str] = []
            payments: list[str] = []
            chargebacks: list[str] = []
            requests: list[str] = []
            for s in steps:
                try:
                    name = s[0]
                    if name == "milestone":
                        mid = app.add_milestone(contract_id=cid, title="m", amount=usd(s[1]),
                                                actor="c1").response["milestone_id"]
                        milestones.append(mid)
                        funded = app.fund_milestone(contract_id=cid, milestone_id=mid,
                                                    actor="c1").response
                        if funded["payment_id"]:
                            payments.append(funded["payment_id"])
                    elif name == "bonus":
                        payments.append(app.pay_bonus(contract_id=cid, amount=usd(s[1]),
                                                      actor="c1").response["payment_id"])
                    elif name == "approve" and milestones:
                        app.approve_milestone(contract_id=cid,
                                              milestone_id=milestones[s[1] % len(milestones)],
                                              actor="c1")
                    elif name == "chargeback" and payments:
                        chargebacks.append(app.receive_chargeback(
                            payment_id=payments[s[1] % len(payments)], reason="",
                            actor="psp").response["chargeback_id"])
                    elif name == "decide" and chargebacks:
                        app.decide_chargeback(chargeback_id=chargebacks[s[1] % len(chargebacks)],
                                              won=s[2], actor="psp")
                    elif name == "end":
                        ended = app.end_contract(contract_id=cid, by=Party(s[1]), pay="none",
                                                 actor=s[1]).response
                        if ended.get("refund_request_id"):
                            requests.append(ended["refund_request_id"])
                    elif name == "dispute" and requests:
                        app.dispute_refund_request(contract_id=cid,
                                                   request_id=requests[s[1] % len(requests)],
                                                   actor="f1")
                    elif name == "wait":
                        clock.advance(timedelta(days=s[1]))
                        tick(app, projector)
                    else:
                        continue
                    ACCEPTED[backend][name] += 1
                except LedgerError:
                    pass
            clock.advance(timedelta(days=30))
            tick(app, projector)
            check(app, projector, cid)
        finally:
            app.close()


def check(app: EscrowLedger, projector: ProjectionRunner, cid: str) -> None:
    projector.catch_up()
    assert projector.queries.trial_balance() in ({"USD": Decimal("0.00")}, {})
    assert compare_with_projection(app, projector.queries).ok
    c = app.contract(cid)
    assert isinstance(c, FixedPriceContract)
    balances = {(b.account, b.currency): b.balance for b in projector.queries.all_balances()}

    def bal(account: str) -> Decimal:
        return balances.get((account, "USD"), Decimal("0.00"))

    charged = sum((e.escrow_added - sum((m.amount for m in e.carried_in), e.escrow_added * 0)
                   for e in app.events.get(c.id)
                   if isinstance(e, FixedPriceContract.MilestoneFunded)), usd("0") * 0)
    refunded = sum((e.total for e in app.events.get(c.id)
                    if isinstance(e, FixedPriceContract.EscrowRefunded)), usd("0") * 0)
    disputed_back = sum((d.resolution.refunded for d in c.disputes.values()
                         if d.resolution is not None), usd("0") * 0)
    assert c.escrow_balance() + c.disputed_escrow() + c.total_released + refunded \
        + disputed_back == charged
    for (account, _), value in balances.items():
        if account.startswith(("escrow", "deferred:", "freelancer:f1:pending")):
            assert value >= 0, (account, value)
    if bal("freelancer:f1:available") < 0:
        balance = app.find_freelancer_balance("f1")
        assert balance is not None
        assert balance.active_holds()
    not_won = [cb for cb in c.chargebacks.values() if cb.status is not ChargebackStatus.WON]
    assert bal("expense:chargeback_losses") == sum(
        (cb.platform_loss.amount for cb in not_won), Decimal("0.00"))


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=5, max_size=25))
def sqlite_examples(steps: list[tuple]) -> None:
    run("sqlite", steps)


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=5, max_size=25))
def postgres_examples(steps: list[tuple]) -> None:
    run("postgres", steps)


def assert_accepted(counts: Counter[str]) -> None:
    for name in ("milestone", "bonus", "chargeback", "decide", "approve"):
        assert counts[name] >= 1, (name, counts)


def test_random_chargebacks_keep_the_books_on_sqlite() -> None:
    ACCEPTED["sqlite"] = Counter()
    sqlite_examples()
    assert_accepted(ACCEPTED["sqlite"])


def test_random_chargebacks_keep_the_books_on_postgres(postgres_available: None) -> None:
    ACCEPTED["postgres"] = Counter()
    postgres_examples()
    assert_accepted(ACCEPTED["postgres"])
