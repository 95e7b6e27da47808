"""Idempotency keys as events, saved in the same atomic unit as the command's events.

A key's record is an aggregate whose id derives from the key, created by the
command it answers. Two racers with one key both try to write version 1 of the
same aggregate; the store's uniqueness refuses the second, which retries, finds
the record, and answers with the first response. No separate table, no window
between "write events" and "remember key", and the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate


def request_fingerprint(command: str, request: dict[str, Any]) -> str:
    """SHA-256 of the command name and its canonical JSON arguments."""
    canonical = json.dumps(
        {"command": command, "request": request}, sort_keys=True, separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class CommandRecord(Aggregate):
    class Accepted(Aggregate.Created):
        """A command with this idempotency key was applied and answered so.

        ``request_id`` is the ``X-Request-Id`` of the HTTP request it ran for
        (None outside one: the scheduler, the command line). Version 2 added it;
        version 1 events read as None.
        """

        class_version = 2

        key: str
        command: str
        request_hash: str
        response: dict[str, Any]
        request_id: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["request_id"] = None

        def apply(self, agg: CommandRecord) -> None:
            agg.key = self.key
            agg.command = self.command
            agg.request_hash = self.request_hash
            agg.response = self.response
            agg.request_id = self.request_id

    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        key: str
        command: str
        request_hash: str
        response: dict[str, Any]
        request_id: str | None

    @staticmethod
    def id_for(key: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"escrow-ledger:idempotency-key:{key}")

    @classmethod
    def accept(
        cls, *, key: str, command: str, request_hash: str, response: dict[str, Any],
        at: datetime, request_id: str | None = None,
    ) -> CommandRecord:
        return cls._create(
            cls.Accepted,
            id=cls.id_for(key),
            timestamp=at,
            key=key,
            command=command,
            request_hash=request_hash,
            response=response,
            request_id=request_id,
        )
