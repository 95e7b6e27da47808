"""Opening and ending a contract, whichever its kind.

``open_contract`` takes the terms every contract has and those of its kind
(an hourly rate, a weekly limit); ``end_contract`` ends either kind by its own
rules. Each request is fingerprinted with exactly the fields its kind uses.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import uuid4

from moneyed import Money

from domain.connects.job import Job
from domain.contracts.escrow import RefundTo
from domain.contracts.feedback import Feedback
from domain.contracts.fixed_price import FixedPriceContract
from domain.contracts.hourly import HourlyContract
from domain.contracts.settlement import PaymentOnEnd
from domain.contracts.terms import ContractKind, Party
from domain.errors import InvalidInput, UnsupportedContractKind
from domain.fees.methods import PaymentMethod
from ledger.commands.contracts import load_any, relationship, require_good_standing
from ledger.commands.fixed_price import FixedPriceCommands
from ledger.engine import CommandResult, Decision
from ledger.results import money_json
from ledger.unit_of_work import UnitOfWork


class LifecycleCommands(FixedPriceCommands):
    def open_contract(
        self, *, kind: str = "fixed_price", client_id: str, freelancer_id: str,
        currency: str, job_id: str | None = None, service_fee_rate: Decimal | None = None,
        hourly_rate: Money | None = None, weekly_limit_hours: int | None = None,
        manual_time_allowed: bool | None = None,
        payment_method: PaymentMethod = PaymentMethod.CARD,
        actor: str, idempotency_key: str | None = None,
    ) -> CommandResult:
        request: dict[str, Any] = {
            "kind": kind, "client_id": client_id, "freelancer_id": freelancer_id,
            "currency": currency, "job_id": job_id,
            "service_fee_rate": None if service_fee_rate is None else str(service_fee_rate),
        }
        hourly_terms = (hourly_rate, weekly_limit_hours, manual_time_allowed)
        if kind == ContractKind.HOURLY:
            request |= {"hourly_rate": None if hourly_rate is None else money_json(hourly_rate),
                        "weekly_limit_hours": weekly_limit_hours,
                        "manual_time_allowed": manual_time_allowed,
                        "payment_method": payment_method.value}

        def decide(uow: UnitOfWork) -> Decision:
            require_good_standing(uow, client_id)
            contract_id = uuid4()
            c: FixedPriceContract | HourlyContract
            if kind == ContractKind.FIXED_PRICE:
                if any(t is not None for t in hourly_terms):
                    raise InvalidInput("hourly_rate, weekly_limit_hours and manual_time_allowed "
                                       "are terms of an hourly contract")
                c = FixedPriceContract.open(
                    contract_id=contract_id, client_id=client_id, freelancer_id=freelancer_id,
                    currency=currency, job_id=job_id, service_fee_rate=service_fee_rate,
                    at=uow.at, actor=actor, fees=self.fees)
            elif kind == ContractKind.HOURLY:
                if hourly_rate is None or weekly_limit_hours is None:
                    raise InvalidInput("an hourly contract needs hourly_rate and "
                                       "weekly_limit_hours")
                c = HourlyContract.open(
                    contract_id=contract_id, client_id=client_id, freelancer_id=freelancer_id,
                    currency=currency, job_id=job_id, service_fee_rate=service_fee_rate,
                    hourly_rate=hourly_rate, weekly_limit_hours=weekly_limit_hours,
                    manual_time_allowed=bool(manual_time_allowed),
                    payment_method=payment_method, at=uow.at, actor=actor, fees=self.fees)
            else:
                raise UnsupportedContractKind(
                    f"{kind!r} is not a contract kind; open 'fixed_price' or 'hourly'")
            uow.add(c)
            relationship(uow, c).join(str(c.id), uow.at)
            if job_id is not None:  # the hire Connects returns and boost auctions ask about
                known = uow.get(Job, Job.id_for(job_id))
                hired = Job.hire(known, job_id, str(c.id), uow.at)
                if known is None:
                    uow.add(hired)
            return Decision({
                "contract_id": str(c.id), "kind": c.KIND.value,
                "service_fee_rate": None if c.service_fee_rate is None
                else str(c.service_fee_rate),
            }, contract=c)

        return self.execute("open_contract", idempotency_key, request, decide)

    def end_contract(
        self, *, contract_id: str, by: Party, pay: PaymentOnEnd, actor: str,
        feedback: Feedback | None = None, expected_version: int | None = None,
        idempotency_key: str | None = None, refund_to: RefundTo = RefundTo.PAYMENT_METHOD,
    ) -> CommandResult:
        """Ends a contract by its kind's rules (``pay`` and ``refund_to`` are for
        fixed-price escrow: what the client pays, and where the rest goes back)."""
        request = {"contract_id": contract_id, "by": by.value,
                   "pay": money_json(pay) if isinstance(pay, Money) else pay,
                   "feedback": None if feedback is None else feedback.as_json(),
                   "expected_version": expected_version}
        if refund_to is not RefundTo.PAYMENT_METHOD:  # the default keeps older fingerprints
            request["refund_to"] = refund_to.value

        def decide(uow: UnitOfWork) -> Decision:
            c = load_any(uow, contract_id, expected_version)
            if by is Party.CLIENT:
                require_good_standing(uow, c.client_id)
            if isinstance(c, FixedPriceContract):
                return self.decide_fixed_price_end(uow, c, by, pay, actor, feedback, refund_to)
            if pay not in (None, "none"):
                raise InvalidInput("an hourly contract holds no escrow to pay on ending; "
                                   "logged time is still invoiced next Monday")
            if refund_to is not RefundTo.PAYMENT_METHOD:
                raise InvalidInput("an hourly contract holds no escrow to refund on ending")
            c.end(by=by, at=uow.at, actor=actor, feedback=feedback)
            zero = c.hourly_rate * 0
            return Decision({"contract_id": contract_id, "status": c.status.value,
                             "paid_to_freelancer": money_json(zero),
                             "refund_request_id": None,
                             "refund_requested": money_json(zero)}, contract=c)

        return self.execute("end_contract", idempotency_key, request, decide)
