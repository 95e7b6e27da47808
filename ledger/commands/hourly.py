"""Hourly contracts: time, limits, rate, pause, the Monday invoice, review and disputes."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import uuid4

from moneyed import Money

from domain.contracts import hourly_disputes, hourly_settlement
from domain.contracts.hourly import HourlyContract
from domain.contracts.terms import Party
from domain.deadlines import Deadline, DeadlineKind
from ledger.commands.contracts import earner, fired_by, load_kind
from ledger.engine import CommandEngine, CommandResult, Decision
from ledger.results import money_json
from ledger.unit_of_work import Handler, UnitOfWork


def _invoice(engine: CommandEngine, uow: UnitOfWork, d: Deadline) -> dict[str, Any]:
    """Monday 12:00: the week before is billed (or closed with nothing billable)."""
    c = load_kind(uow, HourlyContract, d.subject)
    week = date.fromisoformat(d.ref)
    c.invoice_week(week_start=week, at=d.due, actor=fired_by(d), fees=engine.fees)
    w = c.invoices.get(week)
    if w is None:
        return {"contract_id": d.subject, "week_start": d.ref, "invoiced": False}
    [charge] = [p for p in c.charges.values() if p.at == d.due and p.kind == "hourly_invoice"]
    return {"contract_id": d.subject, "week_start": d.ref, "invoiced": True,
            "payment_id": charge.payment_id,
            "minutes_logged": w.minutes_logged, "minutes_billed": w.minutes_billed,
            "amount": money_json(w.amount), "marketplace_fee": money_json(w.marketplace_fee)}


def _review_end(engine: CommandEngine, uow: UnitOfWork, d: Deadline) -> dict[str, Any]:
    """Friday 23:59: what is still in review goes to the freelancer, net of fee."""
    c = load_kind(uow, HourlyContract, d.subject)
    week = date.fromisoformat(d.ref)
    paid = hourly_settlement.end_review(c, earner(uow, c), week_start=week, at=d.due,
                                        actor=fired_by(d), fees=engine.fees)
    w = c.invoices[week]
    net = None
    if paid and w.released is not None and w.service_fee is not None:
        net = money_json(w.released - w.service_fee)
    return {"contract_id": d.subject, "week_start": d.ref, "paid": paid, "net": net}


def _dispute_silence(engine: CommandEngine, uow: UnitOfWork, d: Deadline) -> dict[str, Any]:
    """The freelancer did not answer a dispute in 3 days: it is accepted."""
    c = load_kind(uow, HourlyContract, d.subject)
    dispute = hourly_disputes.dispute(c, d.ref)
    if dispute.status != "open" or dispute.respond_by != d.due:
        return {"contract_id": d.subject, "dispute_id": d.ref, "settled": False}
    hourly_settlement.settle_dispute(
        c, earner(uow, c), dispute_id=d.ref, failed_minutes=dispute.minutes,
        outcome=hourly_disputes.ACCEPTED_BY_SILENCE, at=d.due, actor=fired_by(d),
        fees=engine.fees)
    return {"contract_id": d.subject, "dispute_id": d.ref, "settled": True,
            "outcome": hourly_disputes.ACCEPTED_BY_SILENCE}


DEADLINES: dict[DeadlineKind, Handler] = {
    DeadlineKind.HOURLY_INVOICE: _invoice,
    DeadlineKind.HOURLY_REVIEW_END: _review_end,
    DeadlineKind.HOURLY_DISPUTE_RESPONSE: _dispute_silence,
}


class HourlyCommands(CommandEngine):
    def _hourly(self, command: str, key: str | None, request: dict[str, Any],
                step: Any) -> CommandResult:
        """Loads the hourly contract, lets ``step`` decide, answers with the contract's id."""
        def decide(uow: UnitOfWork) -> Decision:
            c = load_kind(uow, HourlyContract, request["contract_id"],
                          request.get("expected_version"))
            answer = step(uow, c) or {}
            return Decision({"contract_id": str(c.id), **answer}, contract=c)

        return self.execute(command, key, request, decide)

    def log_time(self, *, contract_id: str, worked_on: date, minutes: int, manual: bool,
                 actor: str, expected_version: int | None = None,
                 idempotency_key: str | None = None) -> CommandResult:
        request = {"contract_id": contract_id, "worked_on": worked_on.isoformat(),
                   "minutes": minutes, "manual": manual, "expected_version": expected_version}

        def step(uow: UnitOfWork, c: HourlyContract) -> dict[str, Any]:
            entry_id = str(uuid4())
            c.log_time(entry_id=entry_id, worked_on=worked_on, minutes=minutes, manual=manual,
                       at=uow.at, actor=actor)
            return {"entry_id": entry_id, "week_start": c.entries[entry_id].week_start.isoformat()}

        return self._hourly("log_time", idempotency_key, request, step)

    def delete_time_entry(self, *, contract_id: str, entry_id: str, actor: str,
                          expected_version: int | None = None,
                          idempotency_key: str | None = None) -> CommandResult:
        request = {"contract_id": contract_id, "entry_id": entry_id,
                   "expected_version": expected_version}

        def step(uow: UnitOfWork, c: HourlyContract) -> dict[str, Any]:
            c.delete_time_entry(entry_id=entry_id, at=uow.at, actor=actor)
            return {"entry_id": entry_id, "deleted": True}

        return self._hourly("delete_time_entry", idempotency_key, request, step)

    def change_weekly_limit(self, *, contract_id: str, hours: int, actor: str,
                            expected_version: int | None = None,
                            idempotency_key: str | None = None) -> CommandResult:
        request = {"contract_id": contract_id, "hours": hours,
                   "expected_version": expected_version}

        def step(uow: UnitOfWork, c: HourlyContract) -> dict[str, Any]:
            effective = c.change_weekly_limit(hours=hours, at=uow.at, actor=actor)
            return {"weekly_limit_hours": hours, "effective_from": effective.isoformat()}

        return self._hourly("change_weekly_limit", idempotency_key, request, step)

    def change_rate(self, *, contract_id: str, hourly_rate: Money, by: Party, actor: str,
                    expected_version: int | None = None,
                    idempotency_key: str | None = None) -> CommandResult:
        request = {"contract_id": contract_id, "hourly_rate": money_json(hourly_rate),
                   "by": by.value, "expected_version": expected_version}

        def step(uow: UnitOfWork, c: HourlyContract) -> dict[str, Any]:
            c.change_rate(hourly_rate=hourly_rate, by=by, at=uow.at, actor=actor)
            return {"hourly_rate": money_json(hourly_rate)}

        return self._hourly("change_rate", idempotency_key, request, step)

    def pause_contract(self, *, contract_id: str, actor: str,
                       expected_version: int | None = None,
                       idempotency_key: str | None = None) -> CommandResult:
        request = {"contract_id": contract_id, "expected_version": expected_version}

        def step(uow: UnitOfWork, c: HourlyContract) -> dict[str, Any]:
            c.pause(at=uow.at, actor=actor)
            return {"paused": True}

        return self._hourly("pause_contract", idempotency_key, request, step)

    def resume_contract(self, *, contract_id: str, actor: str,
                        expected_version: int | None = None,
                        idempotency_key: str | None = None) -> CommandResult:
        request = {"contract_id": contract_id, "expected_version": expected_version}

        def step(uow: UnitOfWork, c: HourlyContract) -> dict[str, Any]:
            c.resume(at=uow.at, actor=actor)
            return {"paused": False}

        return self._hourly("resume_contract", idempotency_key, request, step)

    def open_hourly_dispute(self, *, contract_id: str, week_start: date, minutes: int,
                            actor: str, expected_version: int | None = None,
                            idempotency_key: str | None = None) -> CommandResult:
        request = {"contract_id": contract_id, "week_start": week_start.isoformat(),
                   "minutes": minutes, "expected_version": expected_version}

        def step(uow: UnitOfWork, c: HourlyContract) -> dict[str, Any]:
            dispute_id = str(uuid4())
            hourly_disputes.open_dispute(c, dispute_id=dispute_id, week_start=week_start,
                                         minutes=minutes, at=uow.at, actor=actor)
            d = c.disputes[dispute_id]
            return {"dispute_id": dispute_id, "amount": money_json(d.amount),
                    "marketplace_fee": money_json(d.marketplace_fee),
                    "respond_by": d.respond_by.isoformat()}

        return self._hourly("open_hourly_dispute", idempotency_key, request, step)

    def decline_hourly_dispute(self, *, contract_id: str, dispute_id: str, actor: str,
                               expected_version: int | None = None,
                               idempotency_key: str | None = None) -> CommandResult:
        request = {"contract_id": contract_id, "dispute_id": dispute_id,
                   "expected_version": expected_version}

        def step(uow: UnitOfWork, c: HourlyContract) -> dict[str, Any]:
            hourly_disputes.decline(c, dispute_id=dispute_id, at=uow.at, actor=actor)
            return {"dispute_id": dispute_id, "status": "declined"}

        return self._hourly("decline_hourly_dispute", idempotency_key, request, step)

    def settle_hourly_dispute(self, *, contract_id: str, dispute_id: str,
                              failed_minutes: int | None, actor: str,
                              expected_version: int | None = None,
                              idempotency_key: str | None = None) -> CommandResult:
        """Accepted by the freelancer (``failed_minutes`` None: all) or resolved by review."""
        request = {"contract_id": contract_id, "dispute_id": dispute_id,
                   "failed_minutes": failed_minutes, "expected_version": expected_version}
        command = "accept_hourly_dispute" if failed_minutes is None else "resolve_hourly_dispute"

        def step(uow: UnitOfWork, c: HourlyContract) -> dict[str, Any]:
            d = hourly_disputes.dispute(c, dispute_id)
            failed = d.minutes if failed_minutes is None else failed_minutes
            outcome = hourly_disputes.ACCEPTED if failed_minutes is None \
                else hourly_disputes.RESOLVED
            hourly_settlement.settle_dispute(c, earner(uow, c), dispute_id=dispute_id,
                                             failed_minutes=failed, outcome=outcome,
                                             at=uow.at, actor=actor, fees=self.fees)
            settled = c.pending_events[-1]
            return {"dispute_id": dispute_id, "outcome": outcome, "failed_minutes": failed,
                    "refunded": money_json(settled.refunded),  # type: ignore[attr-defined]
                    "marketplace_fee_refunded": money_json(
                        settled.marketplace_fee_refunded)}  # type: ignore[attr-defined]

        return self._hourly(command, idempotency_key, request, step)
