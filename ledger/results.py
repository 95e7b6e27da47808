"""Typed answers of commands, and the one way they become JSON.

A command builds a frozen dataclass naming every field it answers; the
engine stores and returns its JSON form (money as a string amount and a
currency, times in ISO 8601), which is also what an idempotent replay gives.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from moneyed import Money


def money_json(value: Money) -> dict[str, str]:
    return {"amount": str(value.amount), "currency": value.currency.code}


def to_json(value: Any) -> Any:
    """Plain JSON from a result: dataclasses, money, times, ids, enums, lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Money):
        return money_json(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value
