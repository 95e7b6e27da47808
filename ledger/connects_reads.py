"""Reading a freelancer's Connects: the wallet, its history, and the monthly statement.

All of it is read from the wallet's own events, so the statement a freelancer
sees is the ledger's history, not a second bookkeeping: what each month's
Connects bought, by reason, and how many went to jobs that led to a contract.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from domain.connects.job import Job
from domain.connects.rules import add_months
from domain.connects.wallet import ConnectsWallet
from domain.errors import FreelancerNotFound, InvalidInput
from domain.money import zero
from ledger.commands.connects import check_freelancer, lot_json
from ledger.engine import CommandEngine
from ledger.results import money_json


def delta_of(event: Any) -> int:
    """How an event changed the wallet's balance, in Connects."""
    if isinstance(event, ConnectsWallet.LotIssued):
        return int(event.connects)
    if isinstance(event, ConnectsWallet.ConnectsSpent | ConnectsWallet.LotExpired):
        return -int(event.connects)
    if isinstance(event, ConnectsWallet.ConnectsReturned):
        return sum(event.taken.values()) - sum(event.expired_again.values())
    return 0


def history_item(event: Any) -> dict[str, Any]:
    kind = type(event).__name__
    item: dict[str, Any] = {"version": event.originator_version,
                            "at": event.timestamp.isoformat(), "event": kind,
                            "connects": delta_of(event)}
    for name in ("lot_id", "source", "spend_id", "reason", "job_id", "plan", "status"):
        if hasattr(event, name):
            item[name] = getattr(event, name)
    for name in ("price", "revenue", "breakage", "charged", "revenue_reversed"):
        value = getattr(event, name, None)
        if value is not None:
            item[name] = money_json(value)
    return item


def month_start(month: str) -> datetime:
    try:
        first = date.fromisoformat(f"{month}-01")
    except (TypeError, ValueError):
        raise InvalidInput(f"month must be YYYY-MM, got {month!r}") from None
    return datetime(first.year, first.month, 1, tzinfo=UTC)


class ConnectsReads(CommandEngine):
    def _wallet(self, freelancer_id: str) -> ConnectsWallet:
        check_freelancer(freelancer_id)
        w = self.find(ConnectsWallet, ConnectsWallet.id_for(freelancer_id))
        if w is None:
            raise FreelancerNotFound(f"freelancer {freelancer_id!r} has no Connects here")
        return w

    def _history(self, w: ConnectsWallet) -> list[Any]:
        return list(self.events.get(w.id))

    def connects_view(self, freelancer_id: str, *, after: int | None = None,
                      limit: int = 100) -> dict[str, Any]:
        """Balance, lots (oldest first) and one page of history after version ``after``."""
        position = self.position()
        w = self._wallet(freelancer_id)
        events = list(self.events.get(w.id, gt=after, limit=limit + 1))
        page = events[:limit]
        return {
            "freelancer_id": freelancer_id,
            "balance": w.balance(),
            "plan": None if w.plan is None else w.plan.value,
            "next_cycle_at": None if w.next_cycle_at is None else w.next_cycle_at.isoformat(),
            "lots": [lot_json(lot) for lot in sorted(
                w.lots.values(), key=lambda lot: (lot.issued_at, lot.seq))],
            "history": [history_item(e) for e in page],
            "next_cursor": page[-1].originator_version if len(events) > limit else None,
            "position": position,
        }

    def connects_statement(self, freelancer_id: str, month: str) -> dict[str, Any]:
        """One month of Connects: opening, bought, granted, spent by reason, returned,
        expired, closing; and what the month's spends led to."""
        position = self.position()
        w = self._wallet(freelancer_id)
        start = month_start(month)
        end = add_months(start, 1)
        opening = closing = 0
        bought = granted = returned = expired = 0
        paid = charged = zero(self.fees.currency)
        by_reason: Counter[str] = Counter()
        jobs: Counter[str] = Counter()
        for e in self._history(w):
            if e.timestamp >= end:
                break
            delta = delta_of(e)
            if e.timestamp < start:
                opening += delta
                closing += delta
                continue
            closing += delta
            if isinstance(e, ConnectsWallet.LotIssued):
                if e.source == "purchase":
                    bought += e.connects
                    paid = paid + e.price
                else:
                    granted += e.connects
            elif isinstance(e, ConnectsWallet.MembershipRenewed):
                charged = charged + e.charged
            elif isinstance(e, ConnectsWallet.ConnectsSpent):
                by_reason[e.reason] += e.connects
                if e.job_id is not None:
                    jobs[e.job_id] += e.connects
            elif isinstance(e, ConnectsWallet.ConnectsReturned):
                returned += sum(e.taken.values())
                expired += sum(e.expired_again.values())
            elif isinstance(e, ConnectsWallet.LotExpired):
                expired += e.connects
        hired = {job_id for job_id in jobs if self.find(Job, Job.id_for(job_id)) is not None}
        return {
            "freelancer_id": freelancer_id, "month": start.strftime("%Y-%m"),
            "opening_balance": opening, "closing_balance": closing,
            "bought": {"connects": bought, "paid": money_json(paid)},
            "granted": granted,
            "membership_charged": money_json(charged),
            "spent": {"total": sum(by_reason.values()), "by_reason": dict(sorted(
                by_reason.items()))},
            "returned": returned, "expired": expired,
            "spent_on_jobs": {
                "led_to_contract": {"jobs": len(hired),
                                    "connects": sum(jobs[j] for j in hired)},
                "no_contract": {"jobs": len(jobs) - len(hired),
                                "connects": sum(n for j, n in jobs.items() if j not in hired)},
            },
            "position": position,
        }
