"""ISO 20022 camt.053 bank-to-customer statements (the operating account), safely.

Why a hand-made tree: a statement is read with defusedxml's expat parser
(DTDs, entity declarations and external references all refused, so a billion
laughs or an external entity never expands) into small nodes that remember the
line each element starts on, because a refusal must name the line. Elements
are matched on their local names, so camt.053.001.02 and .001.08 (and the
versions between, which share these elements) read the same way.

What is read, per ``Stmt``: the account (``Acct/Id/IBAN`` or
``Acct/Id/Othr/Id``), its currency (``Acct/Ccy``, else the first amount's
``Ccy``), the OPBD/CLBD balances and every ``Ntry``. Amounts are unsigned in
the file; ``CdtDbtInd`` gives the sign.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import ParseError
from xml.sax.saxutils import escape, quoteattr

from defusedxml.common import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from reconciliation.model import (
    AccountBalance,
    FileFormat,
    ParsedFile,
    Source,
    StatementError,
    StatementLine,
)
from reconciliation.statements import currency_digits, decimal_amount, sha256_of

__all__ = ["NAMESPACE", "BankStatement", "parse_camt053", "write_camt053"]

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
BankStatement = tuple[str, str, date, Decimal, Sequence[StatementLine]]
"""(account, currency, day, opening booked balance, lines): one ``Stmt`` of a written file."""

_ACCEPTED_NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001."
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")
_SIGNS = {"CRDT": 1, "DBIT": -1}


class _Node:
    """An element: local name, attributes, text and the line its start tag is on."""

    __slots__ = ("attrib", "children", "line", "name", "parts")

    def __init__(self, name: str, attrib: dict[str, str], line: int) -> None:
        self.name = name
        self.attrib = attrib
        self.line = line
        self.children: list[_Node] = []
        self.parts: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self.parts).strip()

    def child(self, *path: str) -> _Node | None:
        node: _Node | None = self
        for name in path:
            node = next((c for c in node.children if c.name == name), None) if node else None
        return node

    def all(self, name: str) -> list[_Node]:
        return [c for c in self.children if c.name == name]


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


class _Builder:
    """The parser's target: builds ``_Node``s, reading the line from expat as each starts."""

    def __init__(self) -> None:
        self.expat: Any = None
        self.root: _Node | None = None
        self.namespace = ""
        self.stack: list[_Node] = []

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        node = _Node(_local(tag), {_local(k): v for k, v in attrib.items()},
                     self.expat.CurrentLineNumber)
        if self.stack:
            self.stack[-1].children.append(node)
        else:
            self.root = node
            self.namespace = tag[1:].partition("}")[0] if tag.startswith("{") else ""
        self.stack.append(node)

    def end(self, tag: str) -> None:
        self.stack.pop()

    def data(self, text: str) -> None:
        if self.stack:
            self.stack[-1].parts.append(text)

    def close(self) -> _Node | None:
        return self.root


def _tree(name: str, data: bytes) -> _Node:
    builder = _Builder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True, forbid_entities=True,
                              forbid_external=True)
    builder.expat = parser.parser
    try:
        parser.feed(data)
        root: _Node | None = parser.close()
    except DefusedXmlException as exc:
        line = int(parser.parser.CurrentLineNumber) or 1
        raise StatementError(name, line, "xml", f"refused, DTDs and entities are not "
                                                f"allowed: {exc}") from None
    except ParseError as exc:
        raise StatementError(name, exc.position[0] or 1, "xml", f"not well-formed: {exc}") \
            from None
    if root is None or root.name != "Document":
        raise StatementError(name, 1, "xml", "the root element is not Document")
    if builder.namespace and not builder.namespace.startswith(_ACCEPTED_NS):
        raise StatementError(name, root.line, "xml",
                             f"namespace {builder.namespace!r} is not camt.053.001.*")
    return root


class _Reader:
    """Turns the node tree into lines and balances, naming the element of any refusal."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[StatementLine] = []
        self.balances: list[AccountBalance] = []
        self.accounts: dict[str, None] = {}
        self.ids: dict[str, int] = {}

    def fail(self, node: _Node, field: str, message: str) -> StatementError:
        return StatementError(self.name, node.line, field, message)

    def need(self, parent: _Node, field: str, *path: str) -> _Node:
        node = parent.child(*path)
        if node is None:
            raise self.fail(parent, field, f"missing {'/'.join(path)} in {parent.name}")
        return node

    def day(self, parent: _Node, field: str, *, required: bool) -> date | None:
        holder = parent.child(field)
        if holder is None:
            if required:
                raise self.fail(parent, f"{parent.name}/{field}", "missing")
            return None
        node = holder.child("Dt") or holder.child("DtTm")
        text = node.text if node else ""
        try:
            if node is not None and node.name == "Dt" and _ISO_DATE.fullmatch(text):
                return date.fromisoformat(text)
            if node is not None and node.name == "DtTm":
                return datetime.fromisoformat(text).date()
        except ValueError:
            pass
        raise self.fail(node or holder, f"{parent.name}/{field}",
                        f"{text!r} is not an ISO date (Dt) or date-time (DtTm)")

    def amount(self, parent: _Node, currency: str, digits: int) -> tuple[Decimal, bool]:
        """The ``Amt`` of a Bal or Ntry signed by its ``CdtDbtInd``, and whether a credit."""
        amt = self.need(parent, f"{parent.name}/Amt", "Amt")
        ccy = amt.attrib.get("Ccy", "")
        if ccy != currency:
            raise self.fail(amt, f"{parent.name}/Amt/@Ccy",
                            f"{ccy!r} is not the statement's currency {currency}")
        try:
            value = decimal_amount(amt.text, digits, signed=False)
        except ValueError as exc:
            raise self.fail(amt, f"{parent.name}/Amt", str(exc)) from None
        indicator = self.need(parent, f"{parent.name}/CdtDbtInd", "CdtDbtInd")
        sign = _SIGNS.get(indicator.text)
        if sign is None:
            raise self.fail(indicator, f"{parent.name}/CdtDbtInd",
                            f"{indicator.text!r} is neither CRDT nor DBIT")
        return (value, True) if sign > 0 else (-value, False)

    def statement(self, stmt: _Node) -> None:
        acct = self.need(stmt, "Stmt/Acct", "Acct")
        ident = acct.child("Id", "IBAN") or acct.child("Id", "Othr", "Id")
        if ident is None or not ident.text:
            raise self.fail(ident or acct, "Acct/Id", "neither Id/IBAN nor Id/Othr/Id given")
        account = ident.text
        ccy = acct.child("Ccy")
        first_amount = next((n.child("Amt") for n in stmt.all("Bal") + stmt.all("Ntry")
                             if n.child("Amt") is not None), None)
        where = ccy or first_amount or acct
        currency = ccy.text if ccy else (first_amount.attrib.get("Ccy", "") if first_amount
                                         else "")
        digits = currency_digits(currency)
        if digits is None:
            raise self.fail(where, "Acct/Ccy", f"{currency!r} is not an ISO 4217 currency")
        self.accounts.setdefault(account, None)
        self.read_balances(stmt, account, currency, digits)
        for entry in stmt.all("Ntry"):
            self.entry(entry, account, currency, digits)

    def read_balances(self, stmt: _Node, account: str, currency: str, digits: int) -> None:
        opening: dict[date, Decimal] = {}
        closing: dict[date, Decimal] = {}
        for bal in stmt.all("Bal"):
            code_node = self.need(bal, "Bal/Tp", "Tp").child("CdOrPrtry", "Cd")
            code = code_node.text if code_node else ""  # a proprietary type is not read
            if code in ("OPBD", "CLBD"):
                day = self.day(bal, "Dt", required=True)
                assert day is not None
                (opening if code == "OPBD" else closing)[day] = \
                    self.amount(bal, currency, digits)[0]
        self.balances.extend(
            AccountBalance(account=account, currency=currency, day=day,
                           opening=opening.get(day), closing=amount)
            for day, amount in closing.items())

    def entry(self, ntry: _Node, account: str, currency: str, digits: int) -> None:
        amount, credit = self.amount(ntry, currency, digits)
        booked = self.day(ntry, "BookgDt", required=True)
        assert booked is not None
        ref_node = ntry.child("AcctSvcrRef") or ntry.child("NtryRef")
        external_id = ref_node.text if ref_node and ref_node.text else \
            f"{self.name}:{ntry.line}"
        if external_id in self.ids:
            raise self.fail(ref_node or ntry, f"Ntry/{ref_node.name if ref_node else 'Ntry'}",
                            f"{external_id!r} already appears on line {self.ids[external_id]}")
        self.ids[external_id] = ntry.line
        self.lines.append(StatementLine(
            source=Source.BANK, file=self.name, line=ntry.line, external_id=external_id,
            kind="credit" if credit else "debit",
            amount=amount, currency=currency, booked=booked,
            value_date=self.day(ntry, "ValDt", required=False),
            reference=_reference(ntry), account=account,
        ))


def _reference(ntry: _Node) -> str:
    tx = ntry.child("NtryDtls", "TxDtls")
    if tx is None:
        return ""
    ustrd = tx.child("RmtInf", "Ustrd")
    if ustrd is not None and ustrd.text:
        return ustrd.text
    e2e = tx.child("Refs", "EndToEndId")
    if e2e is not None and e2e.text != "NOTPROVIDED":
        return e2e.text
    return ""


def parse_camt053(name: str, data: bytes) -> ParsedFile:
    """Reads every statement of the file or raises StatementError at the first problem."""
    root = _tree(name, data)
    body = root.child("BkToCstmrStmt")
    if body is None:
        raise StatementError(name, root.line, "BkToCstmrStmt", "missing under Document")
    statements = body.all("Stmt")
    if not statements:
        raise StatementError(name, body.line, "Stmt", "the file holds no statement")
    reader = _Reader(name)
    for stmt in statements:
        reader.statement(stmt)
    return ParsedFile(
        format=FileFormat.CAMT053, name=name, sha256=sha256_of(data),
        lines=tuple(reader.lines), balances=tuple(reader.balances),
        accounts=tuple(reader.accounts),
    )


def _amt(value: Decimal, currency: str, digits: int) -> str:
    exact = abs(value).quantize(Decimal(1).scaleb(-digits))
    if exact != abs(value):
        raise ValueError(f"{value} has more than {digits} decimals for {currency}")
    return f"<Amt Ccy={quoteattr(currency)}>{exact:f}</Amt>" \
           f"<CdtDbtInd>{'DBIT' if value < 0 else 'CRDT'}</CdtDbtInd>"


def _balance(code: str, value: Decimal, currency: str, digits: int, day: date) -> str:
    return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
            f"{_amt(value, currency, digits)}<Dt><Dt>{day.isoformat()}</Dt></Dt></Bal>")


def _entry(line: StatementLine, currency: str, digits: int) -> str:
    if line.currency != currency:
        raise ValueError(f"{line.external_id}: {line.currency} on a {currency} statement")
    amount = _amt(line.amount, currency, digits)
    if line.amount == 0 and line.kind == "debit":
        amount = amount.replace("CRDT", "DBIT")
    parts = [f"<Ntry>{amount}<Sts><Cd>BOOK</Cd></Sts>",
             f"<BookgDt><Dt>{line.booked.isoformat()}</Dt></BookgDt>"]
    if line.value_date is not None:
        parts.append(f"<ValDt><Dt>{line.value_date.isoformat()}</Dt></ValDt>")
    parts.append(f"<AcctSvcrRef>{escape(line.external_id)}</AcctSvcrRef>"
                 "<BkTxCd><Prtry><Cd>NTRF</Cd></Prtry></BkTxCd>")
    if line.reference:
        parts.append(f"<NtryDtls><TxDtls><RmtInf><Ustrd>{escape(line.reference)}</Ustrd>"
                     "</RmtInf></TxDtls></NtryDtls>")
    parts.append("</Ntry>")
    return "".join(parts)


def _statement(number: int, statement: BankStatement) -> str:
    account, currency, day, opening, lines = statement
    digits = currency_digits(currency)
    if digits is None:
        raise ValueError(f"unknown currency {currency!r}")
    ident = (f"<IBAN>{account}</IBAN>" if _IBAN.fullmatch(account)
             else f"<Othr><Id>{escape(account)}</Id></Othr>")
    closing = opening + sum((line.amount for line in lines), Decimal(0))
    return "\n".join([
        f"<Stmt><Id>{escape(account)}-{day:%Y%m%d}</Id><ElctrncSeqNb>{number}</ElctrncSeqNb>"
        f"<CreDtTm>{day.isoformat()}T23:59:00+00:00</CreDtTm>",
        f"<Acct><Id>{ident}</Id><Ccy>{currency}</Ccy></Acct>",
        _balance("OPBD", opening, currency, digits, day),
        _balance("CLBD", closing, currency, digits, day),
        *(_entry(line, currency, digits) for line in lines),
        "</Stmt>",
    ])


def write_camt053(statements: Sequence[BankStatement], *,
                  message_id: str = "ESCROWBANK") -> bytes:
    """A camt.053.001.08 file, one ``Stmt`` per tuple with OPBD and CLBD computed.

    The closing booked balance is the opening plus the lines. Each ``Stmt``,
    balance and entry starts on a line of its own, so refusals point somewhere
    readable. Entry ids go to ``AcctSvcrRef``, references to ``RmtInf/Ustrd``.
    """
    if not statements:
        raise ValueError("a camt.053 file needs at least one statement")
    last = max(day for _, _, day, _, _ in statements)
    body = "\n".join(_statement(n, s) for n, s in enumerate(statements, start=1))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Document xmlns="{NAMESPACE}">\n<BkToCstmrStmt>\n'
        f"<GrpHdr><MsgId>{escape(message_id)}-{last:%Y%m%d}</MsgId>"
        f"<CreDtTm>{last.isoformat()}T23:59:00+00:00</CreDtTm></GrpHdr>\n"
        f"{body}\n</BkToCstmrStmt>\n</Document>\n"
    ).encode()
