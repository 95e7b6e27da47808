"""Finance flags a client (and lifts the flag): a mark the Job Success Score inputs report.

The flag lives on the client's standing, the aggregate a chargeback suspends,
registered here if the client never had one. Flagging moves no money and
blocks nothing. Flagging a flagged client (or unflagging one that is not) is
refused, so each flag is one event; the same idempotency key answers again.
"""

from __future__ import annotations

from typing import Any

from domain.balances.client_standing import ClientStanding
from domain.bookkeeping.accounts import PARTY_ID
from domain.contracts.terms import PARTY
from domain.errors import InvalidInput
from ledger.commands.contracts import standing
from ledger.engine import CommandEngine, CommandResult, Decision
from ledger.unit_of_work import UnitOfWork

MAX_REASON = 500


def flag_json(s: ClientStanding) -> dict[str, Any]:
    return {"client_id": s.client_id, "flagged": s.flagged, "reason": s.flag_reason}


def _checked(client_id: str, reason: str) -> None:
    if not PARTY.fullmatch(client_id):
        raise InvalidInput(f"client_id must match {PARTY_ID}, got {client_id!r}")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"a reason is at most {MAX_REASON} characters")


class ClientFlagCommands(CommandEngine):
    def flag_client(self, *, client_id: str, reason: str, actor: str,
                    idempotency_key: str | None = None) -> CommandResult:
        """Finance flags ``client_id`` for ``reason`` (409 when it already is)."""
        _checked(client_id, reason)
        request = {"client_id": client_id, "reason": reason}

        def decide(uow: UnitOfWork) -> Decision:
            client = standing(uow, client_id) or uow.add(
                ClientStanding.register(client_id, uow.at))
            client.flag(reason=reason, at=uow.at, actor=actor)
            return Decision(flag_json(client))

        return self.execute("flag_client", idempotency_key, request, decide)

    def unflag_client(self, *, client_id: str, reason: str, actor: str,
                      idempotency_key: str | None = None) -> CommandResult:
        """Finance lifts its flag on ``client_id`` (409 when it is not flagged)."""
        _checked(client_id, reason)
        request = {"client_id": client_id, "reason": reason}

        def decide(uow: UnitOfWork) -> Decision:
            client = standing(uow, client_id) or uow.add(
                ClientStanding.register(client_id, uow.at))
            client.unflag(reason=reason, at=uow.at, actor=actor)
            return Decision(flag_json(client))

        return self.execute("unflag_client", idempotency_key, request, decide)
