"""The processor's settlement report: a CSV shaped like Stripe's balance-transaction export.

Why so strict: every row becomes a claim the matcher holds the ledger to, so a
row we half-understand is worse than a refused file. Each cell is read by one
rule and a broken one is reported with its physical line and column name;
nothing is guessed (no float parsing, no rounding, no default currency).

The file is read in one streaming pass with ``csv.reader`` and checks that cost
a dictionary lookup or a regular expression, so 100,000 rows take well under a
few seconds.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal

from reconciliation.model import (
    PROCESSOR_TYPES,
    FileFormat,
    ParsedFile,
    Source,
    StatementError,
    StatementLine,
)
from reconciliation.statements import currency_digits, decimal_amount, sha256_of

__all__ = ["COLUMNS", "parse_processor_csv", "write_processor_csv"]

COLUMNS = ("id", "type", "amount", "fee", "net", "currency", "created", "available_on",
           "reference")

_TYPES = frozenset(PROCESSOR_TYPES)
_POSITIVE = frozenset({"charge", "payout_failure"})
_NEGATIVE = frozenset({"refund", "payout", "chargeback", "fee"})
_NO_REFERENCE_NEEDED = frozenset({"fee", "adjustment"})
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_UNIX = re.compile(r"\d{1,11}")
_ZERO = Decimal(0)


class _Row:
    """The cells of one record and where it starts, so every error names both."""

    __slots__ = ("cells", "line", "name")

    def __init__(self, name: str, line: int, cells: list[str]) -> None:
        self.name = name
        self.line = line
        self.cells = cells

    def fail(self, column: str, message: str) -> StatementError:
        return StatementError(self.name, self.line, column, message)


def _decode(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise StatementError(name, line, "encoding",
                             f"not UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded") from None


def _check_header(name: str, header: list[str] | None) -> None:
    if header is None:
        raise StatementError(name, 1, "header", "the file is empty")
    if tuple(header) == COLUMNS:
        return
    missing = [c for c in COLUMNS if c not in header]
    extra = [c for c in header if c not in COLUMNS]
    parts = []
    if missing:
        parts.append(f"missing {', '.join(missing)}")
    if extra:
        parts.append(f"unexpected {', '.join(repr(c) for c in extra)}")
    if not parts:
        parts.append(f"columns out of order: {','.join(header)}")
    raise StatementError(name, 1, "header",
                         f"{'; '.join(parts)} (expected exactly {','.join(COLUMNS)})")


def _created(row: _Row, text: str) -> date:
    if _UNIX.fullmatch(text):
        return datetime.fromtimestamp(int(text), UTC).date()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise row.fail("created", f"{text!r} is not an ISO 8601 date-time or a unix "
                                  "timestamp") from None
    if moment.tzinfo is None:
        raise row.fail("created", f"{text!r} has no UTC offset (add Z or +hh:mm)")
    return moment.astimezone(UTC).date()


def _available_on(row: _Row, text: str) -> date:
    try:
        if _ISO_DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise row.fail("available_on", f"{text!r} is not an ISO date (YYYY-MM-DD)")


def _amount(row: _Row, column: str, text: str, digits: int) -> Decimal:
    try:
        return decimal_amount(text, digits, signed=True)
    except ValueError as exc:
        raise row.fail(column, str(exc)) from None


def _line(row: _Row, seen: dict[str, int]) -> StatementLine:
    ident, kind, amount_s, fee_s, net_s, cur_s, created_s, available_s, reference = row.cells
    if not ident:
        raise row.fail("id", "empty")
    if ident in seen:
        raise row.fail("id", f"{ident!r} already appears on line {seen[ident]}")
    seen[ident] = row.line
    if kind not in _TYPES:
        raise row.fail("type", f"{kind!r} is not one of {', '.join(PROCESSOR_TYPES)}")
    currency = cur_s.upper()
    digits = currency_digits(currency) if len(currency) == 3 else None
    if digits is None:
        raise row.fail("currency", f"{cur_s!r} is not an ISO 4217 currency code")
    amount = _amount(row, "amount", amount_s, digits)
    fee = _amount(row, "fee", fee_s, digits)
    net = _amount(row, "net", net_s, digits)
    if kind in _POSITIVE and amount <= _ZERO:
        raise row.fail("amount", f"a {kind} must be positive, got {amount_s}")
    if kind in _NEGATIVE and amount >= _ZERO:
        raise row.fail("amount", f"a {kind} must be negative, got {amount_s}")
    if fee < _ZERO:
        raise row.fail("fee", f"must not be negative, got {fee_s}")
    if net != amount - fee:
        raise row.fail("net", f"{net_s} is not amount - fee = {amount - fee}")
    if not reference and kind not in _NO_REFERENCE_NEEDED:
        raise row.fail("reference", f"empty, but a {kind} must name our id")
    return StatementLine(
        source=Source.PROCESSOR, file=row.name, line=row.line, external_id=ident, kind=kind,
        amount=amount, currency=currency, booked=_created(row, created_s),
        value_date=_available_on(row, available_s), reference=reference, fee=fee, net=net,
    )


def parse_processor_csv(name: str, data: bytes) -> ParsedFile:
    """Reads the whole report or raises StatementError at the first bad cell."""
    reader = csv.reader(io.StringIO(_decode(name, data), newline=""), strict=True)
    width = len(COLUMNS)
    seen: dict[str, int] = {}
    lines: list[StatementLine] = []
    start = 1
    try:
        _check_header(name, next(reader, None))
        start = reader.line_num + 1
        for cells in reader:
            row = _Row(name, start, cells)
            start = reader.line_num + 1
            if len(cells) != width:
                raise row.fail("columns", f"{len(cells)} columns, expected {width}")
            lines.append(_line(row, seen))
    except csv.Error as exc:
        raise StatementError(name, reader.line_num or start, "csv", str(exc)) from None
    return ParsedFile(format=FileFormat.PROCESSOR_CSV, name=name, sha256=sha256_of(data),
                      lines=tuple(lines))


def _format(value: Decimal, digits: int, what: str, line: StatementLine) -> str:
    quantum = Decimal(1).scaleb(-digits)
    exact = value.quantize(quantum)
    if exact != value:
        raise ValueError(f"{line.external_id}: {what} {value} has more than {digits} decimals")
    return f"{exact:f}"


def _created_text(line: StatementLine, created_at: Mapping[str, datetime]) -> str:
    moment = created_at.get(line.external_id)
    if moment is None:
        return f"{line.booked.isoformat()}T00:00:00Z"
    if moment.tzinfo is None or moment.astimezone(UTC).date() != line.booked:
        raise ValueError(f"{line.external_id}: created {moment} is not an aware time on "
                         f"{line.booked} UTC")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def write_processor_csv(lines: Iterable[StatementLine], *,
                        created_at: Mapping[str, datetime] | None = None) -> bytes:
    """The report as the processor would send it (currency lower-case, like Stripe).

    A line keeps only the date it was created, so ``created`` is midnight UTC of
    ``booked`` unless ``created_at`` gives the moment (by ``external_id``);
    ``available_on`` is ``value_date``, which must be set. A line the parser
    would refuse raises ValueError here instead of producing a bad file.
    """
    times = created_at or {}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for line in lines:
        digits = currency_digits(line.currency)
        if digits is None:
            raise ValueError(f"{line.external_id}: unknown currency {line.currency!r}")
        if line.kind not in _TYPES:
            raise ValueError(f"{line.external_id}: {line.kind!r} is not a processor type")
        if line.value_date is None:
            raise ValueError(f"{line.external_id}: value_date (available_on) is required")
        net = line.amount - line.fee if line.net is None else line.net
        if net != line.amount - line.fee:
            raise ValueError(f"{line.external_id}: net {net} is not amount - fee")
        writer.writerow((
            line.external_id, line.kind,
            _format(line.amount, digits, "amount", line),
            _format(line.fee, digits, "fee", line),
            _format(net, digits, "net", line),
            line.currency.lower(),
            _created_text(line, times),
            line.value_date.isoformat(),
            line.reference,
        ))
    return out.getvalue().encode("utf-8")
