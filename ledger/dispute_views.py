"""How a fixed-price dispute reads to callers: stage, money frozen, clocks, outcome."""

from __future__ import annotations

from typing import Any

from domain.contracts.dispute import FixedPriceDispute
from domain.contracts.fixed_price import FixedPriceContract
from ledger.results import money_json


def dispute_json(c: FixedPriceContract, d: FixedPriceDispute) -> dict[str, Any]:
    """The dispute; each clock reads ``running`` (its stage is current) or ``stopped``."""
    r = d.resolution
    last = len(d.clocks) - 1
    return {
        "dispute_id": d.dispute_id,
        "contract_id": str(c.id),
        "origin": d.origin.value,
        "request_id": d.request_id,
        "stage": d.stage.value,
        "opened_at": d.opened_at.isoformat(),
        "opened_by": d.opened_by,
        "amount": money_json(d.total),
        "marketplace_fee_held": money_json(d.fee_held),
        "milestones": [{"milestone_id": a.milestone_id, "amount": money_json(a.amount)}
                       for a in d.amounts],
        "deadlines": [
            {"kind": kind.value, "due_at": due.isoformat(),
             "status": "running" if i == last and d.is_open and d.clock is kind
             else "stopped"}
            for i, (kind, due) in enumerate(d.clocks)
        ],
        "proposal": None if d.proposal is None else {
            "release": money_json(d.proposal), "refund": money_json(d.total - d.proposal),
            "accepted_by": list(d.accepted_by)},
        "arbitration": None if d.arbitration_reason is None else {
            "reason": d.arbitration_reason, "fees_paid_by": list(d.fees_paid)},
        "outcome": None if r is None or d.outcome is None else {
            "kind": d.outcome.value,
            "reason": r.reason,
            "released": money_json(r.released),
            "service_fee": money_json(r.service_fee),
            "net": money_json(r.net),
            "refunded": money_json(r.refunded),
            "marketplace_fee_refunded": money_json(r.marketplace_fee_refunded),
            "client_refund_total": money_json(r.refunded + r.marketplace_fee_refunded),
            "initiation_fee_recognised": None if r.initiation_fee_recognised is None
            else money_json(r.initiation_fee_recognised),
            "available_at": None if r.available_at is None else r.available_at.isoformat(),
            "resolved_at": r.resolved_at.isoformat(),
        },
    }
