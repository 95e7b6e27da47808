"""Checks a fee schedule's figures pass when it is built: a bad figure never prices a fee.

Apart from ``schedule.py`` so the schedule reads as its figures and the fees they
price; each check raises ``InvalidFeeSchedule`` (or ``FloatMoneyError``) naming the
figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

from domain.errors import FloatMoneyError, InvalidFeeSchedule, MoneyError
from domain.fees.methods import WithdrawalMethod, parse_withdrawal_method
from domain.money import money


def fraction(value: object, what: str) -> None:
    if isinstance(value, float):
        raise FloatMoneyError(f"{what} {value!r} is a float; rates are Decimal")
    if not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value <= 1:
        raise InvalidFeeSchedule(f"{what} must be a Decimal fraction in [0, 1], got {value!r}")


def amount(value: object, what: str, currency: str) -> None:
    if isinstance(value, float):
        raise FloatMoneyError(f"{what} {value!r} is a float; amounts are Decimal")
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise InvalidFeeSchedule(f"{what} must be a non-negative Decimal, got {value!r}")
    try:
        money(value, currency)
    except MoneyError as exc:
        raise InvalidFeeSchedule(f"{what}: {exc}") from None


def tiers(value: object, what: str, currency: str, *, amounts: bool) -> None:
    if not isinstance(value, tuple) or not value:
        raise InvalidFeeSchedule(f"{what} must be a non-empty tuple of (bound, value)")
    previous = Decimal(0)
    for i, tier in enumerate(value):
        if not isinstance(tier, tuple) or len(tier) != 2:
            raise InvalidFeeSchedule(f"{what}[{i}] must be a (bound, value) pair")
        bound, figure = tier
        last = i == len(value) - 1
        if last != (bound is None):
            raise InvalidFeeSchedule(f"{what}: only the last tier is open-ended (bound None)")
        if bound is not None:
            amount(bound, f"{what}[{i}] bound", currency)
            if bound <= previous:
                raise InvalidFeeSchedule(f"{what} bounds must be positive and increasing")
            previous = bound
        if amounts:
            amount(figure, f"{what}[{i}] fee", currency)
        else:
            fraction(figure, f"{what}[{i}] rate")


def method_map(raw: object, what: str, currency: str, *,
               full: bool) -> Mapping[WithdrawalMethod, Decimal]:
    """Withdrawal figures per method; ``full``: every method must be named."""
    if not isinstance(raw, Mapping):
        raise InvalidFeeSchedule(f"{what} must be a mapping of withdrawal method to amount")
    result = {m: Decimal(0) for m in WithdrawalMethod}
    for key, value in raw.items():
        method = parse_withdrawal_method(key)
        amount(value, f"{what}[{method}]", currency)
        result[method] = value
    if full and set(map(parse_withdrawal_method, raw)) != set(WithdrawalMethod):
        raise InvalidFeeSchedule(f"{what} must name every withdrawal method")
    return MappingProxyType(result)
