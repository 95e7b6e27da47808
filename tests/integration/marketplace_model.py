"""The reference model the marketplace state machine holds the ledger to, and its checks.

``Market`` knows only what the machine's commands said and the rules of
``../shared/domain.md``: each freelancer's pending lots (amounts from the ledger's
releases, whose fees ``Books`` checks; *when* they mature is the model's own),
available and in-flight money, withdrawals, holds, chargebacks and the clients they
suspend, and each freelancer's Connects lots (spent oldest first, a year's life,
returned into their lots). Where the rules make a command's acceptance a function of
that state, the model says beforehand whether the ledger must accept it. Withdrawal
fees, minimums and steps come from the payout invariant test, hourly billing from the
hourly one's ``Shadow``, dispute arithmetic from the dispute one's ``check_dispute``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from domain.balances.client_standing import ClientStanding
from domain.balances.freelancer_balance import FreelancerBalance
from domain.connects.wallet import ConnectsWallet
from domain.contracts import billing_week as weeks
from domain.contracts.fixed_price import FixedPriceContract
from domain.contracts.hourly import HourlyContract
from domain.fees.quotes import FeeQuote
from entrypoints.scheduler import tick
from ledger.application import EscrowLedger
from ledger.idempotency import CommandRecord
from projections.runner import ProjectionRunner
from reconciliation.replay import compare_with_projection
from tests.integration.test_dispute_invariants import check_dispute
from tests.integration.test_hourly_invariants import Shadow
from tests.integration.test_payout_invariants import FEES, MINIMUM, allowed

D0, CONNECT_PRICE, MAX_PER_PROPOSAL = Decimal("0.00"), Decimal("0.15"), 16
SECURITY_PERIOD = timedelta(days=5)
RETURNING = ("job_cancelled_before_contract", "job_removed_for_violation")
"""The only reasons Connects come back; the first only for a job nobody was hired on."""
CLIENTS, FREELANCERS = ("c0", "c1"), ("f0", "f1")
NONNEGATIVE = ("escrow:", "escrow_dispute:", "hourly_review:", "deferred:", "connects:wallet:",
               "arbitration:payable")
OWED = (":pending", ":in_flight", ":credit")
"""Freelancers' pending and in-flight money and clients' credit: never negative either."""
__all__ = ["FEES", "Books", "Market", "Payment", "Shadow", "Tally", "allowed", "fee_of"]


def fee_of(basis: Decimal, rate: Decimal) -> Decimal:
    """domain.md's rounding, computed here rather than by the domain's own helper."""
    return (basis * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def a_year_after(at: datetime) -> datetime:
    return at.replace(year=at.year + 1, day=min(at.day, 28 if at.month == 2 else 31))


@dataclass
class Lot:
    issued_at: datetime
    expires_at: datetime
    paid: bool
    issued: int
    remaining: int
    expired: int = 0


@dataclass
class Spend:
    taken: dict[int, int]  # lot index -> Connects taken from it
    job_id: str | None
    status: str = "spent"


@dataclass
class Wallet:
    """One freelancer's Connects lots in issue order (the clock only moves forward)."""

    lots: list[Lot] = field(default_factory=list)
    spends: dict[str, Spend] = field(default_factory=dict)

    def issue(self, at: datetime, n: int, *, paid: bool) -> None:
        self.lots.append(Lot(at, a_year_after(at), paid, n, n))

    def expire(self, now: datetime) -> None:
        for lot in (x for x in self.lots if x.expires_at <= now):
            lot.expired, lot.remaining = lot.expired + lot.remaining, 0

    def balance(self) -> int:
        return sum(lot.remaining for lot in self.lots)

    def deferred(self) -> Decimal:
        return sum((CONNECT_PRICE * lot.remaining for lot in self.lots if lot.paid), D0)

    def may_spend(self, n: int, reason: str, now: datetime) -> bool:
        top = MAX_PER_PROPOSAL if reason == "proposal" else 1_000_000
        return 1 <= n <= top and n <= sum(x.remaining for x in self.lots if x.expires_at > now)

    def spend(self, spend_id: str, n: int, job_id: str | None, now: datetime) -> None:
        """Oldest unexpired lots first."""
        taken: dict[int, int] = {}
        for i, lot in enumerate(self.lots):
            if n and lot.remaining and lot.expires_at > now:
                taken[i] = min(n, lot.remaining)
                lot.remaining, n = lot.remaining - taken[i], n - taken[i]
        assert n == 0, "the model spent Connects it did not hold"
        self.spends[spend_id] = Spend(taken, job_id)

    def may_return(self, spend_id: str, reason: str, hired: set[str]) -> bool:
        s = self.spends.get(spend_id)
        return (s is not None and s.status == "spent" and s.job_id is not None
                and reason in RETURNING and not (reason == RETURNING[0] and s.job_id in hired))

    def give_back(self, spend_id: str, now: datetime) -> None:
        """Into the lots they came from; what comes back into an expired lot expires."""
        s = self.spends[spend_id]
        s.status = "returned"
        for i, n in s.taken.items():
            lot = self.lots[i]
            if lot.expires_at <= now:
                lot.expired += n
            else:
                lot.remaining += n


@dataclass
class Withdrawal:
    amount: Decimal
    fee: Decimal
    state: str = "requested"


@dataclass
class Purse:
    """One freelancer's money: pending lots (id -> net, end of the security period)."""

    pending: dict[str, tuple[Decimal, datetime]] = field(default_factory=dict)
    available: Decimal = D0
    withdrawals: dict[str, Withdrawal] = field(default_factory=dict)
    holds: list[str] = field(default_factory=list)
    chargebacks: dict[str, tuple[Decimal, str]] = field(default_factory=dict)
    """Chargebacks that debited this freelancer: id -> (debit, open | won | lost)."""

    def mature(self, now: datetime) -> None:
        for lot_id, (amount, at) in list(self.pending.items()):
            if at <= now:
                self.available += amount
                del self.pending[lot_id]

    def pending_total(self) -> Decimal:
        return sum((amount for amount, _ in self.pending.values()), D0)

    def in_flight(self) -> Decimal:
        return sum((w.amount for w in self.withdrawals.values()
                    if w.state in ("requested", "sent")), D0)

    def held(self) -> bool:
        """Finance's hold, an open chargeback's, or a lost one's while available is short."""
        states = [s for _, s in self.chargebacks.values()]
        return bool(self.holds) or "open" in states or ("lost" in states and self.available < 0)

    def may_withdraw(self, amount: Decimal, method: str) -> bool:
        return (not self.held() and amount >= MINIMUM.get(method, D0)
                and amount + FEES[method] <= self.available)

    def withdraw(self, withdrawal_id: str, amount: Decimal, method: str) -> None:
        self.withdrawals[withdrawal_id] = Withdrawal(amount, FEES[method])
        self.available -= amount + FEES[method]

    def move(self, withdrawal_id: str, verb: str) -> None:
        """``verb`` is one of ``allowed``'s: sent, settled, failed, cancel."""
        w = self.withdrawals[withdrawal_id]
        w.state = {"cancel": "cancelled"}.get(verb, verb)
        if verb in ("failed", "cancel"):
            self.available += w.amount  # the fee is kept


@dataclass
class Payment:
    client: str
    freelancer: str
    share: Decimal  # what the freelancer bears if it is charged back: a bonus's net


@dataclass
class Market:
    purses: dict[str, Purse] = field(default_factory=dict)
    wallets: dict[str, Wallet] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    chargebacks: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Chargeback id -> (payment id, open | won | lost)."""
    hired: set[str] = field(default_factory=set)
    rates: dict[str, Decimal] = field(default_factory=dict)
    parties: dict[str, tuple[str, str]] = field(default_factory=dict)

    def opened(self, cid: str, client: str, freelancer: str, rate: str | None) -> str:
        self.parties[cid] = (client, freelancer)
        self.rates[cid] = Decimal(rate or "0.10")  # the per-contract era's default
        return cid

    def purse(self, freelancer: str) -> Purse:
        return self.purses.setdefault(freelancer, Purse())

    def wallet(self, freelancer: str) -> Wallet:
        return self.wallets.setdefault(freelancer, Wallet())

    def advance(self, now: datetime) -> None:
        """What the clock alone does, once the scheduler fired what fell due."""
        for purse in self.purses.values():
            purse.mature(now)
        for wallet in self.wallets.values():
            wallet.expire(now)

    def released(self, freelancer: str, lot_id: str, net: Decimal, at: datetime) -> None:
        assert lot_id not in self.purse(freelancer).pending, f"lot {lot_id} released twice"
        self.purse(freelancer).pending[lot_id] = (net, at + SECURITY_PERIOD)

    def suspended(self, client: str) -> bool:
        """By every chargeback of its payments not won."""
        return any(self.payments[pid].client == client and status != "won"
                   for pid, status in self.chargebacks.values())

    def may_charge_back(self, payment_id: str) -> bool:
        return payment_id in self.payments and all(
            pid != payment_id for pid, _ in self.chargebacks.values())

    def charge_back(self, chargeback_id: str, payment_id: str) -> None:
        self.chargebacks[chargeback_id] = (payment_id, "open")
        if (p := self.payments[payment_id]).share > 0:
            self.purse(p.freelancer).available -= p.share
            self.purse(p.freelancer).chargebacks[chargeback_id] = (p.share, "open")

    def may_decide(self, chargeback_id: str) -> bool:
        return self.chargebacks.get(chargeback_id, ("", ""))[1] == "open"

    def decide(self, chargeback_id: str, won: bool) -> None:
        payment_id, _ = self.chargebacks[chargeback_id]
        self.chargebacks[chargeback_id] = (payment_id, "won" if won else "lost")
        if (p := self.payments[payment_id]).share > 0:
            self.purse(p.freelancer).chargebacks[chargeback_id] = (p.share, "won" if won
                                                                   else "lost")
            self.purse(p.freelancer).available += p.share if won else 0

    def withdrawal_fees(self) -> Decimal:
        return sum((w.fee for p in self.purses.values() for w in p.withdrawals.values()), D0)

    def settled(self) -> Decimal:
        return sum((w.amount for p in self.purses.values() for w in p.withdrawals.values()
                    if w.state == "settled"), D0)


class Tally:
    """A whole run: commands per rule and outcome, refusals by error, firings, events."""

    def __init__(self) -> None:
        self.examples, self.events = 0, Counter[str]()
        # (rule, outcome), the opening's apart (the floors count the rules'), (rule, error),
        # (deadline kind, fired | retired)
        self.commands, self.setup, self.refusals, self.firings = (
            Counter[tuple[str, str]]() for _ in range(4))

    def summary(self) -> str:
        c, rules = self.commands, sorted({r for r, _ in self.commands})
        shown = ", ".join(f"{r} {c[(r, 'accepted')]}/{c[(r, 'accepted')] + c[(r, 'refused')]}"
                          for r in rules)
        fired = {k: n for (k, o), n in sorted(self.firings.items()) if o == "fired"}
        events, refused = dict(sorted(self.events.items())), dict(sorted(self.refusals.items()))
        return (f"{self.examples} examples; accepted/all: {shown}; fired: {fired}; "
                f"events: {events}; refused: {refused}")

    def assert_floors(self, accepted: dict[str, int], fired: dict[str, int],
                      events: dict[str, int], scale: float) -> None:
        """Each floor times ``scale`` (the share of the default run's examples), rounded
        down; a key counts its rule and the rules it prefixes (``approve``: ``approve_*``)."""
        def ok(key: str) -> int:
            return sum(n for (r, o), n in self.commands.items()
                       if o == "accepted" and (r == key or r.startswith(f"{key}_")))

        for what, floors, got in (("accepted", accepted, ok),
                                  ("fired", fired, lambda k: self.firings[(k, "fired")]),
                                  ("happened", events, lambda k: self.events[k])):
            for key, floor in floors.items():
                need = int(floor * scale)
                assert got(key) >= need, f"{key} {what} {got(key)} times, under {need}: " \
                                         f"{self.summary()}"


class Books:
    """After every step: a model fed the ledger's releases, and the invariants.

    When the log moved: the journal equals a replay of the log, the trial balance is zero
    per currency (USD, CONNECTS); every service fee is the contract's rate of its basis,
    rounded half-up, fee + net the basis; every invoice bills rate x min(logged, limit) at
    Monday 12:00; escrow charged in == held + under dispute + released + refunded per
    contract, as the journal holds it; each freelancer's balance, Connects lots, holds and
    each client's suspension equal the model's. After every step (time alone matures and
    expires in the model: the ledger must have fired it): no balance breaks its sign rule;
    the projection's pending, available, in flight, Connects wallets, deferred Connects
    revenue, withdrawal fees and payouts clearing equal the model's."""

    def __init__(self, app: EscrowLedger, projector: ProjectionRunner, model: Market,
                 tally: Tally) -> None:
        self.app, self.projector, self.model, self.tally = app, projector, model, tally
        self.shadow, self.fixed, self.payment_ids = dict[str, Shadow](), list[str](), list[str]()
        self.charged, self.escrow_refunded = defaultdict[str, Decimal](Decimal), \
            defaultdict[str, Decimal](Decimal)
        self.read_upto, self.checked_at, self.touched = 0, -1, set[str]()
        self.books: dict[tuple[str, str], Decimal] = {}
        self.review: dict[tuple[str, Any], tuple[datetime, int]] = {}
        self.balances = {str(FreelancerBalance.id_for(f)): f for f in FREELANCERS}

    def in_review(self) -> list[tuple[str, Any, int]]:
        """(contract, week, minutes billed) of every invoice still in its review window."""
        now = self.app.clock.now()
        return [(cid, w, billed) for (cid, w), (ends, billed) in sorted(
            self.review.items(), key=lambda kv: (self.order(kv[0][0]), kv[0][1])) if now < ends]

    def order(self, cid: str) -> int:
        """Opening order: what picks go by, not ids (random) nor the log's order of deadlines
        due at one instant (by id), so each example replays the same."""
        return list(self.model.parties).index(cid)

    def tick(self) -> None:
        """The scheduler: one tick fires everything due, cascades included."""
        tick(self.app, self.projector)
        assert not tick(self.app, self.projector), "a second tick found deadlines due"

    def check(self) -> None:
        moved = (position := self.app.position()) != self.checked_at
        if moved:
            self.checked_at = position
            self.read_log()
            self.projector.catch_up()
            self.books = {(b.account, b.currency): b.balance
                          for b in self.projector.queries.all_balances()}
        self.model.advance(self.app.clock.now())
        self.check_signs(self.books)
        self.check_figures(self.books)
        if moved:
            report = compare_with_projection(self.app, self.projector.queries)
            assert report.ok, report
            assert all(v == 0 for v in report.trial_balance.values()), report.trial_balance
            self.check_aggregates()
            self.check_escrow(self.books)

    def read_log(self) -> None:
        invoiced: list[tuple[datetime, int, str]] = []
        while batch := self.app.recorder.select_notifications(start=self.read_upto + 1,
                                                              limit=500):
            for n in batch:
                self.observe(self.app.mapper.to_domain_event(n), invoiced)
            self.read_upto = batch[-1].id
        self.payment_ids += [payment_id for *_, payment_id in sorted(invoiced)]

    def observe(self, e: Any, invoiced: list[tuple[datetime, int, str]]) -> None:
        cid = str(e.originator_id)
        self.touched.add(cid)
        self.tally.events[type(e).__qualname__] += 1
        quote = getattr(e, "service_fee", None)
        if isinstance(quote, FeeQuote) and cid in self.model.rates:
            assert quote.fee.amount == fee_of(quote.basis.amount, self.model.rates[cid]), e
            assert quote.net + quote.fee == quote.basis, e
        if isinstance(e, FreelancerBalance.EarningsPending):
            assert e.lot.available_at == e.timestamp + SECURITY_PERIOD, e
            self.model.released(self.balances[cid], e.lot.lot_id, e.lot.amount.amount,
                                e.timestamp)
        elif isinstance(e, FreelancerBalance.EarningsRefunded):
            raise AssertionError(f"no command of the machine refunds from a balance: {e}")
        elif isinstance(e, FixedPriceContract.MilestoneFunded):
            self.charged[cid] += e.charged.amount
        elif isinstance(e, FixedPriceContract.EscrowRefunded):
            self.escrow_refunded[cid] += e.total.amount
        elif isinstance(e, HourlyContract.WeekInvoiced | HourlyContract.WeekClosedUnbilled):
            if self.check_invoice(cid, e):
                invoiced.append((e.timestamp, self.order(cid), e.payment_id))
        elif isinstance(e, CommandRecord.Accepted) and e.command.startswith("deadline:"):
            outcome = "retired" if e.response.get("retired") is True else "fired"
            self.tally.firings[(e.command.removeprefix("deadline:"), outcome)] += 1

    def check_invoice(self, cid: str, e: Any) -> bool:
        """Checks an invoice (or a week closed unbilled); answers whether it charged."""
        shadow = self.shadow[cid]
        assert e.timestamp == weeks.invoice_due(e.week_start), e
        logged, limit = shadow.logged(e.week_start), shadow.limit_for(e.week_start)
        assert (e.minutes_logged, e.limit_hours) == (logged, limit), (e, shadow)
        billed = min(logged, limit * 60)
        if isinstance(e, HourlyContract.WeekClosedUnbilled):
            assert billed == 0, e
            return False
        assert e.minutes_billed == billed, (e, shadow)
        assert e.amount.amount == fee_of(shadow.rate_for(e.week_start) * billed / 60, Decimal(1)), e
        self.review[(cid, e.week_start)] = (e.review_ends_at, billed)
        self.model.payments[e.payment_id] = Payment(*self.model.parties[cid], D0)
        return True

    def check_signs(self, books: dict[tuple[str, str], Decimal]) -> None:
        for (account, currency), value in books.items():
            if account.startswith(NONNEGATIVE) or account.endswith(OWED):
                assert value >= 0, (account, currency, value)
            if account.endswith(":available") and value < 0:
                purse = self.model.purse(account.split(":")[1])
                assert purse.chargebacks, (account, value, "negative without a chargeback")
                assert purse.held(), (account, value, "negative without a hold")

    def check_figures(self, books: dict[tuple[str, str], Decimal]) -> None:
        def bal(account: str, currency: str = "USD") -> Decimal:
            return books.get((account, currency), D0)

        for f in FREELANCERS:
            purse, wallet = self.model.purse(f), self.model.wallet(f)
            assert (bal(f"freelancer:{f}:pending"), bal(f"freelancer:{f}:available"),
                    bal(f"freelancer:{f}:in_flight")) == (
                purse.pending_total(), purse.available, purse.in_flight()), (f, purse)
            assert bal(f"connects:wallet:{f}", "CONNECTS") == wallet.balance(), (f, wallet)
        assert bal("deferred:connects") == sum((w.deferred() for w in self.model.wallets
                                                .values()), D0)
        assert bal("revenue:withdrawal_fee") == self.model.withdrawal_fees()
        assert bal("payouts:clearing") == -self.model.settled()

    def check_aggregates(self) -> None:
        for f in FREELANCERS:
            purse, balance = self.model.purse(f), self.app.find_freelancer_balance(f)
            if balance is not None:
                assert (balance.pending_in("USD").amount, balance.available_in("USD").amount,
                        balance.in_flight_in("USD").amount) == (
                    purse.pending_total(), purse.available, purse.in_flight()), f
                assert bool(balance.all_active_holds()) == purse.held(), (f, purse)
            found = self.app.find(ConnectsWallet, ConnectsWallet.id_for(f))
            lots = sorted(found.lots.values(), key=lambda x: (x.issued_at, x.seq)) \
                if found is not None else []
            assert [(x.issued_at, x.expires_at, x.issued, x.remaining, x.expired)
                    for x in lots] == [(x.issued_at, x.expires_at, x.issued, x.remaining,
                                        x.expired) for x in self.model.wallet(f).lots], f
        for c in CLIENTS:
            standing = self.app.find(ClientStanding, ClientStanding.id_for(c))
            assert (standing is not None and standing.suspended) == self.model.suspended(c), c

    def check_escrow(self, books: dict[tuple[str, str], Decimal]) -> None:
        for cid in [c for c in self.fixed if c in self.touched]:
            c = self.app.contract(cid)
            refunded = self.escrow_refunded[cid] + sum(
                (check_dispute(d) for d in c.disputes.values()), D0)
            held, disputed = c.escrow_balance().amount, c.disputed_escrow().amount
            assert held + disputed + c.total_released.amount + refunded == self.charged[cid], (
                cid, held, disputed, c.total_released, refunded, self.charged[cid])
            assert sum((v for (a, _), v in books.items() if a.startswith(f"escrow:{cid}:")),
                       D0) == held, cid
            assert books.get((f"escrow_dispute:{cid}", "USD"), D0) == disputed, cid
        self.touched.clear()
