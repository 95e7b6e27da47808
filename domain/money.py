"""Money discipline: Decimal amounts with a currency, rounded half-up, never float.

``moneyed.Money`` carries the amount and currency; the helpers here add what a
ledger needs on top: a constructor that refuses floats and excess precision, the
one rounding rule (half-up to the currency's minor unit, per transaction), and a
largest-remainder split whose parts always add back to the whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from moneyed import Currency, CurrencyDoesNotExist, Money, add_currency, get_currency

from domain.errors import (
    AmountPrecisionError,
    AmountTooLarge,
    CurrencyMismatch,
    FloatMoneyError,
    InvalidInput,
    MoneyError,
    NonPositiveAmount,
    UnknownCurrency,
)

__all__ = [
    "MAXIMUM_MAGNITUDE",
    "Money",
    "currency_of",
    "minor_unit_exponent",
    "money",
    "money_as_written",
    "parse_decimal",
    "percent_of",
    "require_positive",
    "require_same_currency",
    "restore_money",
    "round_half_up",
    "split_by_ratios",
    "to_minor_units",
    "zero",
]


MAXIMUM_MAGNITUDE = Decimal(10) ** 15
"""No amount reaches a quadrillion: far above any real payment, and it keeps every
amount, and sums of millions of them, inside 64-bit integer minor units where the
journal stores them."""


CONNECTS = "CONNECTS"
"""Connects, the marketplace's second unit of account: whole units, kept in double entry
like money (postings, balances and the trial balance are per currency, this one too)."""
_CONNECTS_UNIT = add_currency(code=CONNECTS, numeric="999", sub_unit=1, name="Connects")


def currency_of(code: str) -> Currency:
    """Looks up an ISO 4217 currency (or Connects), refusing unknown codes by name."""
    if code == CONNECTS:
        return _CONNECTS_UNIT
    if not isinstance(code, str) or len(code) != 3 or not code.isalpha() or not code.isupper():
        raise UnknownCurrency(f"currency must be an upper-case ISO 4217 code, got {code!r}")
    try:
        return get_currency(code)
    except CurrencyDoesNotExist:
        raise UnknownCurrency(f"unknown currency {code!r}") from None


def minor_unit_exponent(currency: Currency) -> int:
    """Decimal places of the currency's minor unit (USD 2, JPY 0, BHD 3)."""
    sub_unit = int(currency.sub_unit or 1)
    exponent = len(str(sub_unit)) - 1
    if 10**exponent != sub_unit:  # pragma: no cover - no ISO currency does this
        raise MoneyError(f"{currency.code} has a non-decimal minor unit")
    return exponent


def _quantum(currency: Currency) -> Decimal:
    return Decimal(1).scaleb(-minor_unit_exponent(currency))


def parse_decimal(value: object, what: str, error: type[InvalidInput] = MoneyError) -> Decimal:
    """An exact, finite decimal from a string, int or Decimal; floats are refused by name.

    The one parser for amounts, rates and schedule figures, so all of them
    refuse the same inputs the same way.
    """
    if isinstance(value, float):
        raise FloatMoneyError(f"{what} {value!r} is a float; send a decimal string")
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise error(f"{what} must be a decimal string, got {type(value).__name__}")
    try:
        result = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise error(f"{what} {value!r} is not a decimal number") from None
    if not result.is_finite():
        raise error(f"{what} {value!r} is not finite")
    return result


def money(amount: object, currency: str | Currency) -> Money:
    """Builds an exact amount; refuses floats and more digits than the minor unit.

    Input amounts are never rounded silently: ``12.345`` dollars is an error,
    not $12.35, because a caller that sends it has a bug we should surface.
    """
    cur = currency if isinstance(currency, Currency) else currency_of(currency)
    value = parse_decimal(amount, "amount", MoneyError)
    if abs(value) >= MAXIMUM_MAGNITUDE:
        raise AmountTooLarge(
            f"amount {amount!r} is not below {MAXIMUM_MAGNITUDE:,} {cur.code}"
        )
    quantum = _quantum(cur)
    if value != value.quantize(quantum, rounding=ROUND_HALF_UP):
        raise AmountPrecisionError(
            f"amount {amount!r} has more than {minor_unit_exponent(cur)} decimal places "
            f"for {cur.code}"
        )
    return Money(value.quantize(quantum), cur)


def money_as_written(amount: str, currency: str | Currency) -> Money:
    """An amount a caller wrote: as ``money``, and no more decimal places than the currency
    has, even as trailing zeros (``"5.000"`` dollars is refused like ``"5.001"``: the
    caller's notion of the currency is wrong, and saying so is the documented rule)."""
    value = money(amount, currency)
    written = parse_decimal(amount, "amount", MoneyError)
    places = -int(written.as_tuple().exponent)
    if places > minor_unit_exponent(value.currency):
        raise AmountPrecisionError(
            f"amount {amount!r} has {places} decimal places; {value.currency.code} has "
            f"{minor_unit_exponent(value.currency)}")
    return value


def restore_money(amount: str, currency: str) -> Money:
    """Money as it was stored: exact, and not re-judged by today's input rules.

    Stored history is replayed with later code; a limit added since (a maximum,
    a stricter currency list) must not make an old event unreadable.
    """
    return Money(Decimal(amount), get_currency(currency))


def zero(currency: str | Currency) -> Money:
    return money(0, currency)


def round_half_up(value: Money) -> Money:
    """Rounds to the currency's minor unit, halves away from zero ($26.665 -> $26.67)."""
    quantum = _quantum(value.currency)
    return Money(value.amount.quantize(quantum, rounding=ROUND_HALF_UP), value.currency)


def percent_of(value: Money, rate: Decimal) -> Money:
    """A fee-style share: ``round_half_up(value * rate)``; rate is a fraction (0.10)."""
    if isinstance(rate, float):
        raise FloatMoneyError(f"rate {rate!r} is a float; rates are Decimal")
    return round_half_up(Money(value.amount * rate, value.currency))


def require_same_currency(*values: Money) -> Currency:
    currencies = {v.currency for v in values}
    if len(currencies) != 1:
        codes = ", ".join(sorted(c.code for c in currencies))
        raise CurrencyMismatch(f"amounts mix currencies: {codes}")
    return next(iter(currencies))


def require_positive(value: Money, what: str = "amount") -> Money:
    if value.amount <= 0:
        raise NonPositiveAmount(f"{what} must be above zero, got {value.amount}")
    return value


def to_minor_units(value: Money) -> int:
    """Integer minor units ($12.34 -> 1234), exact: refuses sub-cent amounts."""
    scaled = value.amount.scaleb(minor_unit_exponent(value.currency))
    if scaled != scaled.to_integral_value():
        raise AmountPrecisionError(f"{value!r} is finer than the currency's minor unit")
    return int(scaled)


def split_by_ratios(total: Money, ratios: Sequence[Decimal | int]) -> list[Money]:
    """Splits ``total`` in proportion to ``ratios`` by largest remainder.

    Each part is first rounded down to the minor unit; the cents left over go
    one by one to the parts with the largest remainders (earliest first on ties),
    so the parts always add up to the total exactly.
    """
    if not ratios:
        raise MoneyError("cannot split into zero parts")
    if any(isinstance(r, float) for r in ratios):
        raise FloatMoneyError("ratios must be Decimal or int, not float")
    weights = [Decimal(r) for r in ratios]
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise MoneyError("ratios must be non-negative and not all zero")
    units = to_minor_units(round_half_up(total))
    sign = -1 if units < 0 else 1
    units = abs(units)
    weight_sum = sum(weights)
    exact = [Decimal(units) * w / weight_sum for w in weights]
    floors = [int(e) for e in exact]
    leftover = units - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:leftover]:
        floors[i] += 1
    exponent = minor_unit_exponent(total.currency)
    return [
        Money(Decimal(sign * f).scaleb(-exponent), total.currency)
        for f in floors
    ]
