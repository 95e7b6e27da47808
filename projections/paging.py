"""Cursor pagination shared by the list reads: an opaque cursor, a bounded page.

A cursor is the sort key of the last row a page showed, as base64url JSON: it
is stable under inserts (a new row never shifts the next page) and means
nothing to callers, who only pass it back. A cursor that does not decode to a
key of the expected shape is a 422, never a silent first page.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from domain.errors import InvalidCursor, InvalidInput

MAX_LIMIT = 200


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None


def page_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be 1 to {MAX_LIMIT}, got {limit!r}")
    return limit


def encode_cursor(key: list[Any]) -> str:
    raw = json.dumps(key, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, shape: tuple[type, ...]) -> list[Any]:
    """The sort key a cursor carries, checked against ``shape`` (one type per part)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, binascii.Error, UnicodeError):
        key = None
    if (not isinstance(key, list) or len(key) != len(shape)
            or not all(type(part) is kind for part, kind in zip(key, shape, strict=True))):
        raise InvalidCursor(f"cursor {cursor[:80]!r} was not given by this list")
    return key
