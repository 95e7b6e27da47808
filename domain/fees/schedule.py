"""Fee schedules, versioned by date.

A fee is owed under the rules in force when the money moves, not when it is
recorded or replayed, so every figure lives in one immutable ``FeeSchedule``
and each computation returns a ``FeeQuote`` naming the schedule version and
era it used. An event that stores the quote can be audited years later even
after the marketplace has changed its prices again.

Fixed figures (tier bounds, initiation and withdrawal fees) are in the
schedule's currency (US dollars by default); there is no exchange rate here,
so fees that need them refuse other currencies rather than guess. Flat-rate
fees work in any currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.errors import (
    BelowWithdrawalMinimum,
    CurrencyMismatch,
    FloatMoneyError,
    InvalidFeeRate,
    InvalidFeeSchedule,
    MoneyError,
    UnsupportedCurrency,
)
from domain.fees import checks
from domain.fees.methods import (
    PaymentMethod,
    WithdrawalMethod,
    default_withdrawal_fees,
    default_withdrawal_minimums,
    parse_payment_method,
    parse_withdrawal_method,
)
from domain.fees.parsing import cents, decimal, pct, positive_cents, start_of, utc
from domain.fees.quotes import (
    INITIATION_FEE,
    MARKETPLACE_FEE,
    SERVICE_FEE,
    WITHDRAWAL_FEE,
    FeeQuote,
    TierCharge,
)
from domain.money import (
    Money,
    currency_of,
    money,
    percent_of,
    require_same_currency,
    round_half_up,
    zero,
)

__all__ = [
    "DEFAULT_SCHEDULE",
    "FeeSchedule",
]

_RATE_PLACES = Decimal("0.0001")
# Withdrawal figures have one era: the one in force when they were read.
_WITHDRAWAL_SLUG = "2026-11"
_NO_FEE_SLUG = "none"

Tiers = tuple[tuple[Decimal | None, Decimal], ...]


_RATE_FIELDS = (
    "flat_era_rate", "flat_2023_rate", "top_tier_grandfather_rate", "per_contract_min_rate",
    "per_contract_max_rate", "per_contract_default_rate", "marketplace_first_rate",
    "marketplace_second_rate", "marketplace_second_us_bank_rate",
)
_DATE_FIELDS = (
    "tiered_era_start", "flat_2023_start", "top_tier_grandfather_until", "per_contract_start",
    "marketplace_start", "marketplace_second_start", "initiation_start",
)
_AMOUNT_FIELDS = ("arbitration_fee_per_party", "connects_unit_price", "freelancer_plus_price")
_TIER_FIELDS = ("tiers", "initiation_tiers")
_METHOD_MAP_FIELDS = ("withdrawal_fees", "withdrawal_minimums")
_TEXT_FIELDS = ("version", "currency")


@dataclass(frozen=True)
class FeeSchedule:
    """All fee figures, defaulting to domain.md; every (assumed) one is configurable.

    Immutable and named by ``version`` because events record the schedule id:
    changing a figure must produce a new id, never a new meaning for an old one.
    """

    version: str = "2026-11-default"
    # Fixed figures (tier bounds, initiation and withdrawal fees) are in this currency.
    currency: str = "USD"
    # service fee eras
    flat_era_rate: Decimal = Decimal("0.10")
    tiered_era_start: date = date(2016, 6, 21)
    tiers: Tiers = (
        (Decimal("500"), Decimal("0.20")),
        (Decimal("10000"), Decimal("0.10")),
        (None, Decimal("0.05")),
    )
    flat_2023_start: date = date(2023, 5, 3)
    flat_2023_rate: Decimal = Decimal("0.10")
    top_tier_grandfather_until: date = date(2023, 12, 31)
    top_tier_grandfather_rate: Decimal = Decimal("0.05")
    per_contract_start: date = date(2025, 5, 1)  # (assumed)
    per_contract_min_rate: Decimal = Decimal("0")
    per_contract_max_rate: Decimal = Decimal("0.15")
    per_contract_default_rate: Decimal = Decimal("0.10")  # (assumed)
    # marketplace fee
    marketplace_start: date = date(2019, 6, 12)
    marketplace_first_rate: Decimal = Decimal("0.03")
    marketplace_second_start: date = date(2025, 5, 1)  # (assumed)
    marketplace_second_rate: Decimal = Decimal("0.05")
    marketplace_second_us_bank_rate: Decimal = Decimal("0.03")
    # initiation fee: (first payment strictly under bound, fee)
    initiation_start: date = date(2023, 4, 26)
    initiation_tiers: Tiers = (
        (Decimal("100"), Decimal("0.99")),
        (Decimal("500"), Decimal("4.95")),
        (Decimal("2000"), Decimal("9.95")),
        (None, Decimal("14.99")),
    )
    # disputes: what each party pays to take a fixed-price dispute to arbitration (assumed)
    arbitration_fee_per_party: Decimal = Decimal("291")
    # Connects: the price of one, and the Freelancer Plus membership per month (assumed)
    connects_unit_price: Decimal = Decimal("0.15")
    freelancer_plus_price: Decimal = Decimal("19.99")
    # withdrawal; mappings are excluded from the hash (they are read-only proxies)
    withdrawal_fees: Mapping[WithdrawalMethod, Decimal] = field(
        default_factory=default_withdrawal_fees, hash=False
    )
    withdrawal_minimums: Mapping[WithdrawalMethod, Decimal] = field(
        default_factory=default_withdrawal_minimums, hash=False
    )

    def __post_init__(self) -> None:
        if not isinstance(self.version, str) or not self.version or "/" in self.version:
            raise InvalidFeeSchedule(f"version must be a non-empty string without '/': "
                                     f"{self.version!r}")
        if not isinstance(self.currency, str):
            raise InvalidFeeSchedule("currency must be an ISO 4217 code")
        currency_of(self.currency)
        for name in _RATE_FIELDS:
            checks.fraction(getattr(self, name), name)
        for name in _DATE_FIELDS:
            value = getattr(self, name)
            if isinstance(value, datetime) or not isinstance(value, date):
                raise InvalidFeeSchedule(f"{name} must be a date, got {value!r}")
        for name in _AMOUNT_FIELDS:
            checks.amount(getattr(self, name), name, self.currency)
        checks.tiers(self.tiers, "tiers", self.currency, amounts=False)
        checks.tiers(self.initiation_tiers, "initiation_tiers", self.currency, amounts=True)
        object.__setattr__(self, "withdrawal_fees",
                           checks.method_map(self.withdrawal_fees, "withdrawal_fees",
                                             self.currency, full=True))
        object.__setattr__(self, "withdrawal_minimums",
                           checks.method_map(self.withdrawal_minimums, "withdrawal_minimums",
                                             self.currency, full=False))
        if not (self.per_contract_min_rate <= self.per_contract_default_rate
                <= self.per_contract_max_rate):
            raise InvalidFeeSchedule("per-contract default rate must lie within [min, max]")
        if not (self.tiered_era_start <= self.flat_2023_start <= self.per_contract_start):
            raise InvalidFeeSchedule("service fee eras must start in order")
        if self.marketplace_start > self.marketplace_second_start:
            raise InvalidFeeSchedule("marketplace fee eras must start in order")

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any]) -> FeeSchedule:
        """Builds a schedule from JSON-like config (decimal strings, ISO dates).

        Figures that differ from the defaults need a new ``version``: an event's
        schedule id must never point at two different sets of figures. Mapping
        figures (withdrawal fees, minimums) merge per method; tier lists replace.
        """
        from domain.fees.overrides import schedule_from_overrides

        return schedule_from_overrides(cls, overrides)

    def to_dict(self) -> dict[str, Any]:
        """Every figure, JSON-safe; ``from_overrides`` reads it back unchanged."""
        from domain.fees.overrides import schedule_to_dict

        return schedule_to_dict(self)

    # --- ids ----------------------------------------------------------------------

    def _id(self, kind: str, slug: str) -> str:
        return f"{self.version}/{kind}/{slug}"

    def require_supported_currency(self, code: str) -> None:
        """Refuses a contract currency whose fixed fee figures this schedule lacks.

        The tier bounds, initiation and withdrawal fees are dollar figures; a
        contract in another currency could be opened but never funded, so it
        is refused when it is opened instead.
        """
        if code != self.currency:
            raise UnsupportedCurrency(
                f"fee schedule {self.version} has figures in {self.currency} only; "
                f"a contract in {code} cannot be charged its fees"
            )

    def _require_schedule_currency(self, value: Money, what: str) -> None:
        if value.currency.code != self.currency:
            raise CurrencyMismatch(
                f"{what} is in {value.currency.code}, but this fee's fixed figures are in "
                f"{self.currency}"
            )

    # --- service fee --------------------------------------------------------------

    def _contract_rate(self, rate: object) -> Decimal:
        if isinstance(rate, float):
            raise FloatMoneyError(f"fee rate {rate!r} is a float; send a decimal string")
        value = decimal(rate, "fee rate", InvalidFeeRate)
        if not value.is_finite() or abs(value) > 1:
            raise InvalidFeeRate(
                f"fee rate {rate!r} is outside [{self.per_contract_min_rate}, "
                f"{self.per_contract_max_rate}]"
            )
        if value != value.quantize(_RATE_PLACES):
            raise InvalidFeeRate(f"fee rate {rate!r} has more than 4 decimal places")
        value = value + 0  # "-0.00" is zero: no negative zero on a contract
        if not self.per_contract_min_rate <= value <= self.per_contract_max_rate:
            raise InvalidFeeRate(
                f"fee rate {value} is outside [{self.per_contract_min_rate}, "
                f"{self.per_contract_max_rate}]"
            )
        return value

    def validate_contract_rate(self, rate: Decimal | None, opened_at: datetime) -> Decimal | None:
        """The rate to fix on a contract when it is opened.

        None back means the contract predates per-contract rates, so each
        payment follows the era's rules instead of a rate frozen at opening.
        """
        opened = utc(opened_at, "opened_at")
        in_era = opened >= start_of(self.per_contract_start)
        if rate is not None:
            checked = self._contract_rate(rate)
            if not in_era:
                # Named earlier, it would be ignored until the era began and then
                # silently applied: refused instead, as domain.md says.
                raise InvalidFeeRate(
                    f"a per-contract service fee rate can only be named on a contract opened "
                    f"on or after {self.per_contract_start}; this one opens "
                    f"{opened.date()} under the era's own rule"
                )
            return checked
        return self.per_contract_default_rate if in_era else None

    def service_fee(
        self,
        gross: Money,
        at: datetime,
        *,
        prior_billings: Money,
        top_tier_since: datetime | None,
        contract_rate: Decimal | None,
    ) -> FeeQuote:
        """The freelancer's fee on a payment, deducted from it (see ``net``).

        ``contract_rate`` only counts from ``per_contract_start``: before it the
        marketplace had no per-contract rates, so the era's rule wins.
        """
        when = utc(at, "at")
        gross = positive_cents(gross, "gross")
        prior = cents(prior_billings, "prior_billings")
        require_same_currency(gross, prior)
        if prior.amount < 0:
            raise MoneyError(f"prior_billings cannot be negative, got {prior.amount}")
        since = None if top_tier_since is None else utc(top_tier_since, "top_tier_since")
        rate = None if contract_rate is None else self._contract_rate(contract_rate)

        if when >= start_of(self.per_contract_start):
            chosen = self.per_contract_default_rate if rate is None else rate
            return self._flat(SERVICE_FEE, f"per-contract-{self.per_contract_start}", gross,
                              chosen)
        if when >= start_of(self.flat_2023_start):
            grandfather_end = start_of(self.top_tier_grandfather_until + timedelta(days=1))
            if (when < grandfather_end and since is not None
                    and since < start_of(self.flat_2023_start)):
                slug = (f"grandfathered-{pct(self.top_tier_grandfather_rate)}pct-"
                        f"{self.top_tier_grandfather_until.year}")
                return self._flat(SERVICE_FEE, slug, gross, self.top_tier_grandfather_rate)
            return self._flat(SERVICE_FEE, f"flat-{self.flat_2023_start}", gross,
                              self.flat_2023_rate)
        if when >= start_of(self.tiered_era_start):
            return self._tiered(gross, prior)
        last_flat_day = self.tiered_era_start - timedelta(days=1)
        return self._flat(SERVICE_FEE, f"flat-until-{last_flat_day}", gross, self.flat_era_rate)

    def _flat(self, kind: str, slug: str, basis: Money, rate: Decimal) -> FeeQuote:
        return FeeQuote(kind=kind, schedule_id=self._id(kind, slug), basis=basis,
                        fee=percent_of(basis, rate), rate=rate)

    def _tiered(self, gross: Money, prior: Money) -> FeeQuote:
        """Marginal tiers over lifetime billings; rounded once, on the sum."""
        self._require_schedule_currency(gross, "a tiered service fee")
        cur = gross.currency
        lower, upper = prior.amount, prior.amount + gross.amount
        charges: list[TierCharge] = []
        floor = Decimal(0)
        for bound, rate in self.tiers:
            top = upper if bound is None else min(bound, upper)
            start = max(floor, lower)
            if top > start:
                portion = money(top - start, cur)
                charges.append(TierCharge(portion=portion, rate=rate,
                                          fee=Money(portion.amount * rate, cur)))
            if bound is None or bound >= upper:
                break
            floor = bound
        exact = sum((c.fee.amount for c in charges), Decimal(0))
        return FeeQuote(
            kind=SERVICE_FEE,
            schedule_id=self._id(SERVICE_FEE, f"tiered-{self.tiered_era_start}"),
            basis=gross,
            fee=round_half_up(Money(exact, cur)),
            rate=None,
            tiers=tuple(charges),
        )

    # --- client fees ----------------------------------------------------------------

    def marketplace_fee(self, amount: Money, at: datetime, method: PaymentMethod) -> FeeQuote:
        """The client's fee on a payment, added on top (see ``with_fee``).

        Paying from client credit is charged the card rate: our assumption, as
        the marketplace publishes a discount only for US bank accounts.
        """
        when = utc(at, "at")
        basis = positive_cents(amount, "amount")
        paid_by = parse_payment_method(method)
        if when < start_of(self.marketplace_start):
            return self._flat(MARKETPLACE_FEE, _NO_FEE_SLUG, basis, Decimal(0))
        if when < start_of(self.marketplace_second_start):
            slug = f"{pct(self.marketplace_first_rate)}pct-{self.marketplace_start}"
            return self._flat(MARKETPLACE_FEE, slug, basis, self.marketplace_first_rate)
        slug = f"{pct(self.marketplace_second_rate)}pct-{self.marketplace_second_start}"
        rate = (self.marketplace_second_us_bank_rate if paid_by is PaymentMethod.US_BANK
                else self.marketplace_second_rate)
        return self._flat(MARKETPLACE_FEE, slug, basis, rate)

    def initiation_fee(self, first_payment: Money, at: datetime) -> FeeQuote:
        """Once per contract, sized by its first payment; added on top of it."""
        when = utc(at, "at")
        basis = positive_cents(first_payment, "first_payment")
        if when < start_of(self.initiation_start):
            return FeeQuote(kind=INITIATION_FEE, schedule_id=self._id(INITIATION_FEE, _NO_FEE_SLUG),
                            basis=basis, fee=zero(basis.currency), rate=None)
        self._require_schedule_currency(basis, "an initiation fee")
        fee = next(f for bound, f in self.initiation_tiers if bound is None or basis.amount < bound)
        return FeeQuote(
            kind=INITIATION_FEE,
            schedule_id=self._id(INITIATION_FEE, f"tiered-{self.initiation_start}"),
            basis=basis,
            fee=money(fee, basis.currency),
            rate=None,
        )

    # --- disputes -------------------------------------------------------------------

    def arbitration_fee(self, currency: str) -> Money:
        """What one party pays to take a fixed-price dispute to arbitration (assumed $291)."""
        fee = money(self.arbitration_fee_per_party, self.currency)
        require_same_currency(fee, zero(currency))
        return fee

    # --- payouts --------------------------------------------------------------------

    def withdrawal_fee(self, amount: Money, method: WithdrawalMethod, at: datetime) -> FeeQuote:
        """A fixed fee per method, on top of the amount; kept even if the payout fails."""
        utc(at, "at")
        basis = positive_cents(amount, "amount")
        via = parse_withdrawal_method(method)
        self._require_schedule_currency(basis, "a withdrawal fee")
        minimum = money(self.withdrawal_minimums[via], basis.currency)
        if basis < minimum:
            raise BelowWithdrawalMinimum(
                f"a {via} withdrawal must be at least {minimum.amount} {minimum.currency.code}, "
                f"got {basis.amount}"
            )
        return FeeQuote(
            kind=WITHDRAWAL_FEE,
            schedule_id=self._id(WITHDRAWAL_FEE, _WITHDRAWAL_SLUG),
            basis=basis,
            fee=money(self.withdrawal_fees[via], basis.currency),
            rate=None,
        )


DEFAULT_SCHEDULE = FeeSchedule()
