"""An escrow refund request: what the client asked back when it ended the contract.

It waits for the freelancer's answer; silence for 7 days approves it. The
client chose where the money goes when it ended the contract (``refund_to``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from moneyed import Money

from domain.contracts.milestone import EscrowMovement


@dataclass(frozen=True)
class RefundRequest:
    request_id: str
    amounts: tuple[EscrowMovement, ...]
    total: Money
    respond_by: datetime
    status: str  # "pending" | "approved" | "disputed" (all of it moved into a dispute)
    refund_to: str = "payment_method"
    """The client's choice: back to its payment method, or kept as ``client_credit``."""
