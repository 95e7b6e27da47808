"""A client's standing: whether a chargeback has suspended it, and whether finance flagged it.

A client who charged a payment back may not move money on the platform until
the chargeback is won by us (or finance reinstates it, later): the suspension
is per client, across all of its contracts, so it is an aggregate of its own,
decided in the same unit as the chargeback that causes it.

A flag is finance's mark on a client (abuse, a pattern of bad-faith endings):
it moves no money and blocks nothing; the Job Success Score inputs report it
so a flagged client's contracts can be weighed accordingly.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import ClientAlreadyFlagged, ClientNotFlagged, ClientSuspended, InvalidInput


class ClientStanding(Aggregate):
    class Registered(Aggregate.Created):
        client_id: str

        def apply(self, agg: ClientStanding) -> None:
            agg.client_id = self.client_id
            agg.suspended_by = ()
            agg.flag_reason = None

    class Suspended(Aggregate.Event):
        chargeback_id: str

        def apply(self, agg: ClientStanding) -> None:
            agg.suspended_by = (*agg.suspended_by, self.chargeback_id)

    class Reinstated(Aggregate.Event):
        """The chargeback that suspended the client was won."""

        chargeback_id: str

        def apply(self, agg: ClientStanding) -> None:
            agg.suspended_by = tuple(c for c in agg.suspended_by if c != self.chargeback_id)

    class Flagged(Aggregate.Event):
        """Finance flagged the client, for ``reason``."""

        client_id: str
        reason: str
        actor: str

        def apply(self, agg: ClientStanding) -> None:
            agg.flag_reason = self.reason

    class Unflagged(Aggregate.Event):
        """Finance lifted its flag."""

        client_id: str
        reason: str
        actor: str

        def apply(self, agg: ClientStanding) -> None:
            agg.flag_reason = None

    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        client_id: str
        suspended_by: tuple[str, ...]
        flag_reason: str | None

    @staticmethod
    def id_for(client_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"escrow-ledger:client-standing:{client_id}")

    @classmethod
    def register(cls, client_id: str, at: datetime) -> ClientStanding:
        return cls._create(cls.Registered, id=cls.id_for(client_id), timestamp=at,
                           client_id=client_id)

    @property
    def suspended(self) -> bool:
        return bool(self.suspended_by)

    def require_in_good_standing(self) -> None:
        if self.suspended:
            raise ClientSuspended(
                f"client {self.client_id} is suspended by chargeback "
                f"{', '.join(self.suspended_by)}: no command may move its money")

    def suspend(self, *, chargeback_id: str, at: datetime) -> None:
        self.trigger_event(self.Suspended, timestamp=at, chargeback_id=chargeback_id)

    def reinstate(self, *, chargeback_id: str, at: datetime) -> None:
        if chargeback_id in self.suspended_by:
            self.trigger_event(self.Reinstated, timestamp=at, chargeback_id=chargeback_id)

    @property
    def flagged(self) -> bool:
        return self.flag_reason is not None

    def flag(self, *, reason: str, at: datetime, actor: str) -> None:
        if not reason.strip():
            raise InvalidInput("a flag needs its reason")
        if self.flag_reason is not None:
            raise ClientAlreadyFlagged(f"client {self.client_id} is already flagged "
                                       f"({self.flag_reason})")
        self.trigger_event(self.Flagged, timestamp=at, client_id=self.client_id, reason=reason,
                           actor=actor)

    def unflag(self, *, reason: str, at: datetime, actor: str) -> None:
        if self.flag_reason is None:
            raise ClientNotFlagged(f"client {self.client_id} is not flagged")
        self.trigger_event(self.Unflagged, timestamp=at, client_id=self.client_id,
                           reason=reason, actor=actor)
