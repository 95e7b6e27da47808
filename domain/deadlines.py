"""Running clocks: what a deadline is, in the domain's words.

Aggregates know which of their clocks are running (a submitted milestone's
review, a refund request awaiting the freelancer, a pending lot's security
period); events say which clocks they start or stop. The ledger fires a due
deadline with a key derived from it, so whoever fires it first (the scheduler,
the test clock, or a command that must see the outcome first) fires it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_us(when: datetime) -> int:
    """Microseconds since the epoch: an exact, store-neutral, sortable time."""
    if when.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    delta = when.astimezone(UTC) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_epoch_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=int(us))


class DeadlineKind(StrEnum):
    AUTO_RELEASE = "auto_release"
    """Client silent 14 days after a submission: the milestone is approved."""
    REFUND_REQUEST_TIMEOUT = "refund_request_timeout"
    """Freelancer silent 7 days after an escrow refund request: it is approved."""
    SECURITY_PERIOD = "security_period"
    """Released money pending 5 days becomes available."""
    HOURLY_INVOICE = "hourly_invoice"
    """Monday 12:00: the week before is invoiced and its time closes."""
    HOURLY_REVIEW_END = "hourly_review_end"
    """Friday 23:59 after the invoice: what is still in review goes to the freelancer."""
    HOURLY_DISPUTE_RESPONSE = "hourly_dispute_response"
    """Freelancer silent 3 days after an hourly dispute: it is accepted."""
    DISPUTE_RESPONSE = "dispute_response"
    """Client silent 5 days after a fixed-price dispute: the escrow goes to the freelancer."""
    MEDIATION_PROPOSAL = "mediation_proposal"
    """No mediation proposal 2 days after the client responded: arbitration."""
    MEDIATION_ACCEPTANCE = "mediation_acceptance"
    """A proposal not accepted by both within 2 days: arbitration."""
    ARBITRATION_FEE = "arbitration_fee"
    """7 days to pay the arbitration fee: whoever paid alone wins; neither, the client."""
    DORMANCY_NOTICE = "dormancy_notice"
    """Day 76 and day 83 without milestone activity on held escrow: a notice."""
    DORMANCY = "dormancy"
    """Day 90: the contract is dormant; the client has 7 days to act."""
    DORMANCY_CLIENT_ACTION = "dormancy_client_action"
    """The client did not act: the freelancer has 7 days to request release."""
    DORMANCY_RELEASE_REQUEST = "dormancy_release_request"
    """Neither acted: the escrow is refunded to the client."""
    DORMANCY_RELEASE_ANSWER = "dormancy_release_answer"
    """The client did not answer a release request in 14 days: the freelancer is paid."""
    CONNECTS_EXPIRY = "connects_expiry"
    """A year after a lot of Connects was issued: what is left of it expires."""
    CONNECTS_MONTHLY = "connects_monthly"
    """A month of a plan: Freelancer Plus is charged, and the month's Connects granted."""
    BOOST_AUCTION_CLOSE = "boost_auction_close"
    """A job's boost auction closed: a standing boost can no longer be outbid."""


@dataclass(frozen=True, order=True)
class Deadline:
    """One running clock: ``kind`` on ``subject`` (an aggregate id), item ``ref``, due then.

    Ordered by due time first, so a list of deadlines sorts into firing order.
    """

    due: datetime
    kind: DeadlineKind
    subject: str
    ref: str

    @property
    def deadline_id(self) -> str:
        return f"{self.kind.value}:{self.subject}:{self.ref}"

    @property
    def idempotency_key(self) -> str:
        """The key every firing of this deadline at this due time uses."""
        return f"deadline:{self.deadline_id}:{epoch_us(self.due)}"


@dataclass(frozen=True)
class DeadlineChange:
    """An event started (``due`` given) or stopped (``due`` None) one clock."""

    kind: DeadlineKind
    subject: str
    ref: str
    due: datetime | None

    @property
    def deadline_id(self) -> str:
        return f"{self.kind.value}:{self.subject}:{self.ref}"


def started(kind: DeadlineKind, subject: object, ref: str, due: datetime) -> DeadlineChange:
    return DeadlineChange(kind, str(subject), ref, due)


def stopped(kind: DeadlineKind, subject: object, ref: str) -> DeadlineChange:
    return DeadlineChange(kind, str(subject), ref, None)


class HasDeadlines(Protocol):
    """An aggregate whose running clocks can be listed from its state."""

    def running_deadlines(self) -> list[Deadline]: ...


def due_by(aggregate: HasDeadlines, at: datetime) -> list[Deadline]:
    """The aggregate's deadlines that fell due by ``at``, earliest first."""
    return sorted(d for d in aggregate.running_deadlines() if d.due <= at)
