"""BAI2 bank statements (the trust account's daily file), read with the ``bai2`` package.

Why the package is driven one record at a time: its whole-file parser raises
errors that name neither a line nor a field, and it accepts amounts such as
``1_000`` or `` 5`` (Python's ``int``). So this module splits the file into
records itself (remembering each record's first physical line), checks the
structure (01, 02, 03, 16..., 49, 98, 99), every count and control total and
every field it reads with the line and the field named, and only then hands
each record to the package's record parser (continuations, availability, type
code table). The package's own integrity checks are replaced by ours, which do
the same sums and also say where.

Amounts in BAI2 are integers in the currency's minor unit ("50000" is 500.00
USD); they are converted with ``scaleb``, never through a float.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from datetime import date, time
from decimal import Decimal
from typing import Any

from bai2 import models, parsers
from bai2.constants import (
    AsOfDateModifier,
    FundsType,
    GroupStatus,
    TypeCodeLevel,
    TypeCodes,
    TypeCodeTransaction,
)
from bai2.exceptions import IntegrityException, NotSupportedYetException, ParsingException
from bai2.helpers import IteratorHelper
from bai2.utils import parse_date, parse_time
from bai2.writers import Bai2FileWriter

from reconciliation.model import (
    AccountBalance,
    FileFormat,
    ParsedFile,
    Source,
    StatementError,
    StatementLine,
)
from reconciliation.statements import currency_digits, sha256_of

__all__ = ["parse_bai2", "write_bai2", "write_bai2_days"]

BankDay = tuple[str, str, date, Decimal, Sequence[StatementLine]]
"""(account, currency, day, opening ledger balance, lines): one group of a written file."""

_CODES = frozenset({"01", "02", "03", "16", "49", "88", "98", "99"})
_NEXT = {  # state -> {record code: new state}
    "start": {"01": "file"},
    "file": {"02": "group"},
    "group": {"03": "account"},
    "account": {"16": "account", "49": "account_done"},
    "account_done": {"03": "account", "98": "group_done"},
    "group_done": {"02": "group", "99": "end"},
    "end": {},
}
_MISSING_AT_END = {
    "start": "an 01 file header", "file": "an 02 group header",
    "group": "an 03 account identifier", "account": "the 49 account trailer",
    "account_done": "the 98 group trailer", "group_done": "the 99 file trailer",
}
_UNSIGNED = re.compile(r"\d{1,18}")
_SIGNED = re.compile(r"[+-]?\d{1,18}")
_YYMMDD = re.compile(r"\d{6}")
_FUNDS = frozenset(ft.value for ft in FundsType) | {""}
_STATUSES = frozenset(s.value for s in GroupStatus)
_MODIFIERS = frozenset(m.value for m in AsOfDateModifier) | {""}
_BAI2_ERRORS = (ValueError, IndexError, KeyError, TypeError, ParsingException,
                NotSupportedYetException, IntegrityException)
_OPENING, _CLOSING = "010", "015"


class _Record:
    """One logical record: its code, first physical line and rows (with 88 continuations)."""

    __slots__ = ("code", "line", "rows")

    def __init__(self, code: str, line: int, row: str) -> None:
        self.code = code
        self.line = line
        self.rows = [row]


class _Section:
    """A file, group or account being read: what its trailer must state."""

    __slots__ = ("children", "line", "records", "total")

    def __init__(self, line: int) -> None:
        self.line = line
        self.records = 0
        self.total = 0
        self.children = 0


def _records(name: str, data: bytes) -> list[_Record]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise StatementError(name, line, "encoding", "not ASCII/UTF-8 text") from None
    records: list[_Record] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        row = raw.strip()
        if not row:
            continue
        code = row[:2]
        if code not in _CODES or row[2:3] != ",":
            raise StatementError(name, number, "record",
                                 f"{row[:3]!r} is not a BAI2 record code followed by a comma")
        if code == "88":
            if not records:
                raise StatementError(name, number, "record", "a continuation with no record")
            records[-1].rows.append(row)
        else:
            records.append(_Record(code, number, row))
    return records


class _Reader:
    """Walks the records once, checking structure and totals, collecting lines and balances."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.state = "start"
        self.file = _Section(1)
        self.group = _Section(1)
        self.account = _Section(1)
        self.day = date.min
        self.group_currency = "USD"
        self.currency = "USD"
        self.digits = 2
        self.number = ""
        self.opening: int | None = None
        self.closing: int | None = None
        self.lines: list[StatementLine] = []
        self.balances: list[AccountBalance] = []
        self.accounts: dict[str, None] = {}
        self.bank_refs: dict[str, int] = {}

    def fail(self, rec: _Record, field: str, message: str) -> StatementError:
        return StatementError(self.name, rec.line, field, message)

    def read(self, rec: _Record) -> None:
        state = _NEXT[self.state].get(rec.code)
        if state is None:
            wanted = " or ".join(_NEXT[self.state]) or "nothing after the 99 file trailer"
            raise self.fail(rec, "record", f"a {rec.code} record here is out of order "
                                           f"(expected {wanted})")
        self.state = state
        size = len(rec.rows)
        self.file.records += size
        self.group.records += size
        self.account.records += size
        helper = IteratorHelper(rec.rows)
        fields: list[str] = helper.current_record.fields
        getattr(self, f"_r{rec.code}")(rec, helper, fields)

    def finish(self, last_line: int) -> None:
        if self.state != "end":
            raise StatementError(self.name, last_line, "record",
                                 f"the file ends without {_MISSING_AT_END[self.state]} "
                                 "(truncated?)")

    def _parse(self, rec: _Record, parser: Any, helper: Any, field: str) -> Any:
        try:
            return parser(helper, check_integrity=False).parse()
        except _BAI2_ERRORS as exc:
            raise self.fail(rec, field, f"unreadable: {exc}") from None

    def _need(self, rec: _Record, fields: list[str], count: int) -> None:
        if len(fields) < count:
            raise self.fail(rec, "record", f"{len(fields)} fields, expected at least {count}")

    def _int(self, rec: _Record, field: str, text: str, *, signed: bool = False) -> int:
        if not (_SIGNED if signed else _UNSIGNED).fullmatch(text):
            hint = " (BAI2 amounts are minor units, no decimal point)" if "." in text else ""
            raise self.fail(rec, field, f"{text!r} is not a whole number{hint}")
        return int(text)

    def _date(self, rec: _Record, field: str, text: str) -> date:
        try:
            if _YYMMDD.fullmatch(text):
                return parse_date(text)  # type: ignore[no-any-return]
        except ValueError:
            pass
        raise self.fail(rec, field, f"{text!r} is not a YYMMDD date")

    def _currency(self, rec: _Record, text: str) -> int:
        digits = currency_digits(text)
        if digits is None:
            raise self.fail(rec, "currency", f"{text!r} is not an ISO 4217 currency code")
        return digits

    def _r01(self, rec: _Record, helper: Any, fields: list[str]) -> None:
        self._need(rec, fields, 8)
        self._date(rec, "creation_date", fields[2])
        if fields[7] != "2":
            raise self.fail(rec, "version_number", f"{fields[7]!r}: only BAI version 2 is read")
        self._parse(rec, parsers.Bai2FileHeaderParser, helper, "record")

    def _r02(self, rec: _Record, helper: Any, fields: list[str]) -> None:
        self._need(rec, fields, 7)
        self.group = _Section(rec.line)
        self.group.records = len(rec.rows)
        self.file.children += 1
        if fields[2] not in _STATUSES:
            raise self.fail(rec, "group_status", f"{fields[2]!r} is not 1, 2, 3 or 4")
        self.day = self._date(rec, "as_of_date", fields[3])
        if fields[4]:
            try:
                parse_time(fields[4])
            except ValueError:
                raise self.fail(rec, "as_of_time", f"{fields[4]!r} is not HHMM") from None
        if fields[6] not in _MODIFIERS:
            raise self.fail(rec, "as_of_date_modifier", f"{fields[6]!r} is not 1 to 4")
        self.group_currency = fields[5] or "USD"
        self._currency(rec, self.group_currency)
        self._parse(rec, parsers.GroupHeaderParser, helper, "record")

    def _r03(self, rec: _Record, helper: Any, fields: list[str]) -> None:
        self._need(rec, fields, 2)
        self.account = _Section(rec.line)
        self.account.records = len(rec.rows)
        self.group.children += 1
        self.number = fields[0]
        if not self.number:
            raise self.fail(rec, "customer_account_number", "empty")
        self.currency = fields[1] or self.group_currency
        self.digits = self._currency(rec, self.currency)
        self._check_summaries(rec, fields[2:])
        ident = self._parse(rec, parsers.AccountIdentifierParser, helper, "availability")
        self.opening = self.closing = None
        for summary in ident.summary_items:
            amount = summary.amount or 0
            self.account.total += amount
            if summary.type_code.code == _OPENING and summary.amount is not None:
                self.opening = amount
            elif summary.type_code.code == _CLOSING and summary.amount is not None:
                self.closing = amount
        self.accounts.setdefault(self.number, None)

    def _check_summaries(self, rec: _Record, rest: list[str]) -> None:
        """Type code, amount, item count and funds type of each summary, as bai2 walks them."""
        i = 0
        while i < len(rest) and not (i == len(rest) - 1 and not rest[i]):
            if len(rest) - i < 4:
                raise self.fail(rec, "record", "an incomplete summary (type, amount, count, "
                                               "funds type)")
            code, amount, count, funds = rest[i:i + 4]
            type_code = TypeCodes.get(code)
            if type_code is None or type_code.level is TypeCodeLevel.detail:
                raise self.fail(rec, "type_code", f"{code!r} is not a BAI2 status or summary "
                                                  "type code")
            if amount:
                self._int(rec, "amount", amount, signed=True)
            if count:
                self._int(rec, "item_count", count)
            if funds not in _FUNDS:
                raise self.fail(rec, "funds_type", f"{funds!r} is not a BAI2 funds type")
            i += 4
            if funds == "S":
                i += 3
            elif funds == "V":
                i += 2
            elif funds == "D":
                i += 1 + 2 * self._int(rec, "availability", rest[i] if i < len(rest) else "")

    def _r16(self, rec: _Record, helper: Any, fields: list[str]) -> None:
        self._need(rec, fields, 3)
        type_code = TypeCodes.get(fields[0])
        if type_code is None or type_code.level is not TypeCodeLevel.detail:
            raise self.fail(rec, "type_code", f"{fields[0]!r} is not a BAI2 detail type code")
        direction = type_code.transaction
        monetary = direction in (TypeCodeTransaction.credit, TypeCodeTransaction.debit)
        if fields[1] or monetary:
            self.account.total += self._int(rec, "amount", fields[1])
        if fields[2] not in _FUNDS:
            raise self.fail(rec, "funds_type", f"{fields[2]!r} is not a BAI2 funds type")
        detail = self._parse(rec, parsers.TransactionDetailParser, helper, "availability")
        if not monetary:
            return  # 890 "non-monetary information" and float notices move no money
        bank_ref = detail.bank_reference or ""
        if bank_ref in self.bank_refs:
            raise self.fail(rec, "bank_reference",
                            f"{bank_ref!r} already appears on line {self.bank_refs[bank_ref]}")
        if bank_ref:
            self.bank_refs[bank_ref] = rec.line
        credit = direction is TypeCodeTransaction.credit
        amount = Decimal(detail.amount).scaleb(-self.digits)
        value_date = None
        if detail.funds_type is FundsType.value_dated:
            value_date = detail.availability.get("date")
        self.lines.append(StatementLine(
            source=Source.BANK, file=self.name, line=rec.line,
            external_id=bank_ref or f"{self.name}:{rec.line}",
            kind="credit" if credit else "debit", amount=amount if credit else -amount,
            currency=self.currency, booked=self.day, value_date=value_date,
            reference=detail.customer_reference or detail.text or "", account=self.number,
        ))

    def _trailer(self, rec: _Record, fields: list[str], section: _Section,
                 names: tuple[str, ...], total: int, children: int | None) -> int:
        self._need(rec, fields, len(names))
        stated = [self._int(rec, field, text, signed=(k == 0))
                  for k, (field, text) in enumerate(zip(names, fields, strict=False))]
        if stated[0] != total:
            raise self.fail(rec, names[0], f"states {stated[0]}, the records sum to {total}")
        if children is not None and stated[1] != children:
            raise self.fail(rec, names[1], f"states {stated[1]}, found {children}")
        if stated[-1] != section.records:
            raise self.fail(rec, "number_of_records",
                            f"states {stated[-1]}, found {section.records} (from line "
                            f"{section.line})")
        return stated[0]

    def _r49(self, rec: _Record, helper: Any, fields: list[str]) -> None:
        names = ("account_control_total", "number_of_records")
        total = self._trailer(rec, fields, self.account, names, self.account.total, None)
        self.group.total += total
        if self.closing is not None:
            self.balances.append(AccountBalance(
                account=self.number, currency=self.currency, day=self.day,
                opening=None if self.opening is None
                else Decimal(self.opening).scaleb(-self.digits),
                closing=Decimal(self.closing).scaleb(-self.digits),
            ))

    def _r98(self, rec: _Record, helper: Any, fields: list[str]) -> None:
        names = ("group_control_total", "number_of_accounts", "number_of_records")
        self.file.total += self._trailer(rec, fields, self.group, names, self.group.total,
                                         self.group.children)

    def _r99(self, rec: _Record, helper: Any, fields: list[str]) -> None:
        names = ("file_control_total", "number_of_groups", "number_of_records")
        self._trailer(rec, fields, self.file, names, self.file.total, self.file.children)


def parse_bai2(name: str, data: bytes) -> ParsedFile:
    """Reads the whole file or raises StatementError at the first bad record."""
    records = _records(name, data)
    reader = _Reader(name)
    for rec in records:
        reader.read(rec)
    reader.finish(records[-1].line + len(records[-1].rows) - 1 if records else 1)
    return ParsedFile(
        format=FileFormat.BAI2, name=name, sha256=sha256_of(data), lines=tuple(reader.lines),
        balances=tuple(reader.balances), accounts=tuple(reader.accounts),
    )


def _cents(amount: Decimal, digits: int, what: str) -> int:
    scaled = amount.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{what} {amount} is finer than the currency's minor unit")
    return int(scaled)


def _plain(text: str, what: str) -> str:
    if "," in text or "/" in text or "\n" in text:
        raise ValueError(f"{what} {text!r} cannot hold ',', '/' or a newline in BAI2")
    return text


def _account(account: str, currency: str, opening: Decimal,
             lines: Sequence[StatementLine]) -> Any:
    digits = currency_digits(currency)
    if digits is None:
        raise ValueError(f"unknown currency {currency!r}")
    open_cents = _cents(opening, digits, "opening balance")
    details = []
    moved = 0
    for line in lines:
        if line.currency != currency:
            raise ValueError(f"{line.external_id}: {line.currency} on a {currency} account")
        cents = _cents(line.amount, digits, line.external_id)
        moved += cents
        debit = cents < 0 or (cents == 0 and line.kind == "debit")
        availability: OrderedDict[str, date | time | None] = OrderedDict()
        if line.value_date is not None:
            availability["date"] = line.value_date
            availability["time"] = None
        details.append(models.TransactionDetail(
            type_code=TypeCodes["495" if debit else "195"], amount=abs(cents),
            funds_type=FundsType.value_dated if availability
            else FundsType.immediate_availability,
            availability=availability,
            bank_reference=_plain(line.external_id, "bank reference"),
            customer_reference=_plain(line.reference, "reference"), text=None,
        ))
    summaries = [models.Summary(type_code=TypeCodes[_OPENING], amount=open_cents),
                 models.Summary(type_code=TypeCodes[_CLOSING], amount=open_cents + moved)]
    header = models.AccountIdentifier(customer_account_number=_plain(account, "account"),
                               currency=currency, summary_items=summaries)
    return models.Account(header=header, children=details)


def write_bai2_days(days: Sequence[BankDay], *, sender: str = "ESCROWBANK",
                    receiver: str = "ESCROWLEDGER") -> bytes:
    """One file, one group per (account, currency, day, opening, lines), in the order given.

    Each group holds one account with its opening (010) and closing (015) ledger
    balances, the closing being opening plus the lines; credits are written as
    type 195 and debits as 495, value-dated (funds type V) when a line has a
    value date. Counts and control totals are the package's writer's.
    """
    if not days:
        raise ValueError("a BAI2 file needs at least one day")
    groups = []
    for account, currency, day, opening, lines in days:
        header = models.GroupHeader(
            ultimate_receiver_id=receiver, originator_id=sender,
            group_status=GroupStatus.update, as_of_date=day, as_of_time=time.max,
            currency=currency, as_of_date_modifier=AsOfDateModifier.final_previous_day,
        )
        groups.append(models.Group(header=header,
                            children=[_account(account, currency, opening, lines)]))
    last = max(day for _, _, day, _, _ in days)
    file_header = models.Bai2FileHeader(sender_id=sender, receiver_id=receiver, creation_date=last,
                                 creation_time=time(23, 59), file_id=f"{last:%Y%m%d}",
                                 version_number=2)
    rows: list[str] = Bai2FileWriter(models.Bai2File(header=file_header, children=groups)).write()
    return ("\n".join(rows) + "\n").encode("ascii")


def write_bai2(account: str, currency: str, day: date, opening: Decimal,
               lines: Sequence[StatementLine], *, sender: str = "ESCROWBANK",
               receiver: str = "ESCROWLEDGER") -> bytes:
    """A one-day, one-account BAI2 file (see ``write_bai2_days``)."""
    return write_bai2_days([(account, currency, day, opening, lines)], sender=sender,
                           receiver=receiver)
