"""Dormant fixed-price contracts: escrow nobody touched for 90 days.

The clock counts from the contract's last milestone activity (any milestone
event: added, funded, submitted, changes requested, released, refunded,
disputed), which also ends any dormancy under way. Notices are recorded on
days 76 and 83; on day 90 the contract is dormant and the client has 7 days to
act; then the freelancer has 7 days to request release (silence refunds the
client and closes the contract); then the client has 14 days to approve or
dispute (silence releases the escrow to the freelancer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate

from domain.contracts.terms import ContractStatus
from domain.deadlines import DeadlineChange, DeadlineKind, started, stopped
from domain.errors import DormancyStateError, WindowClosed
from domain.periods import (
    DORMANCY,
    DORMANCY_CLIENT_ACTION,
    DORMANCY_NOTICES,
    DORMANCY_RELEASE_ANSWER,
    DORMANCY_RELEASE_REQUEST,
)

if TYPE_CHECKING:
    from domain.contracts.fixed_price import FixedPriceContract

REF = "dormancy"
NOTICE = DeadlineKind.DORMANCY_NOTICE
NOTICE_DAYS = tuple(offset.days for offset in DORMANCY_NOTICES)
STAGE_CLOCKS = (DeadlineKind.DORMANCY_CLIENT_ACTION, DeadlineKind.DORMANCY_RELEASE_REQUEST,
                DeadlineKind.DORMANCY_RELEASE_ANSWER)

NEITHER_ACTED = ("dormant contract: neither party acted (the client within 7 days, the "
                 "freelancer within the next 7): escrow refunded to the client")
CLIENT_SILENT = ("dormant contract: the client did not answer the freelancer's release "
                 "request within 14 days: escrow released")


class DormancyStage(StrEnum):
    CLIENT_TO_ACT = "client_to_act"
    FREELANCER_TO_REQUEST = "freelancer_to_request"
    CLIENT_TO_ANSWER = "client_to_answer"


STAGE_CLOCK = dict(zip(DormancyStage, STAGE_CLOCKS, strict=True))


@dataclass(frozen=True)
class Dormancy:
    stage: DormancyStage
    since: datetime
    due_at: datetime


# ---- what every milestone event does -----------------------------------------------


def touch(c: Any, at: datetime) -> None:
    """A milestone changed: the 90 days start again and any dormancy ends (events only)."""
    c.last_activity_at = at
    c.dormancy_notices = ()
    c.dormancy = None


def restart_clocks(subject: object, at: datetime,
                   watched: bool | None = True) -> list[DeadlineChange]:
    """The clocks a milestone event restarts, or stops when it left no escrow to watch
    (``watched`` False; None, on events stored before it was recorded, restarts them and
    their firing finds nothing to do)."""
    if watched is False:
        return [stopped(NOTICE, subject, str(day)) for day in NOTICE_DAYS] + [
            stopped(kind, subject, REF) for kind in (DeadlineKind.DORMANCY, *STAGE_CLOCKS)]
    return [
        *(started(NOTICE, subject, str(day), at + offset)
          for day, offset in zip(NOTICE_DAYS, DORMANCY_NOTICES, strict=True)),
        started(DeadlineKind.DORMANCY, subject, REF, at + DORMANCY),
        *(stopped(kind, subject, REF) for kind in STAGE_CLOCKS),
    ]


# ---- events ---------------------------------------------------------------------------


class DormancyNoticeRecorded(Aggregate.Event):
    """Day 76 or 83 without milestone activity on held escrow: the parties were told."""

    day: int
    dormant_from: datetime
    actor: str

    def apply(self, c: FixedPriceContract) -> None:
        c.dormancy_notices = (*c.dormancy_notices, self.day)


class WentDormant(Aggregate.Event):
    """Day 90: the contract is dormant; the client has until ``client_act_by``."""

    client_act_by: datetime
    actor: str

    def apply(self, c: FixedPriceContract) -> None:
        c.dormancy = Dormancy(DormancyStage.CLIENT_TO_ACT, self.timestamp, self.client_act_by)

    def deadline_changes(self) -> list[DeadlineChange]:
        return [started(DeadlineKind.DORMANCY_CLIENT_ACTION, self.originator_id, REF,
                        self.client_act_by)]


class DormantClientSilent(Aggregate.Event):
    """The client did not act: the freelancer may request release until ``request_by``."""

    request_by: datetime
    actor: str

    def apply(self, c: FixedPriceContract) -> None:
        c.dormancy = Dormancy(DormancyStage.FREELANCER_TO_REQUEST, self.timestamp,
                              self.request_by)

    def deadline_changes(self) -> list[DeadlineChange]:
        return [stopped(DeadlineKind.DORMANCY_CLIENT_ACTION, self.originator_id, REF),
                started(DeadlineKind.DORMANCY_RELEASE_REQUEST, self.originator_id, REF,
                        self.request_by)]


class DormantReleaseRequested(Aggregate.Event):
    """The freelancer asked for the escrow: the client may approve or dispute until
    ``answer_by``; silence releases it."""

    answer_by: datetime
    actor: str

    def apply(self, c: FixedPriceContract) -> None:
        c.dormancy = Dormancy(DormancyStage.CLIENT_TO_ANSWER, self.timestamp, self.answer_by)

    def deadline_changes(self) -> list[DeadlineChange]:
        return [stopped(DeadlineKind.DORMANCY_RELEASE_REQUEST, self.originator_id, REF),
                started(DeadlineKind.DORMANCY_RELEASE_ANSWER, self.originator_id, REF,
                        self.answer_by)]


# ---- rules ----------------------------------------------------------------------------


def watched(c: FixedPriceContract) -> bool:
    """Dormancy applies to an active contract holding escrow and not in a dispute."""
    return (c.status is ContractStatus.ACTIVE and c.escrow_balance().amount > 0
            and not c.open_disputes())


def running(c: FixedPriceContract) -> list[tuple[DeadlineKind, str, datetime]]:
    """The dormancy clocks now running on the contract: (kind, ref, due)."""
    if not watched(c):
        return []
    if c.dormancy is not None:
        return [(STAGE_CLOCK[c.dormancy.stage], REF, c.dormancy.due_at)]
    clocks = [(NOTICE, str(day), c.last_activity_at + offset)
              for day, offset in zip(NOTICE_DAYS, DORMANCY_NOTICES, strict=True)
              if day not in c.dormancy_notices]
    return [*clocks, (DeadlineKind.DORMANCY, REF, c.last_activity_at + DORMANCY)]


def lapsed(c: FixedPriceContract, kind: DeadlineKind, ref: str, due: datetime) -> bool:
    return (kind, ref, due) in running(c)


def on_lapse(c: FixedPriceContract, kind: DeadlineKind, ref: str, at: datetime,
             actor: str) -> str:
    """Records what the clock's end means; answers it. Money moves in the caller."""
    if kind is NOTICE:
        c.trigger_event(c.DormancyNoticeRecorded, timestamp=at, day=int(ref),
                        dormant_from=c.last_activity_at + DORMANCY, actor=actor)
        return f"notice day {ref}"
    if kind is DeadlineKind.DORMANCY:
        c.trigger_event(c.WentDormant, timestamp=at, client_act_by=at + DORMANCY_CLIENT_ACTION,
                        actor=actor)
        return "dormant"
    if kind is DeadlineKind.DORMANCY_CLIENT_ACTION:
        c.trigger_event(c.DormantClientSilent, timestamp=at,
                        request_by=at + DORMANCY_RELEASE_REQUEST, actor=actor)
        return "client silent"
    if kind is DeadlineKind.DORMANCY_RELEASE_REQUEST:
        return "refund"
    return "release"


def request_release(c: FixedPriceContract, *, at: datetime, actor: str) -> None:
    """The freelancer asks for a dormant contract's escrow, in its 7 days."""
    d = c.dormancy
    if not watched(c):
        raise DormancyStateError(f"contract {c.id} is not dormant: it is {c.status.value}, "
                                 "holds no escrow outside a dispute, or is in dispute")
    if d is None or d.stage is not DormancyStage.FREELANCER_TO_REQUEST:
        stage = "not dormant" if d is None else f"at stage {d.stage.value}"
        raise DormancyStateError(f"contract {c.id} is {stage}: release can be requested "
                                 "only after a dormant contract's client stayed silent 7 days")
    if at >= d.due_at:
        raise WindowClosed(f"release could be requested until {d.due_at.isoformat()}")
    c.trigger_event(c.DormantReleaseRequested, timestamp=at,
                    answer_by=at + DORMANCY_RELEASE_ANSWER, actor=actor)


def require_client_to_answer(c: FixedPriceContract, at: datetime) -> None:
    d = c.dormancy
    if d is None or d.stage is not DormancyStage.CLIENT_TO_ANSWER or not watched(c):
        raise DormancyStateError(f"contract {c.id} has no release request from dormancy "
                                 "awaiting the client's answer")
    if at >= d.due_at:
        raise WindowClosed(f"the release request could be answered until "
                           f"{d.due_at.isoformat()}")
