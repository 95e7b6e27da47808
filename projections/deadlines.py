"""Which deadlines an event starts or ends: the due-deadlines read model.

Events that start a clock record their due time (a submission's review due
date, a release's end of security period, a refund request's answer-by date);
the events that settle the matter end it. The scheduler reads the resulting
table instead of scanning every aggregate.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.contract import FixedPriceContract
from domain.freelancer_balance import FreelancerBalance


class DeadlineKind(StrEnum):
    AUTO_RELEASE = "auto_release"
    """Client silent 14 days after a submission: the milestone is approved."""
    REFUND_REQUEST_TIMEOUT = "refund_request_timeout"
    """Freelancer silent 7 days after an escrow refund request: it is approved."""
    SECURITY_PERIOD = "security_period"
    """Released money pending 5 days becomes available."""


@dataclass(frozen=True)
class DeadlineOp:
    """Set (``due_us`` given) or clear (``due_us`` None) one deadline."""

    kind: DeadlineKind
    subject: str
    ref: str
    due_us: int | None

    @property
    def deadline_id(self) -> str:
        return f"{self.kind.value}:{self.subject}:{self.ref}"


def deadline_ops(event: Any, epoch_us: Any) -> list[DeadlineOp]:
    """The deadline changes one event makes, in order."""
    kind_release = DeadlineKind.AUTO_RELEASE
    if isinstance(event, FixedPriceContract.WorkSubmitted):
        return [DeadlineOp(kind_release, str(event.originator_id), event.milestone_id,
                           epoch_us(event.review_due_at))]
    if isinstance(event, (FixedPriceContract.ChangesRequested,
                          FixedPriceContract.MilestoneReleased)):
        return [DeadlineOp(kind_release, str(event.originator_id), event.milestone_id, None)]
    if isinstance(event, FixedPriceContract.EscrowRefunded):
        # the contract ends here; every review clock on it stops
        ops = [DeadlineOp(kind_release, str(event.originator_id), a.milestone_id, None)
               for a in event.amounts]
        if event.request_id is not None:
            ops.append(DeadlineOp(DeadlineKind.REFUND_REQUEST_TIMEOUT,
                                  str(event.originator_id), event.request_id, None))
        return ops
    if isinstance(event, FixedPriceContract.EscrowRefundRequested):
        ops = [DeadlineOp(kind_release, str(event.originator_id), a.milestone_id, None)
               for a in event.amounts]
        ops.append(DeadlineOp(DeadlineKind.REFUND_REQUEST_TIMEOUT, str(event.originator_id),
                              event.request_id, epoch_us(event.respond_by)))
        return ops
    if isinstance(event, FreelancerBalance.EarningsPending):
        return [DeadlineOp(DeadlineKind.SECURITY_PERIOD, _freelancer_subject(event),
                           event.lot.lot_id, epoch_us(event.lot.available_at))]
    if isinstance(event, FreelancerBalance.EarningsMatured):
        return [DeadlineOp(DeadlineKind.SECURITY_PERIOD, _freelancer_subject(event), lot_id, None)
                for lot_id in event.lot_ids]
    return []


def _freelancer_subject(event: Any) -> str:
    """The freelancer balance aggregate's id: the scheduler loads it by this id."""
    return str(event.originator_id)
