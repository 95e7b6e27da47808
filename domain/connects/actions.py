"""What a freelancer (or the marketplace) may do with Connects, checked before any event.

Each function validates, computes the lots taken and the entry, and triggers
one event on the wallet. Money paid from the available balance is also taken
from the ``FreelancerBalance`` by the caller, in the same unit.
"""

from __future__ import annotations

from datetime import datetime

from moneyed import Money

from domain.bookkeeping import accounts
from domain.bookkeeping.accounts import Revenue
from domain.bookkeeping.postings import JournalEntry, Side, leg
from domain.connects.rules import (
    BOOST_AUCTION,
    MAX_PER_PROPOSAL,
    MONTHLY_GRANT,
    Plan,
    ReturnReason,
    SpendReason,
    add_months,
)
from domain.connects.wallet import ConnectsWallet, Spend, lot_expiry, units
from domain.errors import (
    InsufficientConnects,
    InvalidInput,
    SpendNotFound,
    SpendStateError,
)
from domain.fees.schedule import FeeSchedule
from domain.money import money, zero

MAX_CONNECTS = 1_000_000
"""Our ceiling on one purchase or grant: far above any bundle, well inside the journal."""
PAYMENT_METHODS = ("card", "available_balance")


def _count(value: object, what: str, *, at_least: int = 1, at_most: int = MAX_CONNECTS) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not at_least <= value <= at_most:
        raise InvalidInput(f"{what} must be a whole number from {at_least} to {at_most}, "
                           f"got {value!r}")
    return value


def paid_from(w: ConnectsWallet, method: str) -> str:
    if method == "card":
        return accounts.PROCESSOR_CLEARING
    if method == "available_balance":
        return accounts.freelancer_available(w.freelancer_id)
    raise InvalidInput(f"payment_method must be one of {', '.join(PAYMENT_METHODS)}, "
                       f"got {method!r}")


def price_of(connects: int, fees: FeeSchedule) -> Money:
    return money(fees.connects_unit_price, fees.currency) * connects


def next_lot_id(w: ConnectsWallet) -> str:
    """A lot is named by its wallet and the version of the event that issued it."""
    return f"{w.id}:{w.version + 1}"


def purchase(w: ConnectsWallet, *, connects: int, method: str, at: datetime,
             actor: str, fees: FeeSchedule) -> tuple[str, Money]:
    """Buys ``connects`` at the schedule's unit price; answers the lot and the price."""
    n = _count(connects, "connects")
    lot_id = next_lot_id(w)
    source = paid_from(w, method)
    price = price_of(n, fees)
    w.trigger_event(
        w.LotIssued, timestamp=at, lot_id=lot_id, source="purchase", connects=n,
        unit_price=money(fees.connects_unit_price, fees.currency), price=price,
        paid_from=source, expires_at=lot_expiry(at),
        entry=w.issue_entry(f"{w.freelancer_id} bought {n} Connects", n, price, source),
        actor=actor)
    return lot_id, price


def grant(w: ConnectsWallet, *, connects: int, source: str, at: datetime,
          actor: str, fees: FeeSchedule) -> str:
    """Free Connects: a lot with a unit price of zero (no money moves); answers the lot."""
    n = _count(connects, "connects")
    lot_id = next_lot_id(w)
    w.trigger_event(
        w.LotIssued, timestamp=at, lot_id=lot_id, source=source, connects=n,
        unit_price=zero(fees.currency), price=zero(fees.currency), paid_from=None,
        expires_at=lot_expiry(at),
        entry=w.issue_entry(f"{w.freelancer_id} granted {n} Connects ({source})", n,
                            zero(fees.currency), None),
        actor=actor)
    return lot_id


def start_month(w: ConnectsWallet, *, plan: Plan, at: datetime, actor: str,
                fees: FeeSchedule) -> tuple[Money, str]:
    """A month of ``plan`` begins at ``at``: Plus is charged by card; the grant follows.

    Choosing another plan starts its months at ``at``; a renewal (the same plan, due)
    is the next month counted from when the plan started.
    """
    renewal = w.plan is plan and w.plan_started_at is not None
    started_at = w.plan_started_at if renewal and w.plan_started_at else at
    cycle = w.cycle + 1 if renewal else 0
    charge = money(fees.freelancer_plus_price, fees.currency) if plan is Plan.PLUS \
        else zero(fees.currency)
    entry = JournalEntry.of(f"Freelancer Plus month for {w.freelancer_id}", [
        leg(Side.DEBIT, accounts.PROCESSOR_CLEARING, charge),
        leg(Side.CREDIT, accounts.revenue(Revenue.MEMBERSHIP), charge),
    ]) if charge.amount > 0 else None
    w.trigger_event(w.MembershipRenewed, timestamp=at, plan=plan.value,
                    plan_started_at=started_at, cycle=cycle, charged=charge,
                    paid_from=accounts.PROCESSOR_CLEARING if entry else None,
                    fee_schedule=fees.version, next_cycle_at=add_months(started_at, cycle + 1),
                    entry=entry, actor=actor)
    lot_id = grant(w, connects=MONTHLY_GRANT[plan], source=f"monthly {plan.value}", at=at,
                   actor=actor, fees=fees)
    return charge, lot_id


def parse_plan(value: str) -> Plan:
    try:
        return Plan(value)
    except ValueError:
        raise InvalidInput(f"plan must be 'basic' or 'plus', got {value!r}") from None


def _oldest_first(w: ConnectsWallet, n: int, at: datetime) -> dict[str, int]:
    taken: dict[str, int] = {}
    left = n
    for lot in w.usable_lots(at):
        if left == 0:
            break
        take = min(lot.remaining, left)
        taken[lot.lot_id] = take
        left -= take
    if left:
        have = n - left
        raise InsufficientConnects(f"{w.freelancer_id} holds {have} unexpired Connects; "
                                   f"{n} are needed")
    return taken


def spend(w: ConnectsWallet, *, spend_id: str, connects: int, reason: str, job_id: str | None,
          at: datetime, actor: str, auction_closes_at: datetime | None = None) -> None:
    try:
        why = SpendReason(reason)
    except ValueError:
        raise InvalidInput(f"reason must be one of {', '.join(r.value for r in SpendReason)}, "
                           f"got {reason!r}") from None
    if (why is SpendReason.BOOST) != (auction_closes_at is not None):
        raise InvalidInput("a boost is a bid in a job's auction: use the boosts route")
    top = MAX_PER_PROPOSAL if why is SpendReason.PROPOSAL else MAX_CONNECTS
    n = _count(connects, "connects", at_most=top)
    if why in (SpendReason.PROPOSAL, SpendReason.BOOST) and not job_id:
        raise InvalidInput(f"a {why.value} spend names its job_id")
    taken = _oldest_first(w, n, at)
    revenue = w.value_of(taken)
    w.trigger_event(
        w.ConnectsSpent, timestamp=at, spend_id=spend_id, reason=why.value, job_id=job_id,
        connects=n, taken=taken, revenue=revenue, auction_closes_at=auction_closes_at,
        entry=JournalEntry.of(f"{w.freelancer_id} spent {n} Connects ({why.value})",
                              w.spend_legs(taken, back=False)),
        actor=actor)


def boost(w: ConnectsWallet, *, spend_id: str, connects: int, job_id: str,
          job_posted_at: datetime, at: datetime, actor: str) -> None:
    """A bid for a top place on the job, charged now; the auction closes 7 days after the
    job was posted."""
    closes = job_posted_at + BOOST_AUCTION
    if job_posted_at > at:
        raise InvalidInput(f"job_posted_at {job_posted_at.isoformat()} is still to come")
    if closes <= at:
        raise SpendStateError(f"the boost auction of job {job_id} is closed (posted "
                              f"{job_posted_at.isoformat()}, closes after 7 days)")
    spend(w, spend_id=spend_id, connects=connects, reason=SpendReason.BOOST.value,
          job_id=job_id, at=at, actor=actor, auction_closes_at=closes)


def _spend(w: ConnectsWallet, spend_id: str) -> Spend:
    try:
        return w.spends[spend_id]
    except KeyError:
        raise SpendNotFound(f"no spend {spend_id} in the Connects of {w.freelancer_id}") \
            from None


def give_back(w: ConnectsWallet, *, spend_id: str, reason: str, status: str, at: datetime,
              actor: str) -> int:
    """Returns a spend into its original lots; answers how many Connects came back."""
    s = w.spends[spend_id]
    taken = dict(s.taken)
    again = {lot_id: n for lot_id, n in taken.items() if w.lots[lot_id].expires_at <= at}
    lost = w.value_of(again)
    entry = JournalEntry.of(f"{s.connects} Connects of spend {spend_id} returned ({reason})", [
        *w.spend_legs(taken, back=True),
        leg(Side.DEBIT, accounts.connects_wallet(w.freelancer_id), units(sum(again.values()))),
        leg(Side.CREDIT, accounts.CONNECTS_EXPIRED, units(sum(again.values()))),
        leg(Side.DEBIT, accounts.DEFERRED_CONNECTS, lost),
        leg(Side.CREDIT, accounts.revenue(Revenue.CONNECTS_BREAKAGE), lost),
    ])
    w.trigger_event(w.ConnectsReturned, timestamp=at, spend_id=spend_id, reason=reason,
                    status=status, taken=taken, revenue_reversed=w.value_of(taken),
                    expired_again=again, entry=entry, actor=actor)
    return s.connects


def outbid(w: ConnectsWallet, *, spend_id: str, at: datetime, actor: str) -> int:
    s = _spend(w, spend_id)
    if s.reason != SpendReason.BOOST.value:
        raise SpendStateError(f"spend {spend_id} is a {s.reason}, not a boost")
    if s.status != "spent":
        raise SpendStateError(f"boost {spend_id} is {s.status}: only a standing boost in an "
                              "open auction can be outbid")
    return give_back(w, spend_id=spend_id, reason="outbid", status="outbid", at=at,
                     actor=actor)


def return_spend(w: ConnectsWallet, *, spend_id: str, reason: str, job_hired: bool,
                 at: datetime, actor: str) -> int:
    """Only a job cancelled before any contract, or removed for breaking the rules."""
    s = _spend(w, spend_id)
    try:
        why = ReturnReason(reason)
    except ValueError:
        raise InvalidInput(
            f"Connects are returned only when the job was cancelled before any contract "
            f"({ReturnReason.JOB_CANCELLED.value}) or removed for breaking the rules "
            f"({ReturnReason.JOB_REMOVED.value}); got {reason!r}") from None
    if s.status not in ("spent", "final"):
        raise SpendStateError(f"spend {spend_id} was already {s.status}")
    if s.job_id is None:
        raise SpendStateError(f"spend {spend_id} ({s.reason}) was for no job")
    if why is ReturnReason.JOB_CANCELLED and job_hired:
        raise SpendStateError(f"job {s.job_id} led to a contract: cancelling it returns "
                              "no Connects")
    return give_back(w, spend_id=spend_id, reason=why.value, status="returned", at=at,
                     actor=actor)


def expire(w: ConnectsWallet, *, lot_id: str, at: datetime, actor: str) -> int:
    lot = w.lots[lot_id]
    n = lot.remaining
    breakage = lot.unit_price * n
    entry = JournalEntry.of(f"{n} Connects of lot {lot_id} expired", [
        leg(Side.DEBIT, accounts.connects_wallet(w.freelancer_id), units(n)),
        leg(Side.CREDIT, accounts.CONNECTS_EXPIRED, units(n)),
        leg(Side.DEBIT, accounts.DEFERRED_CONNECTS, breakage),
        leg(Side.CREDIT, accounts.revenue(Revenue.CONNECTS_BREAKAGE), breakage),
    ])
    w.trigger_event(w.LotExpired, timestamp=at, lot_id=lot_id, connects=n, breakage=breakage,
                    entry=entry, actor=actor)
    return n
