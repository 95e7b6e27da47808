"""Payments every kind of contract shares: charges with their fees, bonuses, refunds.

A charge debits the client's payment account for the amount plus the
marketplace fee (and the initiation fee on a contract's first payment, which
for a payment that reaches the freelancer at once is revenue at once). The
events here are adopted by each contract aggregate, so a bonus on a
fixed-price contract and one on an hourly contract are the same fact.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate
from moneyed import Money

from domain.bookkeeping import accounts
from domain.bookkeeping.accounts import Revenue
from domain.bookkeeping.postings import JournalEntry, Posting, Side, leg
from domain.contracts.chargebacks import ChargeKind, ChargeRecord, payment_id_of, record_charge
from domain.contracts.hourly_week import Payment
from domain.fees.quotes import FeeQuote
from domain.money import zero
from domain.periods import REFUND_WINDOW


def charge_entry(memo: str, payer: str, credits: Sequence[tuple[str, Money]],
                 marketplace: FeeQuote, initiation: FeeQuote | None) -> JournalEntry:
    """The client pays ``credits`` plus its fees from ``payer``, in one balanced entry."""
    currency = marketplace.basis.currency
    init = initiation.fee if initiation else zero(currency)
    total = sum((amount for _, amount in credits), zero(currency)) + marketplace.fee + init
    postings: list[Posting | None] = [leg(Side.DEBIT, payer, total)]
    postings += [leg(Side.CREDIT, account, amount) for account, amount in credits]
    postings += [leg(Side.CREDIT, accounts.revenue(Revenue.MARKETPLACE_FEE), marketplace.fee),
                 leg(Side.CREDIT, accounts.revenue(Revenue.INITIATION_FEE), init)]
    return JournalEntry.of(memo, postings)


class BonusPaid(Aggregate.Event):
    """The client paid the freelancer a bonus: charged with its fees, pending 5 days.

    Version 2 added ``payment_id``; version 1 events get theirs on upcast.
    """

    class_version = 2

    bonus_id: str
    gross: Money
    marketplace_fee: FeeQuote
    initiation_fee: FeeQuote | None
    service_fee: FeeQuote
    net: Money
    payment_method: str
    available_at: datetime
    lot_id: str
    entry: JournalEntry
    actor: str
    payment_id: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["payment_id"] = payment_id_of(state, True)

    def apply(self, c: Any) -> None:
        c.record_payment(self.timestamp, self.net, f"bonus {self.bonus_id}")
        initiation = self.initiation_fee.fee if self.initiation_fee else self.net * 0
        # the bonus reached the freelancer at once: unprotected, its net is theirs to bear
        record_charge(c, ChargeRecord(
            self.payment_id, self.timestamp, ChargeKind.BONUS,
            self.gross + self.marketplace_fee.fee + initiation, self.net,
            self.entry.postings[0].account))
        if self.initiation_fee is not None:
            c.initiation_fee = self.initiation_fee
            c.initiation_fee_settled = True


class ClientRefunded(Aggregate.Event):
    """The freelancer refunded the client (irreversible); the money moved on its balance.

    ``refund_to`` is where the client has it: ``payment_method`` (back where it
    paid from) or ``client_credit`` (kept on the platform). Version 2 added it;
    version 1 events get ``payment_method``, the only choice there was.
    """

    class_version = 2

    refund_id: str
    amount: Money
    actor: str
    refund_to: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["refund_to"] = "payment_method"

    def apply(self, c: Any) -> None:
        c.refunds = (*c.refunds, Payment(self.timestamp, self.amount, self.refund_id))


def refundable(paid: Sequence[Payment], refunded: Sequence[Payment], at: datetime,
               currency: str) -> Money:
    """Net paid in the last 180 days (the 180th included), less what was refunded in them."""
    since = at - REFUND_WINDOW
    total = sum((p.net for p in paid if p.at >= since), zero(currency))
    return total - sum((r.net for r in refunded if r.at >= since), zero(currency))


def bonus_entry(memo: str, payer: str, freelancer_id: str, service_fee: FeeQuote,
                marketplace: FeeQuote, initiation: FeeQuote | None) -> JournalEntry:
    """A bonus charged to the client and credited, net of the service fee, as pending."""
    charge = charge_entry(memo, payer, [
        (accounts.freelancer_pending(freelancer_id), service_fee.net),
        (accounts.revenue(Revenue.SERVICE_FEE), service_fee.fee),
    ], marketplace, initiation)
    return charge
