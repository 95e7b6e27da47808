"""A reconciliation run, recorded as events: what was compared, by which rules, what broke.

Why events: finance and auditors must see later exactly which inputs (by
SHA-256) and which rules version gave which result, and who resolved which
break with what reason. The run is recorded whole in one save (its breaks in
chunks of ``CHUNK`` so no stored event grows without bound); resolving a break
is its own event, with its actor and reason. Nothing here corrects money: a
correction is an ordinary command that posts its own entries.

Breaks and figures are stored as plain JSON-safe dicts of strings, so a run
recorded today reads back the same whatever the matcher becomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import BreakAlreadyResolved, BreakNotFound, InvalidInput

CHUNK = 1000
MAX_REASON = 1000
KINDS = ("processor", "bank", "internal")


def run_ref(run_uuid: UUID) -> str:
    return f"run_{run_uuid.hex}"


def break_ref(run_uuid: UUID, n: int) -> str:
    return f"brk_{run_uuid.hex}_{n}"


class ReconciliationRun(Aggregate):
    class Recorded(Aggregate.Created):
        """The run's inputs and rules; its breaks and totals follow in the same save."""

        kind: str
        inputs: list[dict[str, Any]]
        """Each file: name, format, sha256, lines."""
        rules_version: str
        rules_sha256: str
        as_of: str | None
        actor: str

        def apply(self, run: ReconciliationRun) -> None:
            run.kind = self.kind
            run.inputs = self.inputs
            run.rules_version = self.rules_version
            run.rules_sha256 = self.rules_sha256
            run.as_of = self.as_of
            run.actor = self.actor
            run.recorded_at = self.timestamp
            run.breaks = []
            run.summary = {}
            run.safeguarding = []
            run.resolutions = {}

    class BreaksFound(Aggregate.Event):
        """Up to ``CHUNK`` breaks, numbered on from the ones before."""

        breaks: list[dict[str, Any]]

        def apply(self, run: ReconciliationRun) -> None:
            run.breaks = [*run.breaks, *self.breaks]
            carried = {b["break_id"]: b["resolution"] for b in self.breaks
                       if b.get("resolution")}
            if carried:
                run.resolutions = {**run.resolutions, **carried}

    class Completed(Aggregate.Event):
        """Counts and matched amounts per rule, what rules excluded, and the daily
        safeguarding comparison."""

        summary: dict[str, Any]
        safeguarding: list[dict[str, Any]]

        def apply(self, run: ReconciliationRun) -> None:
            run.summary = self.summary
            run.safeguarding = self.safeguarding

    class BreakResolved(Aggregate.Event):
        break_id: str
        reason: str
        actor: str

        def apply(self, run: ReconciliationRun) -> None:
            run.resolutions = {**run.resolutions, self.break_id: {
                "reason": self.reason, "actor": self.actor,
                "resolved_at": self.timestamp.isoformat()}}

    if TYPE_CHECKING:
        kind: str
        inputs: list[dict[str, Any]]
        rules_version: str
        rules_sha256: str
        as_of: str | None
        actor: str
        recorded_at: datetime
        breaks: list[dict[str, Any]]
        summary: dict[str, Any]
        safeguarding: list[dict[str, Any]]
        resolutions: dict[str, dict[str, str]]

    @classmethod
    def record(cls, *, run_uuid: UUID, kind: str, inputs: list[dict[str, Any]],
               rules_version: str, rules_sha256: str, as_of: str | None,
               breaks: Sequence[dict[str, Any]], summary: dict[str, Any],
               safeguarding: list[dict[str, Any]], at: datetime,
               actor: str) -> ReconciliationRun:
        """A whole run: each break gets its id (``brk_<run>_<n>``, in the order given)."""
        if kind not in KINDS:
            raise InvalidInput(f"a run's kind is one of {', '.join(KINDS)}, got {kind!r}")
        run = cls._create(cls.Recorded, id=run_uuid, timestamp=at, kind=kind,
                          inputs=inputs, rules_version=rules_version,
                          rules_sha256=rules_sha256, as_of=as_of, actor=actor)
        numbered = [{**b, "break_id": break_ref(run_uuid, n)}
                    for n, b in enumerate(breaks, start=1)]
        for start in range(0, len(numbered), CHUNK):
            run.trigger_event(cls.BreaksFound, timestamp=at,
                              breaks=numbered[start:start + CHUNK])
        run.trigger_event(cls.Completed, timestamp=at, summary=summary,
                          safeguarding=safeguarding)
        return run

    @property
    def run_id(self) -> str:
        return run_ref(self.id)

    def break_of(self, break_id: str) -> dict[str, Any]:
        for b in self.breaks:
            if b["break_id"] == break_id:
                return b
        raise BreakNotFound(f"run {self.run_id} has no break {break_id!r}")

    def open_breaks(self) -> int:
        return sum(1 for b in self.breaks if b["break_id"] not in self.resolutions)

    def resolve(self, break_id: str, *, reason: str, at: datetime, actor: str) -> None:
        """Finance's explanation of a break; it moves no money and is final."""
        self.break_of(break_id)
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON:
            raise InvalidInput(f"a resolution needs a reason of 1 to {MAX_REASON} characters")
        if break_id in self.resolutions:
            raise BreakAlreadyResolved(
                f"break {break_id} was resolved by {self.resolutions[break_id]['actor']}: "
                f"{self.resolutions[break_id]['reason']}")
        self.trigger_event(self.BreakResolved, timestamp=at, break_id=break_id,
                           reason=reason, actor=actor)


class ResolvedBreaks(Aggregate):
    """Every break finance has resolved, by key: a later run that finds the same break (the
    same kind and evidence, so the same key) records it as resolved, naming the run and the
    reason, instead of asking finance to explain it again."""

    class Registered(Aggregate.Created):
        def apply(self, registry: ResolvedBreaks) -> None:
            registry.resolved = {}

    class Noted(Aggregate.Event):
        key: str
        run_id: str
        break_id: str
        reason: str
        actor: str

        def apply(self, registry: ResolvedBreaks) -> None:
            registry.resolved = {**registry.resolved, self.key: {
                "reason": self.reason, "actor": self.actor,
                "resolved_at": self.timestamp.isoformat(),
                "carried_from_run": self.run_id, "carried_from_break": self.break_id}}

    if TYPE_CHECKING:
        resolved: dict[str, dict[str, str]]

    @staticmethod
    def id_for() -> UUID:
        return uuid5(NAMESPACE_URL, "escrow-ledger:reconciliation:resolved-breaks")

    @classmethod
    def register(cls, at: datetime) -> ResolvedBreaks:
        return cls._create(cls.Registered, id=cls.id_for(), timestamp=at)

    def note(self, *, key: str, run_id: str, break_id: str, reason: str, at: datetime,
             actor: str) -> None:
        self.trigger_event(self.Noted, timestamp=at, key=key, run_id=run_id,
                           break_id=break_id, reason=reason, actor=actor)

    def carried(self, breaks: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The breaks, each already resolved under its key marked with that resolution."""
        return [{**b, "resolution": self.resolved[b["key"]]} if b["key"] in self.resolved
                else b for b in breaks]
