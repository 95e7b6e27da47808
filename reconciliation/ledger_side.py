"""What the ledger says happened with the payment processor, read from the raw log.

Why from the log and not a projection: a run must be reproducible from the
stored events alone, the same way an auditor's replay is. Each item comes from
one event and names it by log position (the evidence a break shows).

- Money in through the processor (a debit of ``processor:clearing``): a
  ``charge``, referenced by the event's ``payment_id`` (every charge has one;
  ``pay_<aggregate hex>_<version>`` for the few that do not publish it).
- Money back to a payment method (a credit of ``processor:clearing``): a
  ``refund``, referenced ``rf_<aggregate hex>_<version>``.
- A chargeback received: ``chargeback`` of the whole payment, referenced by its
  ``payment_id``; a chargeback won: ``adjustment``, the money returned, same
  reference.
- A withdrawal sent: ``payout`` of its amount, referenced by ``withdrawal_id``
  (the fee stays with the platform); a sent withdrawal that failed:
  ``payout_failure``, the amount coming back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from eventsourcing.application import Application

from domain.bookkeeping.accounts import PROCESSOR_CLEARING
from domain.bookkeeping.postings import JournalEntry
from domain.contracts.references import PAYMENT, REFUND, reference
from reconciliation.model import LedgerItem

BATCH = 1000


def _clearing_net(entry: JournalEntry) -> dict[str, Decimal]:
    """Debits minus credits on processor clearing, per currency, in this entry."""
    net: dict[str, Decimal] = {}
    for p in entry.postings:
        if p.account == PROCESSOR_CLEARING:
            code = p.amount.currency.code
            net[code] = net.get(code, Decimal(0)) + p.signed
    return {c: v for c, v in net.items() if v != 0}


class _Reader:
    """Turns events into items; remembers what later events need (a withdrawal's amount,
    whether it was sent, a chargeback's payment)."""

    def __init__(self) -> None:
        self.requested: dict[str, tuple[Decimal, str]] = {}
        self.sent: set[str] = set()
        self.chargebacks: dict[str, str] = {}

    def items(self, position: int, event: Any) -> Iterator[LedgerItem]:
        name = type(event).__qualname__.rsplit(".", 1)[-1]
        day = event.timestamp.date()

        def item(ref: str, kind: str, amount: Decimal, currency: str) -> LedgerItem:
            return LedgerItem(ref, kind, amount, currency, day, position,
                              type(event).__qualname__)

        if name == "WithdrawalRequested":
            self.requested[event.withdrawal_id] = (event.amount.amount,
                                                   event.amount.currency.code)
            return
        if name == "WithdrawalSent" and event.withdrawal_id in self.requested:
            self.sent.add(event.withdrawal_id)
            amount, currency = self.requested[event.withdrawal_id]
            yield item(event.withdrawal_id, "payout", -amount, currency)
            return
        if name == "WithdrawalReturned":
            if event.state == "failed" and event.withdrawal_id in self.sent:
                amount, currency = self.requested[event.withdrawal_id]
                yield item(event.withdrawal_id, "payout_failure", amount, currency)
            return
        entry = getattr(event, "entry", None)
        if not isinstance(entry, JournalEntry):
            return
        for currency, net in sorted(_clearing_net(entry).items()):
            if name == "ChargebackReceived":
                self.chargebacks[event.chargeback_id] = event.payment_id
                yield item(event.payment_id, "chargeback", net, currency)
            elif name == "ChargebackDecided":
                payment = self.chargebacks.get(event.chargeback_id, event.chargeback_id)
                yield item(payment, "adjustment", net, currency)
            elif net > 0:
                payment_id = getattr(event, "payment_id", None) or reference(
                    PAYMENT, event.originator_id, event.originator_version)
                yield item(payment_id, "charge", net, currency)
            else:
                yield item(reference(REFUND, event.originator_id, event.originator_version),
                           "refund", net, currency)


def ledger_items(app: Application[Any], *, upto: int | None = None,
                 progress: Callable[[int], None] | None = None) -> list[LedgerItem]:
    """Every processor movement the log records up to position ``upto`` (all by default),
    in log order. Reads 1,000 events at a time."""
    reader = _Reader()
    found: list[LedgerItem] = []
    start = 1
    while True:
        batch = app.recorder.select_notifications(start=start, limit=BATCH, stop=upto)
        if not batch:
            return found
        for n in batch:
            found.extend(reader.items(n.id, app.mapper.to_domain_event(n)))
        start = batch[-1].id + 1
        if progress is not None:
            progress(batch[-1].id)


def within(items: list[LedgerItem], first: date, last: date) -> list[LedgerItem]:
    return [i for i in items if first <= i.effective <= last]
