"""The chart of accounts: which accounts exist, and which side is their normal side.

Account ids are plain strings (``escrow:<contract>:<milestone>``) so a posting
recorded today still names its account in ten years without any lookup table:
history never depends on today's code. The prefix decides the kind.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from uuid import UUID

from domain.errors import AccountNotFound


class AccountKind(StrEnum):
    """Normal side decides the sign of a reported balance."""

    ASSET = "asset"
    LIABILITY = "liability"
    INCOME = "income"
    EXPENSE = "expense"
    EXTERNAL = "external"

    @property
    def debit_normal(self) -> bool:
        return self in (AccountKind.ASSET, AccountKind.EXPENSE, AccountKind.EXTERNAL)


class Revenue(StrEnum):
    SERVICE_FEE = "service_fee"
    MARKETPLACE_FEE = "marketplace_fee"
    INITIATION_FEE = "initiation_fee"
    WITHDRAWAL_FEE = "withdrawal_fee"
    CONNECTS = "connects"
    CONNECTS_BREAKAGE = "connects_breakage"
    MEMBERSHIP = "membership"


PROCESSOR_CLEARING = "processor:clearing"
PAYOUTS_CLEARING = "payouts:clearing"
ARBITRATION_PAYABLE = "arbitration:payable"
"""Arbitration fees the parties paid, owed to the arbitrator: never returned to them."""
CHARGEBACK_LOSSES = "expense:chargeback_losses"
"""What the platform absorbs when a chargeback takes back a protected payment."""


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


def freelancer_in_flight(freelancer_id: str) -> str:
    """Withdrawals requested and not yet settled or returned: still owed to the freelancer."""
    return f"freelancer:{freelancer_id}:in_flight"


def revenue(kind: Revenue) -> str:
    return f"revenue:{kind.value}"


def deferred_initiation_fee(contract_id: UUID) -> str:
    return f"deferred:initiation_fee:{contract_id}"


def hourly_review(contract_id: UUID, week_start: date) -> str:
    """An hourly week's charge, held from Monday's invoice until its review ends."""
    return f"hourly_review:{contract_id}:{week_start.isoformat()}"


DEFERRED_CONNECTS = "deferred:connects"
"""Money paid for Connects not yet spent or expired: revenue only when they are."""
CONNECTS_ISSUED = "connects:issued"
"""Where Connects come from (in CONNECTS): the other side of every lot issued."""
CONNECTS_SPENT = "connects:spent"
CONNECTS_EXPIRED = "connects:expired"


def connects_wallet(freelancer_id: str) -> str:
    """A freelancer's unspent Connects, in the CONNECTS unit."""
    return f"connects:wallet:{freelancer_id}"


def escrow_under_dispute(contract_id: UUID) -> str:
    """Money a dispute froze on a contract, until the dispute's outcome moves it."""
    return f"escrow_dispute:{contract_id}"


PARTY_ID = r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}"
"""Client and freelancer ids become parts of account ids: no ':' or spaces."""
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_REVENUE = "|".join(r.value for r in Revenue)

_CHART: tuple[tuple[re.Pattern[str], AccountKind], ...] = tuple(
    (re.compile(pattern), kind) for pattern, kind in (
        (r"processor:clearing", AccountKind.ASSET),
        (r"payouts:clearing", AccountKind.ASSET),
        (r"arbitration:payable", AccountKind.LIABILITY),
        (r"expense:chargeback_losses", AccountKind.EXPENSE),
        (r"deferred:connects", AccountKind.LIABILITY),
        (r"connects:issued", AccountKind.EXTERNAL),
        (r"connects:(?:spent|expired)", AccountKind.INCOME),
        (rf"connects:wallet:{PARTY_ID}", AccountKind.LIABILITY),
        (rf"revenue:(?:{_REVENUE})", AccountKind.INCOME),
        (rf"deferred:initiation_fee:{_UUID}", AccountKind.LIABILITY),
        (rf"escrow:{_UUID}:{_UUID}", AccountKind.LIABILITY),
        (rf"hourly_review:{_UUID}:[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}", AccountKind.LIABILITY),
        (rf"escrow_dispute:{_UUID}", AccountKind.LIABILITY),
        (rf"freelancer:{PARTY_ID}:(?:pending|available|in_flight)", AccountKind.LIABILITY),
        (rf"client:{PARTY_ID}:credit", AccountKind.LIABILITY),
        (rf"client:{PARTY_ID}:funding_source", AccountKind.EXTERNAL),
    )
)


def kind_of(account: str) -> AccountKind:
    """The kind of an account id, refusing any id that is not in the chart exactly."""
    for pattern, kind in _CHART:
        if pattern.fullmatch(account):
            return kind
    raise AccountNotFound(f"{account!r} is not in the chart of accounts")
