from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from moneyed import Money

from domain.errors import (
    AmountPrecisionError,
    CurrencyMismatch,
    FloatMoneyError,
    MoneyError,
    UnknownCurrency,
)
from domain.money import (
    money,
    percent_of,
    require_same_currency,
    round_half_up,
    split_by_ratios,
    to_minor_units,
)


def test_amounts_are_exact_decimals_with_the_currency_minor_unit():
    assert money("500", "USD") == Money("500.00", "USD")
    assert str(money("500", "USD").amount) == "500.00"
    assert str(money("1500", "JPY").amount) == "1500"
    assert str(money("1.234", "BHD").amount) == "1.234"


def test_a_float_amount_is_refused_by_name():
    with pytest.raises(FloatMoneyError):
        money(0.1, "USD")


def test_more_decimals_than_the_minor_unit_is_refused_not_rounded():
    with pytest.raises(AmountPrecisionError):
        money("12.345", "USD")
    with pytest.raises(AmountPrecisionError):
        money("1.5", "JPY")


@pytest.mark.parametrize("bad", ["abc", "", "NaN", "Infinity", None, True, [1]])
def test_malformed_amounts_are_refused(bad):
    with pytest.raises(MoneyError):
        money(bad, "USD")


@pytest.mark.parametrize("code", ["usd", "ABCD", "ZZZ", "", "US"])
def test_unknown_currencies_are_refused(code):
    with pytest.raises(UnknownCurrency):
        money("1", code)


def test_rounding_is_half_up_to_the_cent():
    assert round_half_up(Money("26.665", "USD")) == Money("26.67", "USD")
    assert round_half_up(Money("26.664", "USD")) == Money("26.66", "USD")
    assert round_half_up(Money("-0.005", "USD")) == Money("-0.01", "USD")


def test_worked_fee_figures_round_half_up():
    assert percent_of(money("266.64", "USD"), Decimal("0.10")) == money("26.66", "USD")
    assert percent_of(money("333.36", "USD"), Decimal("0.10")) == money("33.34", "USD")
    assert percent_of(money("0.05", "USD"), Decimal("0.10")) == money("0.01", "USD")


def test_a_float_rate_is_refused():
    with pytest.raises(FloatMoneyError):
        percent_of(money("1", "USD"), 0.1)  # type: ignore[arg-type]


def test_mixing_currencies_is_refused_by_name():
    with pytest.raises(CurrencyMismatch):
        require_same_currency(money("1", "USD"), money("1", "EUR"))


def test_a_three_way_split_of_ten_dollars_gives_the_extra_cent_to_the_first_part():
    parts = split_by_ratios(money("10.00", "USD"), [1, 1, 1])
    assert parts == [money("3.34", "USD"), money("3.33", "USD"), money("3.33", "USD")]


def test_a_split_by_uneven_ratios_uses_largest_remainders():
    parts = split_by_ratios(money("100.00", "USD"), [Decimal("0.7"), Decimal("0.2"),
                                                     Decimal("0.1")])
    assert parts == [money("70.00", "USD"), money("20.00", "USD"), money("10.00", "USD")]
    parts = split_by_ratios(money("0.05", "USD"), [1, 1])
    assert parts == [money("0.03", "USD"), money("0.02", "USD")]


@given(
    cents=st.integers(min_value=-10**12, max_value=10**12),
    ratios=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12).filter(
        lambda r: sum(r) > 0
    ),
)
def test_split_parts_always_sum_to_the_whole(cents, ratios):
    total = money(Decimal(cents).scaleb(-2), "USD")
    parts = split_by_ratios(total, ratios)
    assert sum(parts, money("0", "USD")) == total
    assert len(parts) == len(ratios)
    for part, ratio in zip(parts, ratios, strict=True):
        exact = total.amount * ratio / sum(ratios)
        assert abs(part.amount - exact) < Decimal("0.01")


def test_minor_units_are_exact():
    assert to_minor_units(money("12.34", "USD")) == 1234
    assert to_minor_units(money("1500", "JPY")) == 1500


@pytest.mark.parametrize("huge", [
    "1000000000000000", "-1000000000000000.00", "999999999999999999999999999.00", "9" * 39,
])
def test_amounts_beyond_a_quadrillion_are_refused_not_crashed_on(huge):
    from domain.errors import AmountTooLarge

    with pytest.raises(AmountTooLarge):
        money(huge, "USD")
    assert money("999999999999999.99", "USD").amount == Decimal("999999999999999.99")
