"""What reconciliation compares: lines from outside files, items the ledger expects, breaks.

Why one vocabulary: the processor report, both bank formats and the ledger
become the same few shapes, so one matcher and one report serve them all, and
a run recorded today can be re-read later without today's parsers.

Signs are from the platform's side of the counterparty: money coming to us is
positive (a charge, a bank credit), money leaving is negative (a refund, a
chargeback, a freelancer payout, a bank debit). Amounts are exact decimals in
the currency's major unit (``Decimal("500.00")``), never floats.

The money flow the files describe (README, "Reconciliation"):

- The processor charges clients (``charge``, reference our ``payment_id``),
  refunds them (``refund``, reference our refund id), takes chargebacks
  (``chargeback``, reference the ``payment_id``) and pays freelancers
  (``payout``, reference our ``withdrawal_id``; ``payout_failure`` when one
  comes back). It keeps a ``fee`` per row; ``net = amount - fee``.
- Every day the processor transfers the sum of ``net`` of the rows that became
  available that day (``available_on``) to the escrow **trust** account: one
  bank credit (or debit, when the day's net is negative) for many processor
  rows.
- The **operating** account pays the processor's fees and receives the
  platform's revenue; its lines are matched by the rules that name it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum


class Source(StrEnum):
    PROCESSOR = "processor"
    BANK = "bank"


class FileFormat(StrEnum):
    PROCESSOR_CSV = "processor_csv"
    BAI2 = "bai2"
    CAMT053 = "camt053"


PROCESSOR_TYPES = ("charge", "refund", "payout", "payout_failure", "fee", "adjustment",
                   "chargeback")
"""The processor report's ``type`` column, exactly these words."""


@dataclass(frozen=True)
class StatementLine:
    """One transaction line of an imported file, as stated there (nothing inferred)."""

    source: Source
    file: str
    """The file's name as imported (no directory)."""
    line: int
    """1-based line of the file where the transaction starts (for XML: the entry's line)."""
    external_id: str
    """The counterparty's own id (processor ``id``; bank reference or entry reference);
    unique within a file."""
    kind: str
    """Processor: one of ``PROCESSOR_TYPES``. Bank: ``credit`` or ``debit``."""
    amount: Decimal
    """Signed: money to us positive. Bank: the entry's amount, signed by credit/debit."""
    currency: str
    booked: date
    """Processor ``created`` (its date, UTC); bank booking date."""
    value_date: date | None = None
    """Processor ``available_on``; bank value date when the file gives one."""
    reference: str = ""
    """Processor: our ``payment_id``/``withdrawal_id``/refund id (may be empty for
    ``fee``/``adjustment``). Bank: the remittance text / customer reference."""
    fee: Decimal = Decimal(0)
    """Processor only: what the processor kept on this row (positive)."""
    net: Decimal | None = None
    """Processor only: ``amount - fee`` as stated by the file (checked on import)."""
    account: str = ""
    """Bank only: the account the line is on (its number/IBAN as stated)."""


@dataclass(frozen=True)
class AccountBalance:
    """A bank account's balance on one day as the statement states it."""

    account: str
    currency: str
    day: date
    opening: Decimal | None
    closing: Decimal


@dataclass(frozen=True)
class ParsedFile:
    """A whole imported file: parsed completely before anything is recorded."""

    format: FileFormat
    name: str
    sha256: str
    """Of the file's bytes exactly as received."""
    lines: tuple[StatementLine, ...]
    balances: tuple[AccountBalance, ...] = ()
    accounts: tuple[str, ...] = field(default=())
    """Bank accounts the file covers (empty for the processor report)."""


class StatementError(ValueError):
    """A file refused: names the file, the 1-based line and the field; nothing was recorded."""

    def __init__(self, file: str, line: int, field: str, message: str) -> None:
        super().__init__(f"{file}, line {line}, field {field}: {message}")
        self.file = file
        self.line = line
        self.field = field
        self.message = message


@dataclass(frozen=True)
class LedgerItem:
    """A movement the ledger says happened with the processor, from one event's postings."""

    reference: str
    kind: str
    """In the processor's vocabulary: charge, refund, chargeback, adjustment (a won
    chargeback returned), payout, payout_failure."""
    amount: Decimal
    """Signed like a processor row's ``amount``."""
    currency: str
    effective: date
    position: int
    """The log position of the event that recorded it (the evidence)."""
    event_type: str


class BreakKind(StrEnum):
    MISSING_IN_LEDGER = "missing_in_ledger"
    MISSING_OUTSIDE = "missing_outside"
    AMOUNT_MISMATCH = "amount_mismatch"
    CURRENCY_MISMATCH = "currency_mismatch"
    DUPLICATE = "duplicate"
    TIMING = "timing"
    SAFEGUARDING_SHORTFALL = "safeguarding_shortfall"
    UNBALANCED_BOOKS = "unbalanced_books"
    """Internal: debits and credits differ in a currency as of the run's moment."""
    PROJECTION_MISMATCH = "projection_mismatch"
    """Internal: an account where the live projection differs from a replay of the log."""
