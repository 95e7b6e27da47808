"""What a caller may type: text without control characters, and times the ledger can hold.

Why here, apart from the bodies: every request model uses them, and each is a
rule about hostile input more than about a resource. A NUL cannot be stored in
PostgreSQL text, an escape sequence rewrites the terminal of whoever reads the
audit trail, a bidirectional override makes a title read backwards; and a time
near 9999-12-31 overflows as soon as the ledger adds a deadline to it. Each is
refused (422), never cleaned.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field

_BIDI_CONTROLS = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
SINGLE_LINE = rf"^[^\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI_CONTROLS}]*$"
"""No control characters (C0, DEL, C1), line separators or bidirectional overrides."""
MULTI_LINE = rf"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI_CONTROLS}]*$"
"""As ``SINGLE_LINE`` but tab, line feed and carriage return are allowed."""
_SINGLE_LINE = re.compile(SINGLE_LINE)
_MULTI_LINE = re.compile(MULTI_LINE)


def _single_line(value: Any) -> Any:
    if isinstance(value, str) and not _SINGLE_LINE.fullmatch(value):
        raise ValueError("control characters, line breaks and bidirectional overrides are "
                         "not allowed here")
    return value


def _multi_line(value: Any) -> Any:
    if isinstance(value, str) and not _MULTI_LINE.fullmatch(value):
        raise ValueError("control characters (other than tab and line breaks) and "
                         "bidirectional overrides are not allowed here")
    return value


SingleLine = Annotated[str, BeforeValidator(_single_line),
                       Field(json_schema_extra={"pattern": SINGLE_LINE})]
"""Text on one line: ids, titles, actors, references."""
MultiLine = Annotated[str, BeforeValidator(_multi_line),
                      Field(json_schema_extra={"pattern": MULTI_LINE})]
"""Free text (notes, comments, reasons): tab and line breaks allowed, no other control."""
ShortId = Annotated[str, Field(min_length=1, max_length=200), BeforeValidator(_single_line),
                    Field(json_schema_extra={"pattern": SINGLE_LINE})]
"""A caller's id or name of 1-200 characters on one line (the length checked as text first)."""
Reference = Annotated[str, Field(max_length=500), BeforeValidator(_single_line),
                      Field(json_schema_extra={"pattern": SINGLE_LINE})]
"""Another system's reference, on one line, at most 500 characters."""

LATEST_TIME = datetime(9000, 1, 1, tzinfo=UTC)
"""Times a caller sends stay well before ``datetime.max``: the ledger adds days and years of
deadlines to them, and near 9999-12-31 that overflows (a 500, not a refusal)."""


_ISO_DATE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}")


def _time_text(value: Any) -> Any:
    # a number is not a time, whatever its unit: pydantic would read 1700000000 (or the
    # text "1700000000", as a query string sends it) as seconds since 1970, and a bare
    # date as its midnight; neither is what a caller meant by "as of"
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE_TIME.match(value):
        raise ValueError("a time is an ISO 8601 date-time with a time zone, such as "
                         "2026-03-02T09:00:00Z")
    return value


def _in_range(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)  # 9999-12-31T23:59-23:59 is valid ISO 8601 yet past the max
    except OverflowError:
        raise ValueError("the time is outside the range of dates") from None
    if utc >= LATEST_TIME:
        raise ValueError(f"a time must be before {LATEST_TIME.isoformat()}")
    return utc


Timestamp = Annotated[AwareDatetime, BeforeValidator(_time_text), AfterValidator(_in_range)]
"""An ISO 8601 time with a time zone (naive times are refused), read as UTC, before 9000."""
