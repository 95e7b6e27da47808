"""How contracts read to callers: the header every kind shares, then each kind's own."""

from __future__ import annotations

from typing import Any

from domain.contracts import dormancy
from domain.contracts.fixed_price import FixedPriceContract
from domain.contracts.hourly import HourlyContract
from domain.contracts.hourly_week import WeekInvoice, WeekStatus
from domain.contracts.milestone import Milestone
from ledger.results import Charge, money_json, to_json


def invoice_view(w: WeekInvoice, pending_lots: set[str]) -> dict[str, Any]:
    """``pending_lots``: the freelancer's lots still in their security period."""
    none = w.amount * 0
    status = w.status.value
    if w.status is WeekStatus.PENDING and not pending_lots.intersection(w.lot_ids):
        status = "available"
    return {
        "week_start": w.week_start.isoformat(),
        "minutes_logged": w.minutes_logged,
        "minutes_billed": w.minutes_billed,
        "minutes_disputed": w.disputed_minutes,
        "amount": money_json(w.amount),
        "marketplace_fee": money_json(w.marketplace_fee),
        "service_fee": money_json(w.service_fee or none),
        "in_review": money_json(w.held),
        "released": money_json(w.released or none),
        "refunded": money_json(w.refunded or none),
        "status": status,
        "review_ends_at": w.review_ends_at.isoformat(),
        "available_at": None if w.available_at is None else w.available_at.isoformat(),
        "charge": invoice_charge(w),
    }


def invoice_charge(w: WeekInvoice) -> dict[str, Any] | None:
    """What the week's Monday charge took from the client, as charging commands answer it."""
    if w.payment_id is None or w.payment_method is None:
        return None
    initiation = w.initiation_fee if w.initiation_fee is not None else w.amount * 0
    charge: dict[str, Any] = to_json(Charge(
        w.payment_id, w.amount, w.marketplace_fee, initiation,
        w.amount + w.marketplace_fee + initiation, w.payment_method))
    return charge


def contract_header(c: FixedPriceContract | HourlyContract) -> dict[str, Any]:
    return {
        "contract_id": str(c.id),
        "kind": c.KIND.value,
        "client_id": c.client_id,
        "freelancer_id": c.freelancer_id,
        "currency": c.currency,
        "job_id": c.job_id,
        "status": c.status.value,
        "service_fee_rate": None if c.service_fee_rate is None else str(c.service_fee_rate),
        "opened_at": c.opened_at.isoformat(),
    }


def fixed_price_view(c: FixedPriceContract) -> dict[str, Any]:
    return {
        **contract_header(c),
        "escrow_balance": money_json(c.escrow_balance()),
        "total_released": money_json(c.total_released),
        "milestones": [milestone_view(m) for m in c.milestones.values()],
        "refund_requests": [
            {"request_id": r.request_id, "total": money_json(r.total),
             "respond_by": r.respond_by.isoformat(), "status": r.status,
             "refund_to": r.refund_to}
            for r in c.refund_requests.values()
        ],
        "escrow_under_dispute": money_json(c.disputed_escrow()),
        "dormancy": dormancy_view(c),
        "disputes": [
            {"dispute_id": d.dispute_id, "stage": d.stage.value,
             "amount": money_json(d.total),
             "outcome": None if d.outcome is None else d.outcome.value}
            for d in c.disputes.values()
        ],
        "version": c.version,
    }


def dormancy_view(c: FixedPriceContract) -> dict[str, Any]:
    """Dormancy as it runs now: no stage once the contract is ending, in dispute or empty."""
    running = c.dormancy if dormancy.watched(c) else None
    return {
        "last_activity_at": c.last_activity_at.isoformat(),
        "notices": list(c.dormancy_notices) if dormancy.watched(c) else [],
        "stage": None if running is None else running.stage.value,
        "due_at": None if running is None else running.due_at.isoformat(),
    }


def milestone_view(m: Milestone) -> dict[str, Any]:
    return {
        "milestone_id": m.milestone_id,
        "title": m.title,
        "amount": money_json(m.amount),
        "status": m.status.value,
        "escrow_balance": money_json(m.escrow),
        "released": money_json(m.released),
        "review_due_at": m.review_due_at.isoformat() if m.review_due_at else None,
    }


def hourly_view(c: HourlyContract) -> dict[str, Any]:
    none = c.hourly_rate * 0
    return {
        **contract_header(c),
        "escrow_balance": money_json(none),
        "total_released": money_json(sum((w.released or none for w in c.invoices.values()),
                                         none)),
        "milestones": [],
        "refund_requests": [],
        "hourly": {
            "hourly_rate": money_json(c.hourly_rate),
            "weekly_limit_hours": c.limits[-1].hours,
            "weekly_limit_effective_from": c.limits[-1].effective_from.isoformat(),
            "manual_time_allowed": c.manual_time_allowed,
            "paused": c.paused,
            "time_entries": [
                {"entry_id": e.entry_id, "week_start": e.week_start.isoformat(),
                 "worked_on": e.worked_on.isoformat(), "minutes": e.minutes,
                 "manual": e.manual}
                for e in sorted(c.entries.values(), key=lambda e: (e.worked_on, e.entry_id))
            ],
            "disputes": [
                {"dispute_id": d.dispute_id, "week_start": d.week_start.isoformat(),
                 "minutes": d.minutes, "amount": money_json(d.amount),
                 "respond_by": d.respond_by.isoformat(), "status": d.status.value}
                for d in c.disputes.values()
            ],
        },
        "version": c.version,
    }
