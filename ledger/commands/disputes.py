"""Fixed-price disputes: opening one, each party's step, the outcome, and their clocks.

A dispute id names its contract (``dsp_<contract>_<version>``), so every
step loads that contract, brings its clocks up to the command's time, and
decides. Every step answers the dispute as ``GET /v1/disputes/{id}`` shows it.
"""

from __future__ import annotations

from typing import Any

from moneyed import Money

from domain.contracts import fixed_price_disputes as disputes
from domain.contracts.fixed_price import FixedPriceContract
from domain.contracts.references import DISPUTE, parse_reference
from domain.contracts.settlement import Parties
from domain.contracts.terms import Party
from domain.deadlines import Deadline, DeadlineKind
from domain.errors import ContractNotFound, DisputeNotFound, WrongContractKind
from ledger.commands.contracts import fired_by
from ledger.commands.fixed_price import load_contract, load_parties
from ledger.dispute_views import dispute_json
from ledger.engine import CommandEngine, CommandResult, Decision
from ledger.results import money_json
from ledger.unit_of_work import Handler, UnitOfWork


def contract_of_dispute(dispute_id: str) -> str:
    contract_id, _ = parse_reference(DISPUTE, dispute_id, DisputeNotFound)
    return str(contract_id)


def _load(uow: UnitOfWork, dispute_id: str) -> FixedPriceContract:
    """The contract a dispute id names; one that names no fixed-price contract is a 404."""
    try:
        return load_contract(uow, contract_of_dispute(dispute_id))
    except (ContractNotFound, WrongContractKind):
        raise DisputeNotFound(f"dispute {dispute_id} not found") from None


def _parties(uow: UnitOfWork, dispute_id: str) -> Parties:
    c = _load(uow, dispute_id)
    return load_parties(uow, c.id)


def _answer(c: FixedPriceContract, dispute_id: str) -> Decision:
    return Decision(dispute_json(c, disputes.dispute_of(c, dispute_id)), contract=c)


def _on_lapse(engine: CommandEngine, uow: UnitOfWork, d: Deadline) -> dict[str, Any]:
    """A dispute stage's clock ran out: silence decides as the rules say."""
    p = load_parties(uow, d.subject)
    if not disputes.clock_lapsed(p.contract, d.ref, d.kind, d.due):
        return {"contract_id": d.subject, "dispute_id": d.ref, "lapsed": False}
    did = disputes.on_lapse(p, dispute_id=d.ref, kind=d.kind, at=d.due, actor=fired_by(d),
                            fees=engine.fees)
    return {**dispute_json(p.contract, disputes.dispute_of(p.contract, d.ref)),
            "lapsed": True, "decided": did}


DEADLINES: dict[DeadlineKind, Handler] = {
    DeadlineKind.DISPUTE_RESPONSE: _on_lapse,
    DeadlineKind.MEDIATION_PROPOSAL: _on_lapse,
    DeadlineKind.MEDIATION_ACCEPTANCE: _on_lapse,
    DeadlineKind.ARBITRATION_FEE: _on_lapse,
}


class DisputeCommands(CommandEngine):
    def dispute_refund_request(
        self, *, contract_id: str, request_id: str, actor: str,
        expected_version: int | None = None, idempotency_key: str | None = None,
    ) -> CommandResult:
        """The freelancer disputes the client's escrow refund request (within 7 days)."""
        request = {"contract_id": contract_id, "request_id": request_id,
                   "expected_version": expected_version}

        def decide(uow: UnitOfWork) -> Decision:
            c = load_contract(uow, contract_id, expected_version)
            dispute_id = disputes.open_on_refund_request(c, request_id=request_id, at=uow.at,
                                                         actor=actor)
            return _answer(c, dispute_id)

        return self.execute("dispute_refund_request", idempotency_key, request, decide)

    def dispute_milestone(
        self, *, contract_id: str, milestone_id: str, actor: str,
        expected_version: int | None = None, idempotency_key: str | None = None,
    ) -> CommandResult:
        """The freelancer disputes a milestone the client will not release."""
        request = {"contract_id": contract_id, "milestone_id": milestone_id,
                   "expected_version": expected_version}

        def decide(uow: UnitOfWork) -> Decision:
            c = load_contract(uow, contract_id, expected_version)
            dispute_id = disputes.open_on_milestone(c, milestone_id=milestone_id, at=uow.at,
                                                    actor=actor)
            return _answer(c, dispute_id)

        return self.execute("dispute_milestone", idempotency_key, request, decide)

    def respond_to_dispute(self, *, dispute_id: str, by: Party, actor: str,
                           idempotency_key: str | None = None) -> CommandResult:
        request = {"dispute_id": dispute_id, "by": by.value}

        def decide(uow: UnitOfWork) -> Decision:
            c = _load(uow, dispute_id)
            disputes.respond(c, dispute_id=dispute_id, by=by, at=uow.at, actor=actor)
            return _answer(c, dispute_id)

        return self.execute("respond_to_dispute", idempotency_key, request, decide)

    def propose_dispute_settlement(self, *, dispute_id: str, release: Money, actor: str,
                                   idempotency_key: str | None = None) -> CommandResult:
        """The mediator proposes ``release`` to the freelancer, the rest to the client."""
        request = {"dispute_id": dispute_id, "release": money_json(release)}

        def decide(uow: UnitOfWork) -> Decision:
            c = _load(uow, dispute_id)
            disputes.propose(c, dispute_id=dispute_id, release=release, at=uow.at, actor=actor)
            return _answer(c, dispute_id)

        return self.execute("propose_dispute_settlement", idempotency_key, request, decide)

    def accept_dispute_proposal(self, *, dispute_id: str, by: Party, actor: str,
                                idempotency_key: str | None = None) -> CommandResult:
        request = {"dispute_id": dispute_id, "by": by.value}

        def decide(uow: UnitOfWork) -> Decision:
            p = _parties(uow, dispute_id)
            disputes.accept(p, dispute_id=dispute_id, by=by, at=uow.at, actor=actor,
                            fees=self.fees)
            return _answer(p.contract, dispute_id)

        return self.execute("accept_dispute_proposal", idempotency_key, request, decide)

    def decline_dispute_proposal(self, *, dispute_id: str, by: Party, actor: str,
                                 idempotency_key: str | None = None) -> CommandResult:
        request = {"dispute_id": dispute_id, "by": by.value}

        def decide(uow: UnitOfWork) -> Decision:
            c = _load(uow, dispute_id)
            disputes.decline(c, dispute_id=dispute_id, by=by, at=uow.at, actor=actor,
                             fees=self.fees)
            return _answer(c, dispute_id)

        return self.execute("decline_dispute_proposal", idempotency_key, request, decide)

    def pay_arbitration_fee(self, *, dispute_id: str, by: Party, actor: str,
                            idempotency_key: str | None = None) -> CommandResult:
        request = {"dispute_id": dispute_id, "by": by.value}

        def decide(uow: UnitOfWork) -> Decision:
            c = _load(uow, dispute_id)
            disputes.pay_arbitration_fee(c, dispute_id=dispute_id, by=by, at=uow.at,
                                         actor=actor, fees=self.fees)
            return _answer(c, dispute_id)

        return self.execute("pay_arbitration_fee", idempotency_key, request, decide)

    def rule_on_dispute(self, *, dispute_id: str, release: Money, actor: str,
                        idempotency_key: str | None = None) -> CommandResult:
        """The arbitrator's binding ruling: ``release`` to the freelancer, the rest refunded."""
        request = {"dispute_id": dispute_id, "release": money_json(release)}

        def decide(uow: UnitOfWork) -> Decision:
            p = _parties(uow, dispute_id)
            disputes.rule(p, dispute_id=dispute_id, release=release, at=uow.at, actor=actor,
                          fees=self.fees)
            return _answer(p.contract, dispute_id)

        return self.execute("rule_on_dispute", idempotency_key, request, decide)
