"""Fee quotes: a computed fee with everything needed to audit it from the event alone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.bookkeeping.accounts import Revenue
from domain.errors import InvalidFeeSchedule
from domain.fees.parsing import decimal, require_keys, str_field
from domain.money import Money, currency_of, require_same_currency, restore_money

SERVICE_FEE = Revenue.SERVICE_FEE
MARKETPLACE_FEE = Revenue.MARKETPLACE_FEE
INITIATION_FEE = Revenue.INITIATION_FEE
WITHDRAWAL_FEE = Revenue.WITHDRAWAL_FEE
FEE_KINDS = frozenset({SERVICE_FEE, MARKETPLACE_FEE, INITIATION_FEE, WITHDRAWAL_FEE})
"""A fee's kind is the revenue account it is earned in: one name for both."""


@dataclass(frozen=True)
class TierCharge:
    """One marginal tier of a tiered fee.

    ``fee`` is the exact, unrounded product: the quote rounds the sum once, so
    splitting a payment across tiers never adds a cent of rounding error.
    """

    portion: Money
    rate: Decimal
    fee: Money

    _KEYS = frozenset({"portion", "rate", "fee"})

    def to_dict(self) -> dict[str, Any]:
        return {"portion": str(self.portion.amount), "rate": str(self.rate),
                "fee": str(self.fee.amount)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], currency: str) -> TierCharge:
        d = require_keys(d, cls._KEYS, "tier charge")
        cur = currency_of(currency)
        return cls(
            portion=restore_money(str_field(d, "portion"), cur.code),
            rate=decimal(str_field(d, "rate"), "tier rate"),
            fee=Money(decimal(str_field(d, "fee"), "tier fee"), cur),
        )


@dataclass(frozen=True)
class FeeQuote:
    """A computed fee with everything needed to audit it from the event alone."""

    kind: str
    schedule_id: str
    basis: Money
    fee: Money
    rate: Decimal | None
    tiers: tuple[TierCharge, ...] = ()

    _KEYS = frozenset({"kind", "schedule_id", "currency", "basis", "fee", "rate", "tiers"})

    def __post_init__(self) -> None:
        if self.kind not in FEE_KINDS:
            raise InvalidFeeSchedule(f"unknown fee kind {self.kind!r}")
        require_same_currency(
            self.basis, self.fee, *(m for t in self.tiers for m in (t.portion, t.fee))
        )
        if self.fee.amount < 0:
            raise InvalidFeeSchedule(f"a fee cannot be negative, got {self.fee.amount}")

    @property
    def net(self) -> Money:
        """What the payee keeps when the fee is deducted (service fee)."""
        return self.basis - self.fee

    @property
    def with_fee(self) -> Money:
        """What the payer is charged when the fee is added on top (client and payout fees)."""
        return self.basis + self.fee

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "schedule_id": self.schedule_id,
            "currency": self.basis.currency.code,
            "basis": str(self.basis.amount),
            "fee": str(self.fee.amount),
            "rate": None if self.rate is None else str(self.rate),
            "tiers": [t.to_dict() for t in self.tiers],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeeQuote:
        d = require_keys(d, cls._KEYS, "fee quote")
        currency = str_field(d, "currency")
        cur = currency_of(currency)
        raw_rate = d["rate"]
        tiers = d["tiers"]
        if not isinstance(tiers, list | tuple):
            raise InvalidFeeSchedule("fee quote tiers must be a list")
        return cls(
            kind=str_field(d, "kind"),
            schedule_id=str_field(d, "schedule_id"),
            basis=restore_money(str_field(d, "basis"), cur.code),
            fee=restore_money(str_field(d, "fee"), cur.code),
            rate=None if raw_rate is None else decimal(str_field(d, "rate"), "rate"),
            tiers=tuple(TierCharge.from_dict(t, currency) for t in tiers),
        )
