"""Small parsers the fee schedule and its recorded quotes share.

Stored quotes and configuration arrive as JSON-like values; each parser
refuses what would lose a cent (floats, naive datetimes, unknown keys) with a
named error rather than guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from domain.errors import (
    FloatMoneyError,
    InvalidFeeSchedule,
    InvalidInput,
    MoneyError,
    NaiveDatetime,
)
from domain.money import Money, money, parse_decimal, require_positive


def utc(at: object, what: str) -> datetime:
    """Rules are dated in UTC; a naive datetime could be off by a day at a boundary."""
    if not isinstance(at, datetime):
        raise InvalidInput(f"{what} must be a datetime, got {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise NaiveDatetime(f"{what} must be timezone-aware (UTC), got {at!r}")
    return at.astimezone(UTC)


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def decimal(value: object, what: str, error: type[InvalidInput] = InvalidFeeSchedule) -> Decimal:
    """Exact decimals only: a float rate would already have lost its cents."""
    return parse_decimal(value, what, error)


def iso_date(value: object, what: str) -> date:
    if isinstance(value, datetime):
        raise InvalidFeeSchedule(f"{what} must be a date, not a datetime")
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise InvalidFeeSchedule(f"{what} must be an ISO date string, got {type(value).__name__}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidFeeSchedule(f"{what} {value!r} is not an ISO date") from None


def cents(value: object, what: str) -> Money:
    """A charged amount must be whole cents so net + fee adds back exactly."""
    if not isinstance(value, Money):
        raise MoneyError(f"{what} must be Money, got {type(value).__name__}")
    return money(value.amount, value.currency)


def positive_cents(value: object, what: str) -> Money:
    return require_positive(cents(value, what), what)


def pct(rate: Decimal) -> str:
    return format((rate * 100).normalize(), "f")


def str_field(d: Mapping[str, Any], key: str) -> str:
    value = d[key]
    if isinstance(value, float):
        raise FloatMoneyError(f"{key} {value!r} is a float; send a decimal string")
    if not isinstance(value, str):
        raise InvalidFeeSchedule(f"{key} must be a string, got {type(value).__name__}")
    return value


def require_keys(d: object, keys: frozenset[str], what: str) -> Mapping[str, Any]:
    if not isinstance(d, Mapping):
        raise InvalidFeeSchedule(f"{what} must be an object, got {type(d).__name__}")
    if set(d) != keys:
        missing = sorted(keys - set(d))
        extra = sorted(str(k) for k in set(d) - keys)
        raise InvalidFeeSchedule(f"{what} keys wrong: missing {missing}, unknown {extra}")
    return d
