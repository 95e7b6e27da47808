"""The chart of accounts: which accounts exist, and which side is their normal side.

Account ids are plain strings (``escrow:<contract>:<milestone>``) so a posting
recorded today still names its account in ten years without any lookup table:
history never depends on today's code. The prefix decides the kind.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from domain.errors import AccountNotFound


class AccountKind(StrEnum):
    """Normal side decides the sign of a reported balance."""

    ASSET = "asset"
    LIABILITY = "liability"
    INCOME = "income"
    EXTERNAL = "external"

    @property
    def debit_normal(self) -> bool:
        return self in (AccountKind.ASSET, AccountKind.EXTERNAL)


class Revenue(StrEnum):
    SERVICE_FEE = "service_fee"
    MARKETPLACE_FEE = "marketplace_fee"
    INITIATION_FEE = "initiation_fee"
    WITHDRAWAL_FEE = "withdrawal_fee"
    CONNECTS = "connects"


PROCESSOR_CLEARING = "processor:clearing"
PAYOUTS_CLEARING = "payouts:clearing"


def client_funding_source(client_id: str) -> str:
    return f"client:{client_id}:funding_source"


def client_credit(client_id: str) -> str:
    return f"client:{client_id}:credit"


def escrow(contract_id: UUID, milestone_id: UUID) -> str:
    return f"escrow:{contract_id}:{milestone_id}"


def freelancer_pending(freelancer_id: str) -> str:
    return f"freelancer:{freelancer_id}:pending"


def freelancer_available(freelancer_id: str) -> str:
    return f"freelancer:{freelancer_id}:available"


def revenue(kind: Revenue) -> str:
    return f"revenue:{kind.value}"


def deferred_initiation_fee(contract_id: UUID) -> str:
    return f"deferred:initiation_fee:{contract_id}"


_KIND_BY_PREFIX: tuple[tuple[str, AccountKind], ...] = (
    ("processor:", AccountKind.ASSET),
    ("payouts:", AccountKind.ASSET),
    ("revenue:", AccountKind.INCOME),
    ("deferred:", AccountKind.LIABILITY),
    ("escrow:", AccountKind.LIABILITY),
    ("escrow_dispute:", AccountKind.LIABILITY),
    ("review:", AccountKind.LIABILITY),
    ("freelancer:", AccountKind.LIABILITY),
)


def kind_of(account: str) -> AccountKind:
    """The kind of an account id, refusing ids outside the chart."""
    if account.startswith("client:"):
        return AccountKind.EXTERNAL if account.endswith(":funding_source") else (
            AccountKind.LIABILITY
        )
    for prefix, kind in _KIND_BY_PREFIX:
        if account.startswith(prefix):
            return kind
    raise AccountNotFound(f"{account!r} is not in the chart of accounts")
