"""Connects: purchases, grants, memberships, spends, boosts, returns, and their clocks.

Every command works on the freelancer's wallet (opened on first use); paying
from the available balance also decides the freelancer's balance in the same
unit; a return asks the job whether it led to a contract.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from domain.balances.freelancer_balance import FreelancerBalance
from domain.connects import actions
from domain.connects.job import Job
from domain.connects.wallet import ConnectsWallet, Lot
from domain.contracts.terms import PARTY
from domain.deadlines import Deadline, DeadlineKind
from domain.errors import InsufficientFunds, InvalidInput, SpendStateError
from ledger.commands.contracts import fired_by
from ledger.engine import CommandEngine, CommandResult, Decision
from ledger.results import money_json
from ledger.unit_of_work import Handler, UnitOfWork


def check_freelancer(freelancer_id: str) -> None:
    if not isinstance(freelancer_id, str) or not PARTY.fullmatch(freelancer_id):
        raise InvalidInput(f"freelancer id must be 1-128 characters of letters, digits and "
                           f"_ . @ -, got {freelancer_id!r}")


def wallet(uow: UnitOfWork, freelancer_id: str) -> ConnectsWallet:
    check_freelancer(freelancer_id)
    return uow.get(ConnectsWallet, ConnectsWallet.id_for(freelancer_id)) or uow.add(
        ConnectsWallet.open(freelancer_id, uow.at))


def job_hired(uow: UnitOfWork, job_id: str | None) -> bool:
    return job_id is not None and uow.get(Job, Job.id_for(job_id)) is not None


def lot_json(lot: Lot) -> dict[str, Any]:
    return {"lot_id": lot.lot_id, "source": lot.source, "issued_at": lot.issued_at.isoformat(),
            "expires_at": lot.expires_at.isoformat(), "unit_price": money_json(lot.unit_price),
            "issued": lot.issued, "remaining": lot.remaining, "expired": lot.expired}


def _on_clock(engine: CommandEngine, uow: UnitOfWork, d: Deadline) -> dict[str, Any]:
    w = uow.get(ConnectsWallet, UUID(d.subject))
    if w is None:
        return {"wallet": d.subject, "done": False}
    actor = fired_by(d)
    if d.kind is DeadlineKind.CONNECTS_EXPIRY:
        lot = w.lots.get(d.ref)
        if lot is None or lot.remaining == 0 or lot.expires_at != d.due:
            return {"freelancer_id": w.freelancer_id, "lot_id": d.ref, "expired": 0}
        n = actions.expire(w, lot_id=d.ref, at=d.due, actor=actor)
        return {"freelancer_id": w.freelancer_id, "lot_id": d.ref, "expired": n,
                "breakage": money_json(lot.unit_price * n)}
    if d.kind is DeadlineKind.CONNECTS_MONTHLY:
        if w.plan is None or w.next_cycle_at != d.due:
            return {"freelancer_id": w.freelancer_id, "renewed": False}
        charged, _ = actions.start_month(w, plan=w.plan, at=d.due, actor=actor,
                                         fees=engine.fees)
        return {"freelancer_id": w.freelancer_id, "renewed": True, "plan": w.plan.value,
                "charged": money_json(charged)}
    s = w.spends.get(d.ref)
    if s is None or s.status != "spent" or s.auction_closes_at != d.due:
        return {"freelancer_id": w.freelancer_id, "boost_id": d.ref, "closed": False}
    w.trigger_event(w.BoostAuctionClosed, timestamp=d.due, spend_id=d.ref, actor=actor)
    return {"freelancer_id": w.freelancer_id, "boost_id": d.ref, "closed": True}


DEADLINES: dict[DeadlineKind, Handler] = {
    DeadlineKind.CONNECTS_EXPIRY: _on_clock,
    DeadlineKind.CONNECTS_MONTHLY: _on_clock,
    DeadlineKind.BOOST_AUCTION_CLOSE: _on_clock,
}


class ConnectsCommands(CommandEngine):
    def purchase_connects(self, *, freelancer_id: str, connects: int, payment_method: str,
                          actor: str, idempotency_key: str | None = None) -> CommandResult:
        request = {"freelancer_id": freelancer_id, "connects": connects,
                   "payment_method": payment_method}

        def decide(uow: UnitOfWork) -> Decision:
            w = wallet(uow, freelancer_id)
            lot_id, price = actions.purchase(w, connects=connects, method=payment_method,
                                             at=uow.at, actor=actor, fees=self.fees)
            if payment_method == "available_balance":
                balance = uow.get(FreelancerBalance, FreelancerBalance.id_for(freelancer_id))
                if balance is None:
                    raise InsufficientFunds(
                        f"{freelancer_id} has no available balance to pay {price.amount}")
                balance.spend_available(ref=f"connects lot {lot_id}", amount=price, at=uow.at)
            return Decision({"freelancer_id": freelancer_id, "lot": lot_json(w.lots[lot_id]),
                             "price": money_json(price), "payment_method": payment_method,
                             "balance": w.balance()})

        return self.execute("purchase_connects", idempotency_key, request, decide)

    def grant_connects(self, *, freelancer_id: str, connects: int, reason: str, actor: str,
                       idempotency_key: str | None = None) -> CommandResult:
        request = {"freelancer_id": freelancer_id, "connects": connects, "reason": reason}

        def decide(uow: UnitOfWork) -> Decision:
            if not isinstance(reason, str) or not reason.strip():
                raise InvalidInput("a grant names its reason")
            w = wallet(uow, freelancer_id)
            lot_id = actions.grant(w, connects=connects, source=f"grant: {reason}", at=uow.at,
                                   actor=actor, fees=self.fees)
            return Decision({"freelancer_id": freelancer_id, "lot": lot_json(w.lots[lot_id]),
                             "balance": w.balance()})

        return self.execute("grant_connects", idempotency_key, request, decide)

    def start_membership(self, *, freelancer_id: str, plan: str, actor: str,
                         idempotency_key: str | None = None) -> CommandResult:
        """Starts a month of ``plan`` now (and one every month after): Plus is charged."""
        request = {"freelancer_id": freelancer_id, "plan": plan}

        def decide(uow: UnitOfWork) -> Decision:
            chosen = actions.parse_plan(plan)
            w = wallet(uow, freelancer_id)
            if w.plan is chosen:
                raise SpendStateError(f"{freelancer_id} is already on the "
                                              f"{chosen.value} plan")
            charged, lot_id = actions.start_month(w, plan=chosen, at=uow.at, actor=actor,
                                                  fees=self.fees)
            return Decision({"freelancer_id": freelancer_id, "plan": chosen.value,
                             "charged": money_json(charged),
                             "granted": w.lots[lot_id].issued,
                             "next_cycle_at": None if w.next_cycle_at is None
                             else w.next_cycle_at.isoformat(), "balance": w.balance()})

        return self.execute("start_membership", idempotency_key, request, decide)

    def spend_connects(self, *, freelancer_id: str, connects: int, reason: str,
                       job_id: str | None, actor: str,
                       idempotency_key: str | None = None) -> CommandResult:
        request = {"freelancer_id": freelancer_id, "connects": connects, "reason": reason,
                   "job_id": job_id}

        def decide(uow: UnitOfWork) -> Decision:
            w = wallet(uow, freelancer_id)
            spend_id = str(uuid4())
            actions.spend(w, spend_id=spend_id, connects=connects, reason=reason,
                          job_id=job_id, at=uow.at, actor=actor)
            return Decision(self._spent(w, spend_id))

        return self.execute("spend_connects", idempotency_key, request, decide)

    def boost_proposal(self, *, freelancer_id: str, job_id: str, connects: int,
                       job_posted_at: datetime | None, actor: str,
                       idempotency_key: str | None = None) -> CommandResult:
        request = {"freelancer_id": freelancer_id, "job_id": job_id, "connects": connects,
                   "job_posted_at": None if job_posted_at is None else job_posted_at.isoformat()}

        def decide(uow: UnitOfWork) -> Decision:
            w = wallet(uow, freelancer_id)
            if job_hired(uow, job_id):
                raise SpendStateError(f"job {job_id} already hired: its boost auction "
                                              "closed at the first hire")
            spend_id = str(uuid4())
            actions.boost(w, spend_id=spend_id, connects=connects, job_id=job_id,
                          job_posted_at=job_posted_at or uow.at, at=uow.at, actor=actor)
            answer = self._spent(w, spend_id)
            return Decision({**answer, "boost_id": spend_id,
                             "auction_closes_at": answer["auction_closes_at"]})

        return self.execute("boost_proposal", idempotency_key, request, decide)

    def outbid_boost(self, *, freelancer_id: str, boost_id: str, actor: str,
                     idempotency_key: str | None = None) -> CommandResult:
        request = {"freelancer_id": freelancer_id, "boost_id": boost_id}

        def decide(uow: UnitOfWork) -> Decision:
            w = wallet(uow, freelancer_id)
            spend = w.spends.get(boost_id)
            if spend is not None and job_hired(uow, spend.job_id):
                raise SpendStateError(f"job {spend.job_id} already hired: its boost "
                                              "auction closed at the first hire")
            n = actions.outbid(w, spend_id=boost_id, at=uow.at, actor=actor)
            return Decision({**self._spent(w, boost_id), "boost_id": boost_id, "returned": n})

        return self.execute("outbid_boost", idempotency_key, request, decide)

    def return_connects(self, *, freelancer_id: str, spend_id: str, reason: str, actor: str,
                        idempotency_key: str | None = None) -> CommandResult:
        request = {"freelancer_id": freelancer_id, "spend_id": spend_id, "reason": reason}

        def decide(uow: UnitOfWork) -> Decision:
            w = wallet(uow, freelancer_id)
            spend = w.spends.get(spend_id)
            hired = spend is not None and job_hired(uow, spend.job_id)
            n = actions.return_spend(w, spend_id=spend_id, reason=reason, job_hired=hired,
                                     at=uow.at, actor=actor)
            return Decision({**self._spent(w, spend_id), "returned": n})

        return self.execute("return_connects", idempotency_key, request, decide)

    @staticmethod
    def _spent(w: ConnectsWallet, spend_id: str) -> dict[str, Any]:
        s = w.spends[spend_id]
        return {
            "freelancer_id": w.freelancer_id, "spend_id": s.spend_id, "reason": s.reason,
            "job_id": s.job_id, "connects": s.connects, "status": s.status,
            "taken": [{"lot_id": lot_id, "connects": n} for lot_id, n in s.taken],
            "revenue": money_json(w.value_of(dict(s.taken))),
            "auction_closes_at": None if s.auction_closes_at is None
            else s.auction_closes_at.isoformat(),
            "balance": w.balance(),
        }
