"""Dormant fixed-price contracts: the clocks, the freelancer's release request, and the
client's dispute of it."""

from __future__ import annotations

from typing import Any

from domain.contracts import dormancy
from domain.contracts import fixed_price_disputes as disputes
from domain.contracts.fixed_price import FixedPriceContract
from domain.contracts.settlement import release_to_freelancer
from domain.contracts.terms import Party
from domain.deadlines import Deadline, DeadlineKind
from ledger.commands.contracts import fired_by
from ledger.commands.fixed_price import load_contract, load_parties
from ledger.dispute_views import dispute_json
from ledger.engine import CommandEngine, CommandResult, Decision
from ledger.unit_of_work import Handler, UnitOfWork


def dormancy_json(c: FixedPriceContract) -> dict[str, Any]:
    d = c.dormancy
    return {
        "contract_id": str(c.id),
        "last_activity_at": c.last_activity_at.isoformat(),
        "notices": list(c.dormancy_notices),
        "stage": None if d is None else d.stage.value,
        "due_at": None if d is None else d.due_at.isoformat(),
    }


def _on_lapse(engine: CommandEngine, uow: UnitOfWork, d: Deadline) -> dict[str, Any]:
    p = load_parties(uow, d.subject)
    c = p.contract
    if not dormancy.lapsed(c, d.kind, d.ref, d.due):
        return {"contract_id": d.subject, "lapsed": False}
    actor = fired_by(d)
    did = dormancy.on_lapse(c, d.kind, d.ref, d.due, actor)
    if d.kind is DeadlineKind.DORMANCY_RELEASE_REQUEST:
        c.close_dormant(reason=dormancy.NEITHER_ACTED, at=d.due, actor=actor)
    elif d.kind is DeadlineKind.DORMANCY_RELEASE_ANSWER:
        for m in [m for m in c.milestones.values() if m.escrow.amount > 0]:
            release_to_freelancer(p, milestone_id=m.milestone_id, gross=m.escrow,
                                  reason=dormancy.CLIENT_SILENT, at=d.due, actor=actor,
                                  fees=engine.fees, allow_closed=True)
    return {**dormancy_json(c), "lapsed": True, "decided": did, "status": c.status.value}


DEADLINES: dict[DeadlineKind, Handler] = {
    kind: _on_lapse for kind in (
        DeadlineKind.DORMANCY_NOTICE, DeadlineKind.DORMANCY,
        DeadlineKind.DORMANCY_CLIENT_ACTION, DeadlineKind.DORMANCY_RELEASE_REQUEST,
        DeadlineKind.DORMANCY_RELEASE_ANSWER)
}


class DormancyCommands(CommandEngine):
    def request_dormant_release(
        self, *, contract_id: str, actor: str, expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """The freelancer asks for a dormant contract's escrow (the client stayed silent)."""
        request = {"contract_id": contract_id, "expected_version": expected_version}

        def decide(uow: UnitOfWork) -> Decision:
            c = load_contract(uow, contract_id, expected_version)
            dormancy.request_release(c, at=uow.at, actor=actor)
            return Decision(dormancy_json(c), contract=c)

        return self.execute("request_dormant_release", idempotency_key, request, decide)

    def dispute_dormant_release(
        self, *, contract_id: str, actor: str, expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """The client disputes the release request: all the escrow goes to mediation."""
        request = {"contract_id": contract_id, "expected_version": expected_version}

        def decide(uow: UnitOfWork) -> Decision:
            c = load_contract(uow, contract_id, expected_version)
            dormancy.require_client_to_answer(c, uow.at)
            dispute_id = disputes.open_on_dormancy(c, at=uow.at, actor=actor)
            # the client disputing is the client's response: mediation starts at once
            disputes.respond(c, dispute_id=dispute_id, by=Party.CLIENT, at=uow.at, actor=actor)
            return Decision(dispute_json(c, disputes.dispute_of(c, dispute_id)), contract=c)

        return self.execute("dispute_dormant_release", idempotency_key, request, decide)
