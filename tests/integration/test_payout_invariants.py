"""Random withdrawals, holds and bonuses against a reference model of the payouts rules.

Hypothesis starts from $900.00 available, pays more bonuses (10% service fee: $100.00
nets $90.00, available five days later), requests withdrawals of random amounts by every
method, moves them through sent, settled, failed and cancelled, places and releases
holds, and moves the clock. The model predicts, before each command, whether the ledger
must accept it: a withdrawal is accepted exactly when no hold stands, the amount is at
least the method's minimum, and amount + fee is at most what the model says is
available. After every example: available equals the model's and is never negative; in
flight equals the withdrawals requested or sent; withdrawal-fee revenue is every fee
ever charged (none returned); payouts clearing is minus everything settled; the payouts
view's totals per state equal the model's, and a rebuild of it gives the same rows; the
journal balances and equals a replay. Floors make sure each step was accepted, not only
refused.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import LedgerError
from domain.money import money
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from ledger.settings import store_from_url
from ledger.stores import backend_of
from projections.runner import ProjectionRunner
from reconciliation.replay import compare_with_projection
from tests.conftest import fresh_store

ACCEPTED: dict[str, Counter[str]] = {"sqlite": Counter(), "postgres": Counter()}
FEES = {"us_bank": Decimal("0.00"), "local_bank": Decimal("0.99"),
        "usd_wire": Decimal("50.00"), "instant_debit_card": Decimal("2.00")}
MINIMUM = {"local_bank": Decimal("5.00")}
NET = {"100.00": Decimal("90.00"), "640.00": Decimal("576.00"), "1000.00": Decimal("900.00")}
D0 = Decimal("0.00")

step = st.one_of(
    st.tuples(st.just("bonus"), st.sampled_from(sorted(NET))),
    st.tuples(st.just("withdraw"), st.sampled_from(["4.00", "5.00", "50.00", "88.00",
                                                    "200.00", "850.00"]),
              st.sampled_from(sorted(FEES))),
    st.tuples(st.just("sent"), st.integers(0, 2)),
    st.tuples(st.just("settled"), st.integers(0, 2)),
    st.tuples(st.just("failed"), st.integers(0, 2)),
    st.tuples(st.just("cancel"), st.integers(0, 2)),
    st.tuples(st.just("hold"), st.integers(0, 3)),
    st.tuples(st.just("wait"), st.integers(1, 6)),
)


@dataclass
class Model:
    earned: list[tuple[datetime, Decimal]] = field(default_factory=list)
    withdrawals: dict[str, tuple[Decimal, Decimal, str]] = field(default_factory=dict)
    """id -> (amount, fee, state), in request order."""
    holds: list[str] = field(default_factory=list)

    def available(self, now: datetime) -> Decimal:
        matured = sum((n for at, n in self.earned if at + timedelta(days=5) <= now), D0)
        spent = sum((a + f for a, f, _ in self.withdrawals.values()), D0)
        back = sum((a for a, _, s in self.withdrawals.values() if s in ("failed", "cancelled")),
                   D0)
        return matured - spent + back

    def total(self, *states: str) -> Decimal:
        return sum((a for a, _, s in self.withdrawals.values() if s in states), D0)


def allowed(state: str, verb: str) -> bool:
    return {"sent": state == "requested", "settled": state == "sent",
            "failed": state in ("requested", "sent"), "cancel": state == "requested"}[verb]


def run(backend: str, steps: list[tuple]) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    model = Model()
    with fresh_store(backend) as url:
        app = EscrowLedger(store_from_url(url).env, clock=clock)
        projector = ProjectionRunner(app)
        try:
            cid = app.open_contract(client_id="c1", freelancer_id="f1", currency="USD",
                                    actor="t").response["contract_id"]
            # $900.00 available from the start, so early withdrawals can be accepted
            apply_step(app, clock, model, cid, ("bonus", "1000.00"))
            apply_step(app, clock, model, cid, ("wait", 5))
            for s in steps:
                apply_step(app, clock, model, cid, s)
            check(app, projector, clock, model)
        finally:
            app.close()


def apply_step(app: EscrowLedger, clock: FakeClock, model: Model, cid: str,
               s: tuple) -> None:
    name, ids = s[0], list(model.withdrawals)
    if name == "bonus":
        app.pay_bonus(contract_id=cid, amount=money(s[1], "USD"), actor="c1")
        model.earned.append((clock.now(), NET[s[1]]))
    elif name == "withdraw":
        amount, method = Decimal(s[1]), s[2]
        ok = (not model.holds and amount >= MINIMUM.get(method, D0)
              and amount + FEES[method] <= model.available(clock.now()))
        try:
            w = app.request_withdrawal(freelancer_id="f1", amount=money(s[1], "USD"),
                                       method=method, actor="f1").response
        except LedgerError:
            assert not ok, ("refused", s, model.available(clock.now()))
            return
        assert ok, ("accepted", s, model.available(clock.now()))
        model.withdrawals[w["withdrawal_id"]] = (amount, FEES[method], "requested")
    elif name in ("sent", "settled", "failed", "cancel") and ids:
        wid = ids[-1 - s[1] % len(ids)]  # the newest ones, most likely still moving
        amount, fee, state = model.withdrawals[wid]
        try:
            if name == "sent":
                app.mark_withdrawal_sent(withdrawal_id=wid, processor_reference=None,
                                         actor="psp")
            elif name == "settled":
                app.settle_withdrawal(withdrawal_id=wid, actor="psp")
            else:
                app.return_withdrawal(withdrawal_id=wid, failed=name == "failed", reason="",
                                      actor="psp")
        except LedgerError:
            assert not allowed(state, name), (name, state)
            return
        assert allowed(state, name), (name, state)
        model.withdrawals[wid] = (amount, fee, {"cancel": "cancelled"}.get(name, name))
    elif name == "hold":
        if model.holds and s[1]:
            app.release_hold(hold_id=model.holds.pop(0), note="", actor="fin")
        elif not s[1]:
            model.holds.append(app.place_hold(freelancer_id="f1", reason="manual", note="",
                                              actor="fin").response["hold_id"])
        else:
            return
    elif name == "wait":
        clock.advance(timedelta(days=s[1]))
    else:
        return
    ACCEPTED[backend_of(app.recorder)][name] += 1


def check(app: EscrowLedger, projector: ProjectionRunner, clock: FakeClock,
          model: Model) -> None:
    app.release_matured_earnings(freelancer_id="f1", actor="t")
    projector.catch_up()
    assert projector.queries.trial_balance() in ({"USD": D0}, {})
    assert compare_with_projection(app, projector.queries).ok
    balances = {b.account: b.balance for b in projector.queries.all_balances()}
    assert balances.get("freelancer:f1:available", D0) == model.available(clock.now()) >= 0
    assert balances.get("freelancer:f1:in_flight", D0) == model.total("requested", "sent")
    assert balances.get("revenue:withdrawal_fee", D0) == sum(
        (f for _, f, _ in model.withdrawals.values()), D0)
    assert balances.get("payouts:clearing", D0) == -model.total("settled")
    totals = {t["state"]: (t["count"], Decimal(t["amount"]["amount"]))
              for t in projector.payouts.queries.totals("f1")}
    states = Counter(s for _, _, s in model.withdrawals.values())
    assert totals == {state: (n, model.total(state)) for state, n in states.items()}
    rows = projector.payouts.queries.all_rows()
    projector.rebuild("payouts")
    assert projector.payouts.queries.all_rows() == rows


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=15, max_size=40))
def sqlite_examples(steps: list[tuple]) -> None:
    run("sqlite", steps)


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=15, max_size=40))
def postgres_examples(steps: list[tuple]) -> None:
    run("postgres", steps)


def assert_accepted(counts: Counter[str]) -> None:
    for name in ("bonus", "withdraw", "sent", "settled", "failed", "cancel", "hold"):
        assert counts[name] >= 1, (name, counts)


def test_random_withdrawals_and_holds_follow_the_model_on_sqlite() -> None:
    ACCEPTED["sqlite"] = Counter()
    sqlite_examples()
    assert_accepted(ACCEPTED["sqlite"])


def test_random_withdrawals_and_holds_follow_the_model_on_postgres(
        postgres_available: None) -> None:
    ACCEPTED["postgres"] = Counter()
    postgres_examples()
    assert_accepted(ACCEPTED["postgres"])
