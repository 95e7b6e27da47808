"""Fee schedule: exact figures at every era boundary, per domain.md "Fees, versioned by date"."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import (
    BelowWithdrawalMinimum,
    CurrencyMismatch,
    FloatMoneyError,
    InvalidFeeRate,
    InvalidFeeSchedule,
    InvalidInput,
    NaiveDatetime,
    NonPositiveAmount,
    UnknownPaymentMethod,
    UnknownWithdrawalMethod,
)
from domain.fees.methods import PaymentMethod, WithdrawalMethod
from domain.fees.quotes import FeeQuote
from domain.fees.schedule import DEFAULT_SCHEDULE, FeeSchedule
from domain.money import Money, money

S = DEFAULT_SCHEDULE
V = "2026-11-default"


def usd(amount: str) -> Money:
    return money(amount, "USD")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
        ) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def service(
    gross: str,
    at: datetime,
    *,
    prior: str = "0",
    top_tier_since: datetime | None = None,
    contract_rate: Decimal | None = None,
) -> FeeQuote:
    return S.service_fee(
        usd(gross), at, prior_billings=usd(prior), top_tier_since=top_tier_since,
        contract_rate=contract_rate,
    )


# --- service fee: eras and their boundaries ---------------------------------------------


def test_the_last_second_of_2016_06_20_is_still_the_flat_ten_percent_era() -> None:
    q = service("600.00", utc(2016, 6, 20, 23, 59, 59))
    assert q.fee == usd("60.00")
    assert q.net == usd("540.00")
    assert q.rate == Decimal("0.10")
    assert q.tiers == ()
    assert q.schedule_id == f"{V}/service_fee/flat-until-2016-06-20"


def test_midnight_of_2016_06_21_starts_the_tiered_era() -> None:
    q = service("600.00", utc(2016, 6, 21))
    assert q.fee == usd("110.00")
    assert q.schedule_id == f"{V}/service_fee/tiered-2016-06-21"


def test_a_600_dollar_first_payment_in_the_tiered_era_nets_490() -> None:
    q = service("600.00", utc(2020, 1, 1))
    assert q.fee == usd("110.00")
    assert q.net == usd("490.00")
    assert q.rate is None
    assert [(t.portion, t.rate, t.fee) for t in q.tiers] == [
        (usd("500.00"), Decimal("0.20"), usd("100.00")),
        (usd("100.00"), Decimal("0.10"), usd("10.00")),
    ]


def test_a_payment_crossing_10000_is_charged_10_percent_below_and_5_percent_above() -> None:
    q = service("300.00", utc(2020, 1, 1), prior="9900.00")
    assert q.fee == usd("20.00")
    assert q.net == usd("280.00")
    assert [(t.portion, t.rate) for t in q.tiers] == [
        (usd("100.00"), Decimal("0.10")),
        (usd("200.00"), Decimal("0.05")),
    ]


def test_a_first_payment_of_10500_spans_all_three_tiers_for_1075() -> None:
    q = service("10500.00", utc(2020, 1, 1))
    assert [t.fee for t in q.tiers] == [usd("100"), usd("950"), usd("25")]
    assert q.fee == usd("1075.00")
    assert q.net == usd("9425.00")


def test_the_first_500_dollars_are_the_20_percent_tier_and_the_next_cent_is_10_percent() -> None:
    assert service("500.00", utc(2020, 1, 1)).fee == usd("100.00")
    q = service("0.01", utc(2020, 1, 1), prior="500.00")
    assert q.tiers[0].rate == Decimal("0.10")
    assert q.fee == usd("0.00")  # 0.001 rounds half-up to nothing


def test_a_relationship_past_10000_pays_5_percent_in_the_tiered_era() -> None:
    assert service("1000.00", utc(2022, 6, 1), prior="25000.00").fee == usd("50.00")


def test_the_tiered_fee_is_rounded_once_on_the_sum_of_exact_tier_products() -> None:
    # 500.00 x 20% = 100 exactly; 0.05 x 10% = 0.005 -> rounds half-up to a cent
    q = service("500.05", utc(2020, 1, 1))
    assert q.tiers[1].fee == Money(Decimal("0.0050"), "USD")
    assert q.fee == usd("100.01")


def test_the_last_second_of_2023_05_02_is_still_tiered() -> None:
    q = service("600.00", utc(2023, 5, 2, 23, 59, 59))
    assert q.fee == usd("110.00")
    assert q.schedule_id == f"{V}/service_fee/tiered-2016-06-21"


def test_midnight_of_2023_05_03_starts_the_flat_ten_percent() -> None:
    q = service("600.00", utc(2023, 5, 3))
    assert q.fee == usd("60.00")
    assert q.rate == Decimal("0.10")
    assert q.schedule_id == f"{V}/service_fee/flat-2023-05-03"


def test_266_64_at_ten_percent_is_a_26_66_fee_netting_239_98() -> None:
    q = service("266.64", utc(2024, 3, 1))
    assert q.fee == usd("26.66")
    assert q.net == usd("239.98")


def test_333_36_at_ten_percent_rounds_half_up_to_33_34() -> None:
    q = service("333.36", utc(2024, 3, 1))
    assert q.fee == usd("33.34")
    assert q.net == usd("300.02")


def test_a_grandfathered_top_tier_relationship_pays_5_percent_through_2023_12_31() -> None:
    q = service("1000.00", utc(2023, 12, 31, 23, 59, 59), prior="20000.00",
                top_tier_since=utc(2022, 1, 1))
    assert q.fee == usd("50.00")
    assert q.rate == Decimal("0.05")
    assert q.schedule_id == f"{V}/service_fee/grandfathered-5pct-2023"


def test_a_grandfathered_relationship_pays_10_percent_from_2024_01_01() -> None:
    q = service("1000.00", utc(2024, 1, 1), prior="20000.00", top_tier_since=utc(2022, 1, 1))
    assert q.fee == usd("100.00")
    assert q.schedule_id == f"{V}/service_fee/flat-2023-05-03"


def test_a_relationship_that_reached_the_top_tier_on_2023_05_03_is_not_grandfathered() -> None:
    q = service("1000.00", utc(2023, 6, 1), prior="20000.00", top_tier_since=utc(2023, 5, 3))
    assert q.fee == usd("100.00")


def test_a_relationship_that_reached_the_top_tier_just_before_2023_05_03_is_grandfathered() -> None:
    q = service("1000.00", utc(2023, 6, 1), prior="20000.00",
                top_tier_since=utc(2023, 5, 2, 23, 59, 59))
    assert q.fee == usd("50.00")


def test_a_relationship_never_in_the_top_tier_pays_10_percent_in_2023() -> None:
    assert service("1000.00", utc(2023, 6, 1), prior="5000.00").fee == usd("100.00")


def test_the_last_second_of_2025_04_30_ignores_the_contract_rate() -> None:
    q = service("1000.00", utc(2025, 4, 30, 23, 59, 59), contract_rate=Decimal("0.15"))
    assert q.fee == usd("100.00")
    assert q.schedule_id == f"{V}/service_fee/flat-2023-05-03"


def test_midnight_of_2025_05_01_charges_the_contract_rate() -> None:
    q = service("1000.00", utc(2025, 5, 1), contract_rate=Decimal("0.15"))
    assert q.fee == usd("150.00")
    assert q.rate == Decimal("0.15")
    assert q.schedule_id == f"{V}/service_fee/per-contract-2025-05-01"


@pytest.mark.parametrize(
    ("rate", "fee"),
    [(Decimal("0"), "0.00"), (Decimal("0.15"), "150.00"), (None, "100.00"),
     (Decimal("0.0725"), "72.50")],
)
def test_a_per_contract_rate_is_charged_and_no_rate_means_the_10_percent_default(
    rate: Decimal | None, fee: str
) -> None:
    q = service("1000.00", utc(2026, 2, 1), contract_rate=rate)
    assert q.fee == usd(fee)
    assert q.fee + q.net == usd("1000.00")


def test_the_grandfathered_rate_does_not_outlive_2023_into_the_per_contract_era() -> None:
    q = service("1000.00", utc(2026, 2, 1), prior="20000.00", top_tier_since=utc(2020, 1, 1))
    assert q.fee == usd("100.00")


def test_a_service_fee_on_zero_or_negative_gross_is_refused() -> None:
    with pytest.raises(NonPositiveAmount):
        service("0.00", utc(2026, 1, 1))
    with pytest.raises(NonPositiveAmount):
        service("-5.00", utc(2026, 1, 1))


def test_prior_billings_in_another_currency_are_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        S.service_fee(usd("10.00"), utc(2020, 1, 1), prior_billings=money("0", "EUR"),
                      top_tier_since=None, contract_rate=None)


def test_the_tiered_fee_refuses_a_currency_its_dollar_bounds_do_not_speak() -> None:
    with pytest.raises(CurrencyMismatch):
        S.service_fee(money("10.00", "EUR"), utc(2020, 1, 1), prior_billings=money("0", "EUR"),
                      top_tier_since=None, contract_rate=None)


def test_a_flat_fee_works_in_any_currency() -> None:
    q = S.service_fee(money("200.00", "EUR"), utc(2026, 1, 1),
                      prior_billings=money("0", "EUR"), top_tier_since=None, contract_rate=None)
    assert q.fee == money("20.00", "EUR")


def test_negative_prior_billings_are_refused() -> None:
    with pytest.raises(InvalidInput):
        service("10.00", utc(2020, 1, 1), prior="-1.00")


def test_a_sub_cent_gross_is_refused() -> None:
    with pytest.raises(InvalidInput):
        S.service_fee(Money(Decimal("10.001"), "USD"), utc(2026, 1, 1),
                      prior_billings=usd("0"), top_tier_since=None, contract_rate=None)


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(NaiveDatetime):
        service("10.00", datetime(2026, 1, 1))


def test_an_aware_non_utc_datetime_is_judged_in_utc() -> None:
    # 2016-06-21 01:00 at UTC+2 is still 2016-06-20 in UTC: flat era
    plus_two = timezone(timedelta(hours=2))
    q = service("600.00", datetime(2016, 6, 21, 1, 0, tzinfo=plus_two))
    assert q.fee == usd("60.00")


def test_a_contract_rate_out_of_range_is_refused_even_on_payment() -> None:
    with pytest.raises(InvalidFeeRate):
        service("10.00", utc(2026, 1, 1), contract_rate=Decimal("0.1501"))


# --- per-contract rate validation ---------------------------------------------------


@pytest.mark.parametrize("rate", [Decimal("0"), Decimal("0.15"), Decimal("0.1234")])
def test_a_contract_rate_from_0_to_15_percent_is_accepted(rate: Decimal) -> None:
    assert S.validate_contract_rate(rate, utc(2026, 1, 1)) == rate


def test_a_contract_opened_without_a_rate_in_the_per_contract_era_gets_10_percent() -> None:
    assert S.validate_contract_rate(None, utc(2025, 5, 1)) == Decimal("0.10")


def test_a_contract_opened_before_2025_05_01_without_a_rate_follows_the_era() -> None:
    assert S.validate_contract_rate(None, utc(2025, 4, 30, 23, 59, 59)) is None


@pytest.mark.parametrize("rate", [Decimal("0.1501"), Decimal("-0.01"), Decimal("1")])
def test_a_contract_rate_outside_0_to_15_percent_is_refused(rate: Decimal) -> None:
    with pytest.raises(InvalidFeeRate):
        S.validate_contract_rate(rate, utc(2026, 1, 1))


def test_a_float_contract_rate_is_refused() -> None:
    with pytest.raises(FloatMoneyError):
        S.validate_contract_rate(0.1, utc(2026, 1, 1))  # type: ignore[arg-type]


def test_a_contract_rate_with_more_than_4_decimal_places_is_refused() -> None:
    with pytest.raises(InvalidFeeRate):
        S.validate_contract_rate(Decimal("0.12345"), utc(2026, 1, 1))


def test_a_non_finite_contract_rate_is_refused() -> None:
    with pytest.raises(InvalidFeeRate):
        S.validate_contract_rate(Decimal("NaN"), utc(2026, 1, 1))


# --- marketplace fee ----------------------------------------------------------------


def test_there_is_no_marketplace_fee_in_2018() -> None:
    q = S.marketplace_fee(usd("500.00"), utc(2018, 1, 1), PaymentMethod.CARD)
    assert q.fee == usd("0.00")
    assert q.with_fee == usd("500.00")
    assert q.schedule_id == f"{V}/marketplace_fee/none"


def test_the_marketplace_fee_starts_at_midnight_2019_06_12() -> None:
    assert S.marketplace_fee(usd("100.00"), utc(2019, 6, 11, 23, 59, 59),
                             PaymentMethod.CARD).fee == usd("0.00")
    assert S.marketplace_fee(usd("100.00"), utc(2019, 6, 12),
                             PaymentMethod.CARD).fee == usd("3.00")


@pytest.mark.parametrize("method", list(PaymentMethod))
def test_the_marketplace_fee_in_2020_is_3_percent_for_every_method(method: PaymentMethod) -> None:
    q = S.marketplace_fee(usd("500.00"), utc(2020, 1, 1), method)
    assert q.fee == usd("15.00")
    assert q.with_fee == usd("515.00")
    assert q.schedule_id == f"{V}/marketplace_fee/3pct-2019-06-12"


def test_a_500_dollar_card_funding_in_2026_has_a_25_dollar_marketplace_fee() -> None:
    q = S.marketplace_fee(usd("500.00"), utc(2026, 1, 1), PaymentMethod.CARD)
    assert q.fee == usd("25.00")
    assert q.with_fee == usd("525.00")
    assert q.rate == Decimal("0.05")
    assert q.schedule_id == f"{V}/marketplace_fee/5pct-2025-05-01"


def test_a_us_bank_payment_in_2026_pays_3_percent() -> None:
    q = S.marketplace_fee(usd("500.00"), utc(2026, 1, 1), PaymentMethod.US_BANK)
    assert q.fee == usd("15.00")
    assert q.rate == Decimal("0.03")


def test_client_credit_pays_the_card_rate_in_2026() -> None:
    q = S.marketplace_fee(usd("500.00"), utc(2026, 1, 1), PaymentMethod.CLIENT_CREDIT)
    assert q.fee == usd("25.00")


def test_the_second_marketplace_era_starts_at_midnight_2025_05_01() -> None:
    assert S.marketplace_fee(usd("100.00"), utc(2025, 4, 30, 23, 59, 59),
                             PaymentMethod.CARD).fee == usd("3.00")
    assert S.marketplace_fee(usd("100.00"), utc(2025, 5, 1),
                             PaymentMethod.CARD).fee == usd("5.00")


def test_a_payment_method_given_as_its_string_value_is_accepted() -> None:
    q = S.marketplace_fee(usd("100.00"), utc(2026, 1, 1), "us_bank")  # type: ignore[arg-type]
    assert q.fee == usd("3.00")


def test_an_unknown_payment_method_is_refused() -> None:
    with pytest.raises(UnknownPaymentMethod):
        S.marketplace_fee(usd("100.00"), utc(2026, 1, 1), "paypal")  # type: ignore[arg-type]


# --- initiation fee -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_payment", "fee"),
    [("5.00", "0.99"), ("99.99", "0.99"), ("100.00", "4.95"), ("499.99", "4.95"),
     ("500.00", "9.95"), ("1999.99", "9.95"), ("2000.00", "14.99"), ("1000000.00", "14.99")],
)
def test_the_initiation_fee_is_tiered_by_the_first_payment_strictly_under_each_bound(
    first_payment: str, fee: str
) -> None:
    q = S.initiation_fee(usd(first_payment), utc(2026, 1, 1))
    assert q.fee == usd(fee)
    assert q.rate is None
    assert q.with_fee == usd(first_payment) + usd(fee)
    assert q.schedule_id == f"{V}/initiation_fee/tiered-2023-04-26"


def test_there_is_no_initiation_fee_before_2023_04_26() -> None:
    q = S.initiation_fee(usd("500.00"), utc(2023, 4, 25, 23, 59, 59))
    assert q.fee == usd("0.00")
    assert q.schedule_id == f"{V}/initiation_fee/none"


def test_the_initiation_fee_starts_at_midnight_2023_04_26() -> None:
    assert S.initiation_fee(usd("500.00"), utc(2023, 4, 26)).fee == usd("9.95")


# --- withdrawal fee -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "fee"),
    [(WithdrawalMethod.US_BANK, "0.00"), (WithdrawalMethod.LOCAL_BANK, "0.99"),
     (WithdrawalMethod.USD_WIRE, "50.00"), (WithdrawalMethod.INSTANT_DEBIT_CARD, "2.00")],
)
def test_each_withdrawal_method_has_its_fixed_fee(method: WithdrawalMethod, fee: str) -> None:
    q = S.withdrawal_fee(usd("100.00"), method, utc(2026, 1, 1))
    assert q.fee == usd(fee)
    assert q.with_fee == usd("100.00") + usd(fee)
    assert q.rate is None
    assert q.schedule_id == f"{V}/withdrawal_fee/2026-11"


def test_a_local_bank_withdrawal_under_5_dollars_is_refused() -> None:
    with pytest.raises(BelowWithdrawalMinimum) as info:
        S.withdrawal_fee(usd("4.99"), WithdrawalMethod.LOCAL_BANK, utc(2026, 1, 1))
    assert info.value.type == "below-withdrawal-minimum"


def test_a_local_bank_withdrawal_of_exactly_5_dollars_is_accepted() -> None:
    assert S.withdrawal_fee(usd("5.00"), WithdrawalMethod.LOCAL_BANK,
                            utc(2026, 1, 1)).fee == usd("0.99")


def test_a_one_cent_us_bank_withdrawal_has_no_minimum() -> None:
    assert S.withdrawal_fee(usd("0.01"), WithdrawalMethod.US_BANK,
                            utc(2026, 1, 1)).fee == usd("0.00")


def test_an_unknown_withdrawal_method_is_refused() -> None:
    with pytest.raises(UnknownWithdrawalMethod):
        S.withdrawal_fee(usd("100.00"), "crypto", utc(2026, 1, 1))  # type: ignore[arg-type]


# --- overrides ----------------------------------------------------------------------


def test_overriding_a_figure_without_a_version_is_refused() -> None:
    with pytest.raises(InvalidFeeSchedule, match="version"):
        FeeSchedule.from_overrides({"per_contract_start": "2025-06-01"})


def test_overriding_a_figure_under_the_default_version_is_refused() -> None:
    with pytest.raises(InvalidFeeSchedule, match="version"):
        FeeSchedule.from_overrides({"version": V, "marketplace_second_rate": "0.06"})


def test_overriding_figures_with_a_new_version_changes_them_and_the_schedule_id() -> None:
    s = FeeSchedule.from_overrides({
        "version": "2026-12-acme",
        "per_contract_start": "2025-06-01",
        "per_contract_default_rate": "0.12",
        "withdrawal_fees": {"usd_wire": "45"},
    })
    assert s.per_contract_start.isoformat() == "2025-06-01"
    q = s.service_fee(usd("100.00"), utc(2025, 5, 15), prior_billings=usd("0"),
                      top_tier_since=None, contract_rate=None)
    assert q.fee == usd("10.00")  # 2025-05-15 is still the flat 2023 era here
    q = s.service_fee(usd("100.00"), utc(2025, 6, 1), prior_billings=usd("0"),
                      top_tier_since=None, contract_rate=None)
    assert q.fee == usd("12.00")
    assert q.schedule_id == "2026-12-acme/service_fee/per-contract-2025-06-01"
    wire = s.withdrawal_fee(usd("100.00"), WithdrawalMethod.USD_WIRE, utc(2026, 1, 1))
    assert wire.fee == usd("45.00")
    card = s.withdrawal_fee(usd("100.00"), WithdrawalMethod.INSTANT_DEBIT_CARD, utc(2026, 1, 1))
    assert card.fee == usd("2.00")


def test_restating_the_default_figures_needs_no_new_version() -> None:
    assert FeeSchedule.from_overrides({"flat_era_rate": "0.10"}) == S
    assert FeeSchedule.from_overrides(S.to_dict()) == S


def test_unknown_override_keys_are_refused() -> None:
    with pytest.raises(InvalidFeeSchedule, match="service_fee_rate"):
        FeeSchedule.from_overrides({"version": "x", "service_fee_rate": "0.1"})


def test_float_overrides_are_refused() -> None:
    with pytest.raises(FloatMoneyError):
        FeeSchedule.from_overrides({"version": "x", "flat_era_rate": 0.1})
    with pytest.raises(FloatMoneyError):
        FeeSchedule.from_overrides({"version": "x", "withdrawal_fees": {"usd_wire": 45.0}})


def test_inconsistent_overrides_are_refused() -> None:
    with pytest.raises(InvalidFeeSchedule):
        FeeSchedule.from_overrides({"version": "x", "per_contract_default_rate": "0.2"})
    with pytest.raises(InvalidFeeSchedule):
        FeeSchedule.from_overrides({"version": "x", "tiers": [["500", "0.2"], ["100", "0.1"]]})
    with pytest.raises(InvalidFeeSchedule):
        FeeSchedule.from_overrides({"version": "x", "initiation_tiers": [[None, "0.999"]]})
    with pytest.raises(InvalidFeeSchedule):
        FeeSchedule.from_overrides({"version": "x", "flat_2023_start": "May 3rd"})
    with pytest.raises(InvalidFeeSchedule):
        FeeSchedule.from_overrides({"version": "a/b", "flat_era_rate": "0.11"})


def test_a_schedule_round_trips_through_its_json_dict() -> None:
    s = FeeSchedule.from_overrides({"version": "v2", "tiers": [["1000", "0.15"], [None, "0.05"]],
                                    "withdrawal_minimums": {"usd_wire": "100"}})
    d = json.loads(json.dumps(s.to_dict()))
    assert FeeSchedule.from_overrides(d) == s
    assert hash(FeeSchedule.from_overrides(d)) == hash(s)


# --- quotes -------------------------------------------------------------------------


def test_a_tiered_quote_round_trips_through_json() -> None:
    q = service("10500.00", utc(2020, 1, 1))
    d = json.loads(json.dumps(q.to_dict()))
    assert d == {
        "kind": "service_fee",
        "schedule_id": f"{V}/service_fee/tiered-2016-06-21",
        "currency": "USD",
        "basis": "10500.00",
        "fee": "1075.00",
        "rate": None,
        "tiers": [
            {"portion": "500.00", "rate": "0.20", "fee": "100.0000"},
            {"portion": "9500.00", "rate": "0.10", "fee": "950.0000"},
            {"portion": "500.00", "rate": "0.05", "fee": "25.0000"},
        ],
    }
    assert FeeQuote.from_dict(d) == q
    assert FeeQuote.from_dict(d).to_dict() == d


def test_a_flat_quote_round_trips_through_json() -> None:
    q = S.marketplace_fee(usd("333.36"), utc(2026, 1, 1), PaymentMethod.CARD)
    d = json.loads(json.dumps(q.to_dict()))
    assert d["rate"] == "0.05"
    assert FeeQuote.from_dict(d) == q


def test_a_quote_dict_with_a_float_or_a_missing_key_is_refused() -> None:
    d = service("600.00", utc(2020, 1, 1)).to_dict()
    with pytest.raises(FloatMoneyError):
        FeeQuote.from_dict({**d, "fee": 110.0})
    missing = {k: v for k, v in d.items() if k != "schedule_id"}
    with pytest.raises(InvalidFeeSchedule):
        FeeQuote.from_dict(missing)


# --- properties ---------------------------------------------------------------------

ERA_INSTANTS = [
    utc(2010, 1, 1), utc(2016, 6, 20, 23, 59, 59), utc(2016, 6, 21), utc(2020, 1, 1),
    utc(2023, 5, 2, 23, 59, 59), utc(2023, 5, 3), utc(2023, 12, 31, 23, 59, 59),
    utc(2024, 1, 1), utc(2025, 4, 30, 23, 59, 59), utc(2025, 5, 1), utc(2030, 1, 1),
]

cents = st.integers(min_value=1, max_value=10**11)
prior_cents = st.integers(min_value=0, max_value=10**11)
contract_rates = st.one_of(
    st.none(), st.integers(min_value=0, max_value=1500).map(lambda n: Decimal(n).scaleb(-4))
)
top_tier_instants = st.one_of(st.none(), st.sampled_from([utc(2020, 1, 1), utc(2023, 6, 1)]))


def from_cents(n: int) -> Money:
    return money(Decimal(n).scaleb(-2), "USD")


@given(
    gross=cents, prior=prior_cents, at=st.sampled_from(ERA_INSTANTS),
    since=top_tier_instants, rate=contract_rates,
)
def test_in_every_era_the_service_fee_and_net_add_back_to_the_gross_exactly(
    gross: int, prior: int, at: datetime, since: datetime | None, rate: Decimal | None
) -> None:
    g = from_cents(gross)
    q = S.service_fee(g, at, prior_billings=from_cents(prior), top_tier_since=since,
                      contract_rate=rate)
    assert q.fee + q.net == g
    assert usd("0") <= q.fee <= g
    assert q.fee == money(q.fee.amount, "USD")  # whole cents
    assert FeeQuote.from_dict(json.loads(json.dumps(q.to_dict()))) == q


@given(gross=cents, at=st.sampled_from(ERA_INSTANTS), method=st.sampled_from(list(PaymentMethod)))
def test_in_every_era_the_marketplace_fee_is_whole_cents_between_zero_and_the_amount(
    gross: int, at: datetime, method: PaymentMethod
) -> None:
    g = from_cents(gross)
    q = S.marketplace_fee(g, at, method)
    assert q.with_fee - q.fee == g
    assert q.fee + q.net == g
    assert usd("0") <= q.fee <= g


@given(gross=cents, prior=prior_cents)
def test_tier_portions_add_up_to_the_gross_and_the_fee_is_their_products_rounded_once(
    gross: int, prior: int
) -> None:
    at = utc(2020, 1, 1)
    whole = S.service_fee(from_cents(gross), at, prior_billings=from_cents(prior),
                          top_tier_since=None, contract_rate=None)
    exact = sum((t.fee.amount for t in whole.tiers), Decimal(0))
    assert abs(whole.fee.amount - exact) <= Decimal("0.005")
    assert sum((t.portion for t in whole.tiers), usd("0")) == from_cents(gross)
