"""How clients pay and freelancers withdraw: the methods the fee schedule prices."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from domain.errors import UnknownPaymentMethod, UnknownWithdrawalMethod


class PaymentMethod(StrEnum):
    """How a client pays; the marketplace fee is cheaper from a US bank since 2025."""

    CARD = "card"
    US_BANK = "us_bank"
    CLIENT_CREDIT = "client_credit"


class WithdrawalMethod(StrEnum):
    """How a freelancer withdraws; each has its own fixed fee and minimum."""

    US_BANK = "us_bank"
    LOCAL_BANK = "local_bank"
    USD_WIRE = "usd_wire"
    INSTANT_DEBIT_CARD = "instant_debit_card"


def parse_payment_method(method: object) -> PaymentMethod:
    if isinstance(method, str) and method in PaymentMethod.__members__.values():
        return PaymentMethod(method)
    raise UnknownPaymentMethod(f"unknown payment method {method!r}")


ALIASES = {"wire": WithdrawalMethod.USD_WIRE}
"""Other names callers use for a method (the payouts issue says ``wire``)."""


def parse_withdrawal_method(method: object) -> WithdrawalMethod:
    if isinstance(method, str) and method in ALIASES:
        return ALIASES[method]
    if isinstance(method, str) and method in WithdrawalMethod.__members__.values():
        return WithdrawalMethod(method)
    raise UnknownWithdrawalMethod(f"unknown withdrawal method {method!r}")


def default_withdrawal_fees() -> Mapping[WithdrawalMethod, Decimal]:
    return MappingProxyType({
        WithdrawalMethod.US_BANK: Decimal("0"),
        WithdrawalMethod.LOCAL_BANK: Decimal("0.99"),
        WithdrawalMethod.USD_WIRE: Decimal("50"),
        WithdrawalMethod.INSTANT_DEBIT_CARD: Decimal("2"),
    })


def default_withdrawal_minimums() -> Mapping[WithdrawalMethod, Decimal]:
    return MappingProxyType({
        WithdrawalMethod.US_BANK: Decimal("0"),
        WithdrawalMethod.LOCAL_BANK: Decimal("5"),
        WithdrawalMethod.USD_WIRE: Decimal("0"),
        WithdrawalMethod.INSTANT_DEBIT_CARD: Decimal("0"),
    })
