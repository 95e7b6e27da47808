"""Money outside the usual flow, on any kind of contract: bonuses and freelancer refunds.

A bonus is paid while the contract is active or up to 365 days after it
ends, charged to the client with the marketplace fee (and the initiation fee
when it is the contract's first payment), and pending 5 days. A freelancer
may refund a client within 180 days of a payment, at most min(net paid on the
contract in the last 180 days, available + pending); it is irreversible and
reduces the relationship's lifetime billings. The client may keep the refund
on the platform as client credit (``refund_to``) instead of having it back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from moneyed import Money

from domain.bookkeeping import accounts
from domain.contracts import payments
from domain.contracts.escrow import RefundTo, payment_account
from domain.contracts.references import PAYMENT, reference
from domain.contracts.settlement import Earner, credit_earnings, service_fee_on, top_tier_threshold
from domain.contracts.terms import ContractStatus
from domain.errors import InsufficientFunds, WindowClosed
from domain.fees.methods import PaymentMethod
from domain.fees.schedule import FeeSchedule
from domain.money import require_positive, require_same_currency, zero
from domain.periods import BONUS_AFTER_END, REFUND_WINDOW, SECURITY_PERIOD


def pay_bonus(c: Any, p: Earner, *, bonus_id: str, gross: Money, method: PaymentMethod,
              at: datetime, actor: str, fees: FeeSchedule) -> payments.BonusPaid:
    require_positive(gross, "bonus")
    require_same_currency(gross, zero(c.currency))
    if c.status is not ContractStatus.ACTIVE:
        ended = c.ended_at
        if ended is None or at > ended + BONUS_AFTER_END:
            raise WindowClosed(f"contract {c.id} is {c.status.value}: a bonus can be paid up to "
                               f"{BONUS_AFTER_END.days} days after it ends")
    marketplace = fees.marketplace_fee(gross, at, method)
    initiation = fees.initiation_fee(gross, at) if c.initiation_fee is None else None
    quote = service_fee_on(p, gross, at, fees, c.service_fee_rate)
    lot_id = f"{c.id}:{c.version + 1}"
    entry = payments.bonus_entry(f"bonus {bonus_id} on contract {c.id}",
                                 payment_account(c.client_id, method), c.freelancer_id, quote,
                                 marketplace, initiation)
    c.trigger_event(c.BonusPaid, timestamp=at, bonus_id=bonus_id, gross=gross,
                    marketplace_fee=marketplace, initiation_fee=initiation, service_fee=quote,
                    net=quote.net, payment_method=method.value,
                    available_at=at + SECURITY_PERIOD, lot_id=lot_id, entry=entry, actor=actor,
                    payment_id=reference(PAYMENT, c.id, c.version + 1))
    event: payments.BonusPaid = c.pending_events[-1]
    credit_earnings(p, quote, lot_id=lot_id, contract_id=str(c.id), ref=f"bonus {bonus_id}",
                    at=at, fees=fees)
    return event


def refund_client(c: Any, p: Earner, *, refund_id: str, amount: Money, at: datetime,
                  actor: str, fees: FeeSchedule,
                  refund_to: RefundTo = RefundTo.PAYMENT_METHOD) -> None:
    require_positive(amount, "refund")
    require_same_currency(amount, zero(c.currency))
    limit = payments.refundable(c.payments, c.refunds, at, c.currency)
    if limit.amount <= 0:
        raise WindowClosed(f"nothing was paid on contract {c.id} in the last "
                           f"{REFUND_WINDOW.days} days that is not refunded already")
    if amount > limit:
        raise InsufficientFunds(f"at most {limit.amount} {c.currency} can be refunded: the net "
                                f"paid on this contract in the last {REFUND_WINDOW.days} days")
    method = getattr(c, "payment_method", None) or c.first_charge_method or "card"
    account = accounts.client_credit(c.client_id) if refund_to is RefundTo.CLIENT_CREDIT \
        else payment_account(c.client_id, PaymentMethod(method))
    p.balance.refund(refund_id=refund_id, amount=amount, refund_to=account, at=at)
    p.relationship.record_billing(-amount, at, f"refund {refund_id}",
                                  top_tier_threshold(fees, c.currency))
    c.trigger_event(c.ClientRefunded, timestamp=at, refund_id=refund_id, amount=amount,
                    actor=actor, refund_to=refund_to.value)
