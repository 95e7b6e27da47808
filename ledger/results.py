"""Typed answers of commands, and the one way they become JSON.

A command builds a frozen dataclass naming every field it answers; the
engine stores and returns its JSON form (money as a string amount and a
currency, times in ISO 8601), which is also what an idempotent replay gives.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from moneyed import Money

from domain.fees.quotes import FeeQuote


def money_json(value: Money) -> dict[str, str]:
    return {"amount": str(value.amount), "currency": value.currency.code}


@dataclass(frozen=True)
class Charge:
    """What a command charged the client, as every charging command answers it.

    ``amount`` is what goes to escrow, to hourly review or to the freelancer;
    ``total`` is what the card, bank account or client credit was charged:
    amount + marketplace fee + initiation fee, to the cent.
    """

    payment_id: str
    amount: Money
    marketplace_fee: Money
    initiation_fee: Money
    total: Money
    payment_method: str

    @classmethod
    def of(cls, payment_id: str, amount: Money, marketplace: FeeQuote,
           initiation: FeeQuote | None, payment_method: str) -> Charge:
        initiation_fee = initiation.fee if initiation is not None else amount * 0
        return cls(payment_id, amount, marketplace.fee, initiation_fee,
                   amount + marketplace.fee + initiation_fee, payment_method)


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
