"""Fixed-price contracts: open, milestones, escrow, review, ending, and their deadlines.

Each command states its request (what its idempotency key fingerprints),
decides inside a unit of work, and answers a typed result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Self
from uuid import UUID, uuid4

from moneyed import Money

from domain.contracts.escrow import RefundTo
from domain.contracts.feedback import Feedback
from domain.contracts.fixed_price import FixedPriceContract
from domain.contracts.fixed_price_events import MilestoneFunded, MilestoneReleased
from domain.contracts.settlement import (
    Parties,
    PaymentOnEnd,
    approve_milestone,
    end_contract,
    payment_on_end,
    release_to_freelancer,
)
from domain.contracts.terms import Party
from domain.deadlines import Deadline, DeadlineKind
from domain.fees.methods import PaymentMethod
from ledger.commands.contracts import earner, fired_by, load_kind, require_good_standing
from ledger.engine import CommandEngine, CommandResult, Decision
from ledger.results import Charge, money_json, to_json
from ledger.unit_of_work import Handler, UnitOfWork

SILENCE_APPROVED_REVIEW = "approved by silence: no answer within 14 days of submission"
SILENCE_APPROVED_REFUND = (
    "refund request approved by silence: the freelancer did not answer within 7 days"
)


@dataclass(frozen=True)
class Released:
    """A release, as every command that releases escrow answers it."""

    contract_id: str
    milestone_id: str
    gross: Money
    service_fee: Money
    service_fee_schedule: str
    net: Money
    escrow_remaining: Money
    available_at: datetime

    @classmethod
    def of(cls, event: MilestoneReleased) -> Self:
        return cls(str(event.originator_id), event.milestone_id, event.gross,
                   event.service_fee.fee, event.service_fee.schedule_id, event.net,
                   event.escrow_remaining, event.available_at)


@dataclass(frozen=True)
class Funded:
    contract_id: str
    milestone_id: str
    escrow_added: Money
    carried_in: Money
    charged: Money
    marketplace_fee: Money
    initiation_fee: Money
    total_charged: Money
    payment_method: str
    payment_id: str | None
    charge: Charge | None
    """What was charged; None when carried escrow covered it all."""


@dataclass(frozen=True)
class Approved(Released):
    """An approval: the release, and what it charged first (None within escrow)."""

    charge: Charge | None = None


@dataclass(frozen=True)
class Ended:
    contract_id: str
    status: str
    paid_to_freelancer: Money
    refund_request_id: str | None
    refund_requested: Money


@dataclass(frozen=True)
class Refunded:
    contract_id: str
    request_id: str
    status: str
    refunded: Money
    marketplace_fee_refunded: Money
    refund_to: str
    """The client's choice on ending: ``payment_method`` or ``client_credit``."""
    refunded_to: str | None
    """The account the refund went to (None when nothing was left to refund)."""


def charge_of(event: MilestoneFunded) -> Charge | None:
    """What a funding charged the client, or None when carried escrow covered it."""
    if event.payment_id is None or event.marketplace_fee is None:
        return None
    return Charge.of(event.payment_id, event.charged, event.marketplace_fee,
                     event.initiation_fee, event.payment_method)


def load_contract(uow: UnitOfWork, contract_id: UUID | str,
                  expected_version: int | None = None) -> FixedPriceContract:
    return load_kind(uow, FixedPriceContract, contract_id, expected_version)


def load_parties(uow: UnitOfWork, contract_id: UUID | str,
                 expected_version: int | None = None) -> Parties:
    c = load_contract(uow, contract_id, expected_version)
    e = earner(uow, c)
    return Parties(relationship=e.relationship, balance=e.balance, contract=c)


def _auto_release(engine: CommandEngine, uow: UnitOfWork, d: Deadline) -> dict[str, Any]:
    """The client did not answer a submission for 14 days: silence approves it."""
    p = load_parties(uow, d.subject)
    if not p.contract.review_lapsed(d.ref, d.due):
        return {"contract_id": d.subject, "milestone_id": d.ref, "released": False}
    event = release_to_freelancer(
        p, milestone_id=d.ref, gross=p.contract.milestone(d.ref).escrow,
        reason=SILENCE_APPROVED_REVIEW, at=d.due, actor=fired_by(d),
        fees=engine.fees,
    )
    return {**to_json(Released.of(event)), "released": True, "reason": event.reason}


def _refund_request_timeout(engine: CommandEngine, uow: UnitOfWork,
                            d: Deadline) -> dict[str, Any]:
    """The freelancer did not answer an escrow refund request in 7 days: it is approved."""
    c = load_contract(uow, d.subject)
    if not c.refund_request_lapsed(d.ref, d.due):
        return {"contract_id": d.subject, "request_id": d.ref, "refunded": False}
    c.approve_refund_request(request_id=d.ref, at=d.due, actor=fired_by(d),
                             reason=SILENCE_APPROVED_REFUND)
    return {"contract_id": d.subject, "request_id": d.ref, "refunded": True,
            "status": c.status.value, "reason": SILENCE_APPROVED_REFUND}


DEADLINES: dict[DeadlineKind, Handler] = {
    DeadlineKind.AUTO_RELEASE: _auto_release,
    DeadlineKind.REFUND_REQUEST_TIMEOUT: _refund_request_timeout,
}


class FixedPriceCommands(CommandEngine):
    def add_milestone(
        self, *, contract_id: str, title: str, amount: Money, actor: str,
        expected_version: int | None = None, idempotency_key: str | None = None,
    ) -> CommandResult:
        request = {"contract_id": contract_id, "title": title, "amount": money_json(amount),
                   "expected_version": expected_version}

        def decide(uow: UnitOfWork) -> Decision:
            c = load_contract(uow, contract_id, expected_version)
            milestone_id = uuid4()
            c.add_milestone(milestone_id=milestone_id, title=title, amount=amount, at=uow.at,
                            actor=actor)
            return Decision({"contract_id": str(c.id), "milestone_id": str(milestone_id)},
                            contract=c)

        return self.execute("add_milestone", idempotency_key, request, decide)

    def fund_milestone(
        self, *, contract_id: str, milestone_id: str, actor: str,
        payment_method: PaymentMethod = PaymentMethod.CARD,
        expected_version: int | None = None, idempotency_key: str | None = None,
    ) -> CommandResult:
        request = {"contract_id": contract_id, "milestone_id": milestone_id,
                   "payment_method": payment_method.value, "expected_version": expected_version}

        def decide(uow: UnitOfWork) -> Decision:
            c = load_contract(uow, contract_id, expected_version)
            require_good_standing(uow, c.client_id)
            c.fund_milestone(milestone_id=milestone_id, method=payment_method, at=uow.at,
                             actor=actor, fees=self.fees)
            funded = c.pending_events[-1]
            assert isinstance(funded, FixedPriceContract.MilestoneFunded)
            none = funded.charged * 0
            marketplace = funded.marketplace_fee.fee if funded.marketplace_fee else none
            initiation = funded.initiation_fee.fee if funded.initiation_fee else none
            return Decision(to_json(Funded(
                str(c.id), milestone_id, funded.escrow_added,
                funded.escrow_added - funded.charged, funded.charged, marketplace, initiation,
                funded.charged + marketplace + initiation, payment_method.value,
                funded.payment_id, charge_of(funded),
            )), contract=c)

        return self.execute("fund_milestone", idempotency_key, request, decide)

    def submit_work(
        self, *, contract_id: str, milestone_id: str, actor: str,
        expected_version: int | None = None, idempotency_key: str | None = None,
    ) -> CommandResult:
        request = {"contract_id": contract_id, "milestone_id": milestone_id,
                   "expected_version": expected_version}

        def decide(uow: UnitOfWork) -> Decision:
            c = load_contract(uow, contract_id, expected_version)
            c.submit_work(milestone_id=milestone_id, at=uow.at, actor=actor)
            m = c.milestone(milestone_id)
            return Decision({
                "contract_id": str(c.id), "milestone_id": milestone_id,
                "status": m.status.value,
                "review_due_at": m.review_due_at.isoformat() if m.review_due_at else None,
            }, contract=c)

        return self.execute("submit_work", idempotency_key, request, decide)

    def request_changes(
        self, *, contract_id: str, milestone_id: str, note: str, actor: str,
        expected_version: int | None = None, idempotency_key: str | None = None,
    ) -> CommandResult:
        request = {"contract_id": contract_id, "milestone_id": milestone_id, "note": note,
                   "expected_version": expected_version}

        def decide(uow: UnitOfWork) -> Decision:
            c = load_contract(uow, contract_id, expected_version)
            c.request_changes(milestone_id=milestone_id, note=note, at=uow.at, actor=actor)
            return Decision({"contract_id": str(c.id), "milestone_id": milestone_id,
                             "status": c.milestone(milestone_id).status.value}, contract=c)

        return self.execute("request_changes", idempotency_key, request, decide)

    def approve_milestone(
        self, *, contract_id: str, milestone_id: str, actor: str, amount: Money | None = None,
        payment_method: PaymentMethod = PaymentMethod.CARD,
        expected_version: int | None = None, idempotency_key: str | None = None,
    ) -> CommandResult:
        request = {"contract_id": contract_id, "milestone_id": milestone_id,
                   "amount": None if amount is None else money_json(amount),
                   "payment_method": payment_method.value, "expected_version": expected_version}

        def decide(uow: UnitOfWork) -> Decision:
            p = load_parties(uow, contract_id, expected_version)
            require_good_standing(uow, p.contract.client_id)
            released = approve_milestone(
                p, milestone_id=milestone_id, amount=amount, method=payment_method,
                at=uow.at, actor=actor, fees=self.fees,
            )
            top_ups = [e for e in p.contract.pending_events
                       if isinstance(e, FixedPriceContract.MilestoneFunded) and e.top_up]
            answer = replace(Approved.of(released),
                             charge=charge_of(top_ups[-1]) if top_ups else None)
            return Decision(to_json(answer), contract=p.contract)

        return self.execute("approve_milestone", idempotency_key, request, decide)

    def decide_fixed_price_end(
        self, uow: UnitOfWork, c: FixedPriceContract, by: Party, pay: PaymentOnEnd,
        actor: str, feedback: Feedback | None,
        refund_to: RefundTo = RefundTo.PAYMENT_METHOD,
    ) -> Decision:
        """``pay``: an amount, ``"all"``, ``"none"``, or None for the party's default;
        ``refund_to``: where escrow going back to the client goes."""
        e = earner(uow, c)
        p = Parties(relationship=e.relationship, balance=e.balance, contract=c)
        released_before = c.total_released
        request_id = end_contract(
            p, by=by, pay=payment_on_end(by, pay, c.currency),
            refund_request_id=str(uuid4()), at=uow.at, actor=actor,
            fees=self.fees, feedback=feedback, refund_to=refund_to,
        )
        requested = c.refund_request(request_id).total if request_id else released_before * 0
        return Decision(to_json(Ended(str(c.id), c.status.value,
                                      c.total_released - released_before, request_id,
                                      requested)), contract=c)

    def approve_refund_request(
        self, *, contract_id: str, request_id: str, actor: str,
        expected_version: int | None = None, idempotency_key: str | None = None,
    ) -> CommandResult:
        request = {"contract_id": contract_id, "request_id": request_id,
                   "expected_version": expected_version}

        def decide(uow: UnitOfWork) -> Decision:
            c = load_contract(uow, contract_id, expected_version)
            c.approve_refund_request(request_id=request_id, at=uow.at, actor=actor)
            refunded = [e for e in c.pending_events
                        if isinstance(e, FixedPriceContract.EscrowRefunded)]
            none = c.total_released * 0
            return Decision(to_json(Refunded(
                contract_id, request_id, c.status.value,
                refunded[0].total if refunded else none,
                refunded[0].marketplace_fee_refunded if refunded else none,
                c.refund_request(request_id).refund_to,
                refunded[0].refunded_to if refunded else None,
            )), contract=c)

        return self.execute("approve_refund_request", idempotency_key, request, decide)

    # ---- deadlines, fired by name (the scheduler fires them through the registry) ----

    def auto_release_milestone(self, *, contract_id: str, milestone_id: str,
                               due: datetime) -> CommandResult:
        return self.fire_deadline(Deadline(due, DeadlineKind.AUTO_RELEASE, contract_id,
                                           milestone_id))

    def lapse_refund_request(self, *, contract_id: str, request_id: str,
                             due: datetime) -> CommandResult:
        return self.fire_deadline(Deadline(due, DeadlineKind.REFUND_REQUEST_TIMEOUT,
                                           contract_id, request_id))
