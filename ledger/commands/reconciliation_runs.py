"""Recording reconciliation runs and finance's resolutions of their breaks.

The matching itself happens in ``reconciliation/`` (it reads the log and the
files); what it found is recorded here as one command, so a run is in the log
with its inputs' SHA-256, its rules' version, its counts and its breaks, and a
retried request with the same idempotency key answers the same run instead of
recording a second one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid4

from domain.errors import ReconciliationRunNotFound
from domain.reconciliation_run import ReconciliationRun, ResolvedBreaks, run_ref
from ledger.engine import CommandEngine, CommandResult, Decision
from ledger.unit_of_work import UnitOfWork

_RUN = re.compile(r"run_([0-9a-f]{32})")


def run_uuid_of(run_id: str) -> UUID:
    match = _RUN.fullmatch(run_id) if isinstance(run_id, str) else None
    if match is None:
        raise ReconciliationRunNotFound(f"{run_id!r} is not a reconciliation run id")
    return UUID(hex=match.group(1))


def run_summary_json(run: ReconciliationRun) -> dict[str, Any]:
    """A run without its breaks: what was compared, by which rules, and what came out."""
    by_kind: dict[str, int] = {}
    for b in run.breaks:
        by_kind[b["kind"]] = by_kind.get(b["kind"], 0) + 1
    return {
        "run_id": run.run_id, "kind": run.kind, "inputs": run.inputs,
        "rules": {"version": run.rules_version, "sha256": run.rules_sha256},
        "as_of": run.as_of, "recorded_at": run.recorded_at.isoformat(),
        "recorded_by": run.actor, "summary": run.summary,
        "breaks_total": len(run.breaks), "breaks_open": run.open_breaks(),
        "breaks_by_kind": dict(sorted(by_kind.items())),
        "safeguarding": run.safeguarding,
    }


def break_json(run: ReconciliationRun, b: dict[str, Any]) -> dict[str, Any]:
    resolution = run.resolutions.get(b["break_id"])
    return {**b, "status": "resolved" if resolution else "open", "resolution": resolution}


class ReconciliationRunCommands(CommandEngine):
    def record_reconciliation_run(
        self, *, kind: str, inputs: list[dict[str, Any]], rules_version: str,
        rules_sha256: str, as_of: str | None, breaks: Sequence[dict[str, Any]],
        summary: dict[str, Any], safeguarding: list[dict[str, Any]], actor: str,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """One run, whole. The request a key stands for is the inputs (by SHA-256), the
        rules and the moment: the result follows from them and the log."""
        request = {"kind": kind, "inputs": [i["sha256"] for i in inputs],
                   "rules_sha256": rules_sha256, "as_of": as_of}

        def decide(uow: UnitOfWork) -> Decision:
            registry = uow.get(ResolvedBreaks, ResolvedBreaks.id_for())
            found = registry.carried(breaks) if registry is not None else list(breaks)
            run = uow.add(ReconciliationRun.record(
                run_uuid=uuid4(), kind=kind, inputs=inputs, rules_version=rules_version,
                rules_sha256=rules_sha256, as_of=as_of, breaks=found, summary=summary,
                safeguarding=safeguarding, at=uow.at, actor=actor))
            return Decision(run_summary_json(run))

        return self.execute("record_reconciliation_run", idempotency_key, request, decide)

    def resolve_break(self, *, run_id: str, break_id: str, reason: str, actor: str,
                      idempotency_key: str | None = None) -> CommandResult:
        """Finance explains a break (409 when already resolved); no money moves."""
        run_uuid = run_uuid_of(run_id)
        request = {"run_id": run_id, "break_id": break_id, "reason": reason}

        def decide(uow: UnitOfWork) -> Decision:
            run = uow.get(ReconciliationRun, run_uuid)
            if run is None:
                raise ReconciliationRunNotFound(f"reconciliation run {run_id!r} not found")
            run.resolve(break_id, reason=reason, at=uow.at, actor=actor)
            registry = uow.get(ResolvedBreaks, ResolvedBreaks.id_for()) or uow.add(
                ResolvedBreaks.register(uow.at))
            registry.note(key=run.break_of(break_id)["key"], run_id=run_id, break_id=break_id,
                          reason=reason.strip(), at=uow.at, actor=actor)
            return Decision(break_json(run, run.break_of(break_id)))

        return self.execute("resolve_break", idempotency_key, request, decide)

    def reconciliation_run(self, run_id: str) -> ReconciliationRun:
        run = self.find(ReconciliationRun, run_uuid_of(run_id))
        if run is None:
            raise ReconciliationRunNotFound(f"reconciliation run {run_id!r} not found")
        return run


__all__ = ["ReconciliationRunCommands", "break_json", "run_ref", "run_summary_json",
           "run_uuid_of"]
