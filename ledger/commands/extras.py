"""Bonuses and freelancer refunds, on a contract of either kind."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from moneyed import Money

from domain.bookkeeping.postings import Side
from domain.contracts import extra_payments
from domain.contracts.escrow import RefundTo
from domain.fees.methods import PaymentMethod
from ledger.commands.contracts import earner, load_any, require_good_standing
from ledger.engine import CommandEngine, CommandResult, Decision
from ledger.results import Charge, money_json, to_json
from ledger.unit_of_work import UnitOfWork


class ExtraPaymentCommands(CommandEngine):
    def pay_bonus(self, *, contract_id: str, amount: Money, actor: str,
                  payment_method: PaymentMethod = PaymentMethod.CARD,
                  expected_version: int | None = None,
                  idempotency_key: str | None = None) -> CommandResult:
        request = {"contract_id": contract_id, "amount": money_json(amount),
                   "payment_method": payment_method.value, "expected_version": expected_version}

        def decide(uow: UnitOfWork) -> Decision:
            c = load_any(uow, contract_id, expected_version)
            require_good_standing(uow, c.client_id)
            bonus = extra_payments.pay_bonus(
                c, earner(uow, c), bonus_id=str(uuid4()), gross=amount, method=payment_method,
                at=uow.at, actor=actor, fees=self.fees)
            none = amount * 0
            answer: dict[str, Any] = {
                "contract_id": str(c.id), "bonus_id": bonus.bonus_id,
                "payment_id": bonus.payment_id,
                "gross": money_json(bonus.gross),
                "marketplace_fee": money_json(bonus.marketplace_fee.fee),
                "initiation_fee": money_json(
                    bonus.initiation_fee.fee if bonus.initiation_fee else none),
                "service_fee": money_json(bonus.service_fee.fee), "net": money_json(bonus.net),
                "available_at": bonus.available_at.isoformat(),
                "charge": to_json(Charge.of(bonus.payment_id, bonus.gross,
                                            bonus.marketplace_fee, bonus.initiation_fee,
                                            bonus.payment_method)),
            }
            return Decision(answer, contract=c)

        return self.execute("pay_bonus", idempotency_key, request, decide)

    def refund_client(self, *, contract_id: str, amount: Money, actor: str,
                      expected_version: int | None = None,
                      idempotency_key: str | None = None,
                      refund_to: RefundTo = RefundTo.PAYMENT_METHOD) -> CommandResult:
        """``refund_to``: back where the client paid from, or kept as its client credit."""
        request = {"contract_id": contract_id, "amount": money_json(amount),
                   "expected_version": expected_version}
        if refund_to is not RefundTo.PAYMENT_METHOD:  # the default keeps older fingerprints
            request["refund_to"] = refund_to.value

        def decide(uow: UnitOfWork) -> Decision:
            c = load_any(uow, contract_id, expected_version)
            e = earner(uow, c)
            refund_id = str(uuid4())
            extra_payments.refund_client(c, e, refund_id=refund_id, amount=amount, at=uow.at,
                                         actor=actor, fees=self.fees, refund_to=refund_to)
            taken = e.balance.pending_events[-1]
            if refund_to is RefundTo.CLIENT_CREDIT:
                # the postings are on the freelancer's balance, which the engine's
                # credit follower does not read: the credit follows them here
                credit = uow.add(self.client_credit(uow, c.client_id))
                credit.follow([taken], uow.at)
            return Decision({
                "contract_id": str(c.id), "refund_id": refund_id, "refunded": money_json(amount),
                "from_available": money_json(taken.from_available),  # type: ignore[attr-defined]
                "from_pending": money_json(
                    amount - taken.from_available),  # type: ignore[attr-defined]
                "refund_to": refund_to.value,
                "refunded_to": next(p.account for p in taken.entry.postings  # type: ignore
                                    if p.side is Side.CREDIT),
            }, contract=c)

        return self.execute("refund_client", idempotency_key, request, decide)
