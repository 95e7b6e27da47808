"""Withdrawals (requested, sent, settled, failed, cancelled) and holds on a freelancer.

Every step is decided on the freelancer's balance, where the available money
is: the withdrawal id names that balance, so a processor's report resolves to
it without a lookup table. The fee is priced by the schedule in force when the
withdrawal is requested and recorded on the event.
"""

from __future__ import annotations

from typing import Any

from moneyed import Money

from domain.balances import payouts
from domain.balances.freelancer_balance import FreelancerBalance
from domain.contracts.references import CHARGEBACK, HOLD, WITHDRAWAL, parse_reference
from domain.errors import (
    FreelancerNotFound,
    HoldNotFound,
    HoldStateError,
    InvalidInput,
    NotFound,
    WithdrawalNotFound,
)
from domain.fees.methods import parse_withdrawal_method
from ledger.commands.connects import check_freelancer
from ledger.engine import CommandEngine, CommandResult, Decision
from ledger.results import money_json
from ledger.unit_of_work import UnitOfWork

MAX_TEXT = 500


def withdrawal_json(b: FreelancerBalance, w: payouts.Withdrawal) -> dict[str, Any]:
    code = w.amount.currency.code
    return {
        "withdrawal_id": w.withdrawal_id,
        "freelancer_id": b.freelancer_id,
        "method": w.method.value,
        "state": w.state.value,
        "amount": money_json(w.amount),
        "fee": money_json(w.fee.fee),
        "total": money_json(w.amount + w.fee.fee),
        "fee_schedule": w.fee.schedule_id,
        "requested_at": w.requested_at.isoformat(),
        "updated_at": w.updated_at.isoformat(),
        "processor_reference": w.processor_reference,
        "failure_reason": w.failure_reason,
        "balance": {"available": money_json(b.available_in(code)),
                    "in_flight": money_json(b.in_flight_in(code))},
    }


def hold_json(b: FreelancerBalance, h: payouts.Hold) -> dict[str, Any]:
    return {
        "hold_id": h.hold_id,
        "freelancer_id": b.freelancer_id,
        "reason": h.reason.value,
        "note": h.note,
        "active": h.active,
        "placed_at": h.placed_at.isoformat(),
        "placed_by": h.placed_by,
        "released_at": None if h.released_at is None else h.released_at.isoformat(),
        "released_by": h.released_by,
        "withdrawals_blocked_by": b.all_active_holds(),
    }


def _text(value: str, name: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT or not value.isprintable():
        raise InvalidInput(f"{name} must be printable text of at most {MAX_TEXT} characters")
    return value


def _balance(uow: UnitOfWork, freelancer_id: str) -> FreelancerBalance:
    check_freelancer(freelancer_id)
    found = uow.get(FreelancerBalance, FreelancerBalance.id_for(freelancer_id))
    if found is None:
        raise FreelancerNotFound(f"freelancer {freelancer_id!r} has no balance here")
    return found


def _balance_of(uow: UnitOfWork, kind: str, ref: str,
                not_found: type[NotFound]) -> FreelancerBalance:
    """The balance a withdrawal or hold id names; an unknown one is that id's 404."""
    balance_id, _ = parse_reference(kind, ref, not_found)
    found = uow.get(FreelancerBalance, balance_id)
    if found is None:
        raise not_found(f"{ref!r} not found")
    return found


class PayoutCommands(CommandEngine):
    def request_withdrawal(self, *, freelancer_id: str, amount: Money, method: str, actor: str,
                           idempotency_key: str | None = None) -> CommandResult:
        """Moves amount + fee out of available: the amount in flight, the fee to revenue."""
        request = {"freelancer_id": freelancer_id, "amount": money_json(amount),
                   "method": method}

        def decide(uow: UnitOfWork) -> Decision:
            via = parse_withdrawal_method(method)
            fee = self.fees.withdrawal_fee(amount, via, uow.at)
            b = _balance(uow, freelancer_id)
            w = payouts.request(b, amount=amount, method=via, fee=fee, at=uow.at, actor=actor)
            return Decision(withdrawal_json(b, w))

        return self.execute("request_withdrawal", idempotency_key, request, decide)

    def mark_withdrawal_sent(self, *, withdrawal_id: str, processor_reference: str | None,
                             actor: str, idempotency_key: str | None = None) -> CommandResult:
        request = {"withdrawal_id": withdrawal_id, "processor_reference": processor_reference}

        def decide(uow: UnitOfWork) -> Decision:
            ref = None if processor_reference is None else _text(processor_reference,
                                                                 "processor_reference")
            b = _balance_of(uow, WITHDRAWAL, withdrawal_id, WithdrawalNotFound)
            w = payouts.mark_sent(b, withdrawal_id, processor_reference=ref, at=uow.at,
                                  actor=actor)
            return Decision(withdrawal_json(b, w))

        return self.execute("mark_withdrawal_sent", idempotency_key, request, decide)

    def settle_withdrawal(self, *, withdrawal_id: str, actor: str,
                          idempotency_key: str | None = None) -> CommandResult:
        request = {"withdrawal_id": withdrawal_id}

        def decide(uow: UnitOfWork) -> Decision:
            b = _balance_of(uow, WITHDRAWAL, withdrawal_id, WithdrawalNotFound)
            w = payouts.settle(b, withdrawal_id, at=uow.at, actor=actor)
            return Decision(withdrawal_json(b, w))

        return self.execute("settle_withdrawal", idempotency_key, request, decide)

    def return_withdrawal(self, *, withdrawal_id: str, failed: bool, reason: str, actor: str,
                          idempotency_key: str | None = None) -> CommandResult:
        """A failure (``failed``) or a cancellation: the amount is available again."""
        request = {"withdrawal_id": withdrawal_id, "failed": failed, "reason": reason}

        def decide(uow: UnitOfWork) -> Decision:
            why = _text(reason, "reason")
            b = _balance_of(uow, WITHDRAWAL, withdrawal_id, WithdrawalNotFound)
            w = payouts.give_back(b, withdrawal_id, failed=failed, reason=why, at=uow.at,
                                  actor=actor)
            return Decision(withdrawal_json(b, w))

        command = "fail_withdrawal" if failed else "cancel_withdrawal"
        return self.execute(command, idempotency_key, request, decide)

    def place_hold(self, *, freelancer_id: str, reason: str, note: str, actor: str,
                   idempotency_key: str | None = None) -> CommandResult:
        request = {"freelancer_id": freelancer_id, "reason": reason, "note": note}

        def decide(uow: UnitOfWork) -> Decision:
            # a hold may come before any earnings (compliance at sign-up): open the balance
            check_freelancer(freelancer_id)
            b = uow.get(FreelancerBalance, FreelancerBalance.id_for(freelancer_id)) or uow.add(
                FreelancerBalance.register(freelancer_id, uow.at))
            h = payouts.place_hold(b, reason=reason, note=_text(note, "note"), at=uow.at,
                                   actor=actor)
            return Decision(hold_json(b, h))

        return self.execute("place_hold", idempotency_key, request, decide)

    def release_hold(self, *, hold_id: str, note: str, actor: str,
                     idempotency_key: str | None = None) -> CommandResult:
        request = {"hold_id": hold_id, "note": note}

        def decide(uow: UnitOfWork) -> Decision:
            if hold_id.startswith(f"{CHARGEBACK}_"):
                raise HoldStateError(f"{hold_id} is a chargeback's hold: it is lifted when the "
                                     "chargeback is won (or the balance is whole again)")
            b = _balance_of(uow, HOLD, hold_id, HoldNotFound)
            h = payouts.release_hold(b, hold_id, note=_text(note, "note"), at=uow.at,
                                     actor=actor)
            return Decision(hold_json(b, h))

        return self.execute("release_hold", idempotency_key, request, decide)

    def withdrawal_view(self, withdrawal_id: str) -> dict[str, Any]:
        position = self.position()
        balance_id, _ = parse_reference(WITHDRAWAL, withdrawal_id, WithdrawalNotFound)
        b = self.find(FreelancerBalance, balance_id)
        if b is None:
            raise WithdrawalNotFound(f"{withdrawal_id!r} not found")
        return {**withdrawal_json(b, payouts.withdrawal_of(b, withdrawal_id)),
                "position": position}

    def hold_view(self, hold_id: str) -> dict[str, Any]:
        position = self.position()
        balance_id, _ = parse_reference(HOLD, hold_id, HoldNotFound)
        b = self.find(FreelancerBalance, balance_id)
        if b is None:
            raise HoldNotFound(f"{hold_id!r} not found")
        return {**hold_json(b, payouts.hold_of(b, hold_id)), "position": position}
