"""Outside files in, one vocabulary out: the processor report, BAI2 and camt.053.

Why one entry point: an operator uploads a file without saying what it is, and
the import must either read it completely or refuse it with the line and the
field to look at -- never record half a file. ``parse_file`` recognises the
format from the first bytes and hands it to the one parser for it.

The helpers here are shared by the three parsers so that an amount or a
currency is judged the same way whichever file it came from. The parser
modules are imported inside ``parse_file`` (not at module level) because they
import these helpers from this package.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from functools import lru_cache

from domain.errors import UnknownCurrency
from domain.money import CONNECTS, MAXIMUM_MAGNITUDE, currency_of, minor_unit_exponent
from reconciliation.model import FileFormat, ParsedFile, StatementError

__all__ = [
    "currency_digits",
    "decimal_amount",
    "detect_format",
    "parse_file",
    "sha256_of",
]

_BOM = b"\xef\xbb\xbf"
_SIGNED = re.compile(r"-?(\d{1,16})(?:\.(\d+))?")
_UNSIGNED = re.compile(r"(\d{1,16})(?:\.(\d+))?")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@lru_cache(maxsize=64)
def currency_digits(code: str) -> int | None:
    """The minor-unit digits of an upper-case ISO 4217 code, or None when unknown.

    Connects are ours, not a currency any outside file may carry, so they count
    as unknown here.
    """
    if code == CONNECTS:
        return None
    try:
        return minor_unit_exponent(currency_of(code))
    except UnknownCurrency:
        return None


def decimal_amount(text: str, digits: int, *, signed: bool) -> Decimal:
    """An exact amount from a plain decimal string, or ValueError saying what is wrong.

    Only ``[-]digits[.digits]`` is read: exponents, NaN, Infinity, thousands
    separators and blanks are refused rather than interpreted, and more decimals
    than the currency has is an error, never a rounding.
    """
    match = (_SIGNED if signed else _UNSIGNED).fullmatch(text)
    if match is None:
        shape = "[-]digits[.digits]" if signed else "digits[.digits]"
        raise ValueError(f"{text!r} is not a plain decimal amount ({shape})")
    fraction = match.group(2)
    if fraction is not None and len(fraction) > digits:
        raise ValueError(f"{text!r} has more than {digits} decimal places")
    value = Decimal(text)
    if abs(value) >= MAXIMUM_MAGNITUDE:
        raise ValueError(f"{text!r} is not below {MAXIMUM_MAGNITUDE:,}")
    return value


def detect_format(data: bytes) -> FileFormat | None:
    """The format a file's first bytes announce, or None."""
    head = data[len(_BOM):] if data.startswith(_BOM) else data
    if head.startswith(b"id,type,"):
        return FileFormat.PROCESSOR_CSV
    if head.startswith(b"01,"):
        return FileFormat.BAI2
    if head.lstrip().startswith(b"<") and b"BkToCstmrStmt" in head:
        return FileFormat.CAMT053
    return None


def parse_file(name: str, data: bytes) -> ParsedFile:
    """Reads a whole statement file or raises StatementError (file, line, field)."""
    from reconciliation.statements.bai2_statement import parse_bai2
    from reconciliation.statements.camt053 import parse_camt053
    from reconciliation.statements.processor_csv import parse_processor_csv

    kind = detect_format(data)
    if kind is FileFormat.PROCESSOR_CSV:
        return parse_processor_csv(name, data)
    if kind is FileFormat.BAI2:
        return parse_bai2(name, data)
    if kind is FileFormat.CAMT053:
        return parse_camt053(name, data)
    raise StatementError(
        name, 1, "format",
        "not a processor report (header 'id,type,...'), a BAI2 file (record '01,') "
        "or a camt.053 statement (XML with BkToCstmrStmt)",
    )
