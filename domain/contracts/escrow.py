"""Escrow's money rules, shared by every kind of contract.

How a charge enters escrow with the client's fees on top, how a release
leaves it net of the service fee, how a refund goes back with the marketplace
fee paid on it, and when the initiation fee is recognised or returned. Each
function builds a balanced ``JournalEntry``; the aggregates decide *whether* a
movement is allowed, these decide *what it posts*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from moneyed import Money

from domain.bookkeeping import accounts
from domain.bookkeeping.accounts import Revenue
from domain.bookkeeping.postings import JournalEntry, Posting, Side, leg
from domain.contracts.milestone import EscrowMovement, Milestone
from domain.errors import InvalidInput
from domain.fees.methods import PaymentMethod
from domain.fees.quotes import FeeQuote
from domain.money import round_half_up, zero

MARKETPLACE_FEE_REFUND_POLICY = (
    "assumed: the marketplace fee paid on the refunded escrow is refunded, per "
    "milestone in proportion to its escrow (domain.md: not published)"
)


CLIENT_CREDIT_REFUND_POLICY = (
    "kept as client credit at the client's choice (refund_to client_credit), the marketplace "
    "fee on it included, spendable on funding with payment_method client_credit"
)


class RefundTo(StrEnum):
    """Where the client wants money going back to it: its payment method, or kept as credit."""

    PAYMENT_METHOD = "payment_method"
    CLIENT_CREDIT = "client_credit"


def parse_refund_to(value: object) -> RefundTo:
    if isinstance(value, str) and value in RefundTo.__members__.values():
        return RefundTo(value)
    raise InvalidInput(f"refund_to must be 'payment_method' or 'client_credit', got {value!r}")


def payment_account(client_id: str, method: PaymentMethod) -> str:
    """Where a client's money comes from, and where a refund of it goes back to."""
    if method is PaymentMethod.CLIENT_CREDIT:
        return accounts.client_credit(client_id)
    return accounts.PROCESSOR_CLEARING


def fee_share(m: Milestone, amount: Money) -> Money:
    """The marketplace fee that travels with ``amount`` of this milestone's escrow.

    In proportion to the escrow, rounded half-up, never more than the fee held;
    taking all the escrow takes all the fee, so shares never lose or invent a cent.
    """
    if m.escrow.amount == 0 or m.fee_held.amount == 0:
        return zero(m.escrow.currency)
    if amount >= m.escrow:
        return m.fee_held
    share = round_half_up(Money(m.fee_held.amount * amount.amount / m.escrow.amount,
                                m.fee_held.currency))
    return min(share, m.fee_held)


def initiation_fee_outstanding(fee: FeeQuote | None, settled: bool) -> Money | None:
    """The initiation fee still deferred on a contract, or None when there is none."""
    if fee is None or settled or fee.fee.amount == 0:
        return None
    return fee.fee


@dataclass(frozen=True)
class Charge:
    """What a client pays now into escrow, and the fees charged with it."""

    amount: Money
    marketplace: FeeQuote
    initiation: FeeQuote | None

    @property
    def total(self) -> Money:
        fee = self.initiation.fee if self.initiation else zero(self.amount.currency)
        return self.marketplace.with_fee + fee


def funding_entry(
    memo: str, contract_id: UUID, escrow_to: str, carried: Sequence[tuple[str, Money]],
    charge: Charge | None, payer: str,
) -> JournalEntry | None:
    """Carried escrow moved between milestones, then a charge with its fees, if any."""
    postings: list[Posting | None] = []
    for source_account, amount in carried:
        postings += [leg(Side.DEBIT, source_account, amount), leg(Side.CREDIT, escrow_to, amount)]
    if charge is not None:
        initiation = charge.initiation.fee if charge.initiation else zero(charge.amount.currency)
        postings += [
            leg(Side.DEBIT, payer, charge.total),
            leg(Side.CREDIT, escrow_to, charge.amount),
            leg(Side.CREDIT, accounts.revenue(Revenue.MARKETPLACE_FEE), charge.marketplace.fee),
            leg(Side.CREDIT, accounts.deferred_initiation_fee(contract_id), initiation),
        ]
    legs = [p for p in postings if p is not None]
    return JournalEntry.of(memo, legs) if legs else None


def release_entry(
    memo: str, escrow_from: str, freelancer_id: str, service_fee: FeeQuote,
    contract_id: UUID, recognise: Money | None,
) -> JournalEntry:
    """Gross out of escrow: net to the freelancer's pending, fee to revenue."""
    return JournalEntry.of(memo, [
        leg(Side.DEBIT, escrow_from, service_fee.basis),
        leg(Side.CREDIT, accounts.freelancer_pending(freelancer_id), service_fee.net),
        leg(Side.CREDIT, accounts.revenue(Revenue.SERVICE_FEE), service_fee.fee),
        leg(Side.DEBIT, accounts.deferred_initiation_fee(contract_id), recognise)
        if recognise else None,
        leg(Side.CREDIT, accounts.revenue(Revenue.INITIATION_FEE), recognise)
        if recognise else None,
    ])


def refund_entry(
    memo: str, movements: Sequence[tuple[str, EscrowMovement]], refund_to: str,
) -> JournalEntry:
    """Escrow back to the client with the marketplace fee paid on it (assumed policy)."""
    total = sum((m.amount for _, m in movements), zero(movements[0][1].amount.currency))
    fee_back = sum((m.fee_or_zero for _, m in movements), zero(total.currency))
    return JournalEntry.of(memo, [
        *(leg(Side.DEBIT, account, m.amount) for account, m in movements),
        leg(Side.DEBIT, accounts.revenue(Revenue.MARKETPLACE_FEE), fee_back),
        leg(Side.CREDIT, refund_to, total + fee_back),
    ])


def initiation_fee_return_entry(memo: str, contract_id: UUID, fee: Money,
                                refund_to: str) -> JournalEntry:
    return JournalEntry.of(memo, [
        leg(Side.DEBIT, accounts.deferred_initiation_fee(contract_id), fee),
        leg(Side.CREDIT, refund_to, fee),
    ])
