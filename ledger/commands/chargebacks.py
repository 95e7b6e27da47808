"""Chargebacks on a client's payment: received, then won or lost.

The payment id names its contract, so the command loads that contract, the
client's standing and (for an unprotected payment) the freelancer's balance,
and decides all three in one atomic unit: the postings on the contract, the
suspension on the standing, the debit and hold on the balance.
"""

from __future__ import annotations

from typing import Any

from domain.balances.client_standing import ClientStanding
from domain.balances.freelancer_balance import FreelancerBalance
from domain.contracts import chargebacks
from domain.contracts.chargebacks import Chargeback
from domain.contracts.fixed_price import FixedPriceContract
from domain.contracts.hourly import HourlyContract
from domain.contracts.references import CHARGEBACK, PAYMENT, parse_reference
from domain.errors import ChargebackNotFound, ContractNotFound, PaymentNotFound
from ledger.commands.contracts import earner, load_any, standing
from ledger.engine import CommandEngine, CommandResult, Decision
from ledger.results import money_json
from ledger.unit_of_work import UnitOfWork


def chargeback_json(c: FixedPriceContract | HourlyContract, cb: Chargeback,
                    standing_: ClientStanding | None,
                    balance: FreelancerBalance | None) -> dict[str, Any]:
    return {
        "chargeback_id": cb.chargeback_id,
        "payment_id": cb.payment_id,
        "contract_id": str(c.id),
        "client_id": c.client_id,
        "freelancer_id": c.freelancer_id,
        "status": cb.status.value,
        "amount": money_json(cb.amount),
        "platform_loss": money_json(cb.platform_loss),
        "freelancer_debit": money_json(cb.freelancer_debit),
        "client_suspended": bool(standing_ and standing_.suspended),
        "freelancer_holds": balance.active_holds() if balance else [],
        "received_at": cb.received_at.isoformat(),
        "decided_at": None if cb.decided_at is None else cb.decided_at.isoformat(),
    }


def _contract(uow: UnitOfWork, kind: str, ref: str) -> FixedPriceContract | HourlyContract:
    """The contract a payment or chargeback id names; an unknown one is that id's 404."""
    not_found = PaymentNotFound if kind == PAYMENT else ChargebackNotFound
    contract_id, _ = parse_reference(kind, ref, not_found)
    try:
        return load_any(uow, contract_id)
    except ContractNotFound:
        raise not_found(f"{ref!r} not found") from None


class ChargebackCommands(CommandEngine):
    def receive_chargeback(self, *, payment_id: str, reason: str, actor: str,
                           idempotency_key: str | None = None) -> CommandResult:
        """The processor took a payment back: suspend the client; bear or pass on the loss."""
        request = {"payment_id": payment_id, "reason": reason}

        def decide(uow: UnitOfWork) -> Decision:
            c = _contract(uow, PAYMENT, payment_id)
            cb = chargebacks.receive(c, payment_id=payment_id, reason=reason, at=uow.at,
                                     actor=actor)
            client = standing(uow, c.client_id) or uow.add(
                ClientStanding.register(c.client_id, uow.at))
            client.suspend(chargeback_id=cb.chargeback_id, at=uow.at)
            balance = None
            if cb.freelancer_debit.amount > 0:
                balance = earner(uow, c).balance
                balance.charge_back(chargeback_id=cb.chargeback_id, amount=cb.freelancer_debit,
                                    at=uow.at)
            return Decision(chargeback_json(c, cb, client, balance), contract=c)

        return self.execute("receive_chargeback", idempotency_key, request, decide)

    def decide_chargeback(self, *, chargeback_id: str, won: bool, actor: str,
                          idempotency_key: str | None = None) -> CommandResult:
        """Won: the processor returned the money, everything reverses. Lost: final."""
        request = {"chargeback_id": chargeback_id, "won": won}

        def decide(uow: UnitOfWork) -> Decision:
            c = _contract(uow, CHARGEBACK, chargeback_id)
            cb = chargebacks.decide(c, chargeback_id=chargeback_id, won=won, at=uow.at,
                                    actor=actor)
            client = standing(uow, c.client_id)
            if won and client is not None:
                client.reinstate(chargeback_id=chargeback_id, at=uow.at)
            balance = None
            if cb.freelancer_debit.amount > 0:
                balance = earner(uow, c).balance
                balance.settle_chargeback(chargeback_id=chargeback_id, won=won,
                                          amount=cb.freelancer_debit, at=uow.at)
            return Decision(chargeback_json(c, cb, client, balance), contract=c)

        return self.execute("decide_chargeback", idempotency_key, request, decide)

    def chargeback_view(self, chargeback_id: str) -> dict[str, Any]:
        position = self.position()
        contract_id, _ = parse_reference(CHARGEBACK, chargeback_id, ChargebackNotFound)
        found = self.find(FixedPriceContract, contract_id) or self.find(HourlyContract,
                                                                        contract_id)
        if found is None:
            raise ChargebackNotFound(f"chargeback {chargeback_id} not found")
        cb = chargebacks.chargeback_of(found, chargeback_id)
        return {**chargeback_json(
            found, cb, self.find(ClientStanding, ClientStanding.id_for(found.client_id)),
            self.find(FreelancerBalance, FreelancerBalance.id_for(found.freelancer_id))),
            "position": position}
