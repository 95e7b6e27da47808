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
from projections.store import View

MAX_LIMIT = 200


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None


def page_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be 1 to {MAX_LIMIT}, got {limit!r}")
    return limit


def check_state(state: str | None, known: tuple[str, ...], what: str) -> None:
    """A list's ``state`` filter: None, or one of the states that list has."""
    if state is not None and state not in known:
        raise InvalidInput(f"{state!r} is not a {what} state; one of {', '.join(known)}")


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


def after_key(cursor: str | None) -> list[Any] | None:
    """The (time, id) key a list's cursor carries; None for the first page."""
    return None if cursor is None else decode_cursor(cursor, (int, str))


def newest_first(view: View, table: str, *, time: str, key: str, where: list[str],
                 params: list[Any], limit: int, after: list[Any] | None,
                 columns: str = "*") -> Page:
    """One page of ``table`` (a view placeholder) newest first by (``time``, ``key``),
    after the key ``after_key`` decoded: keyset pagination, stable under inserts."""
    size = page_limit(limit)
    clauses, values = list(where), list(params)
    if after is not None:
        clauses.append(f"({time} < %s OR ({time} = %s AND {key} < %s))")
        values += [after[0], after[0], after[1]]
    rows = view.fetch(
        f"SELECT {columns} FROM {{{table}}} WHERE {' AND '.join(clauses)} "  # noqa: S608
        f"ORDER BY {time} DESC, {key} DESC LIMIT %s", [*values, size + 1])
    page = rows[:size]
    last = page[-1] if len(rows) > size else None
    return Page(page, None if last is None else encode_cursor([int(last[time]), last[key]]))
