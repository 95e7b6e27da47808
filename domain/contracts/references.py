"""Ids that name a fact on a contract by where it sits in the contract's history.

A payment, a dispute or a chargeback is identified by its contract and the
version of the event that created it: ``pay_<contract hex>_<version>``; a
withdrawal or a hold, likewise, by the freelancer's balance
(``wd_<balance hex>_<version>``). The
id is stable (history never changes), needs no lookup table to find its
contract (a processor report or an auditor can resolve it from the id alone),
and charges recorded before ids were published get the same id on replay.
"""

from __future__ import annotations

import re
from uuid import UUID

from domain.errors import NotFound

PAYMENT = "pay"
DISPUTE = "dsp"
CHARGEBACK = "cb"
WITHDRAWAL = "wd"
HOLD = "hold"
REFUND = "rf"
"""A refund to the client's payment method: the processor's refund row carries it."""

_REF = re.compile(r"(pay|dsp|cb|wd|hold|rf)_([0-9a-f]{32})_([1-9][0-9]{0,9})")


def reference(kind: str, contract_id: UUID, version: int) -> str:
    return f"{kind}_{contract_id.hex}_{version}"


def parse_reference(kind: str, ref: str, not_found: type[NotFound]) -> tuple[UUID, int]:
    """The contract and event version an id names; an id of another shape is not found."""
    match = _REF.fullmatch(ref) if isinstance(ref, str) else None
    if match is None or match.group(1) != kind:
        raise not_found(f"{ref!r} is not a known {_NAMES[kind]} id")
    return UUID(hex=match.group(2)), int(match.group(3))


_NAMES = {PAYMENT: "payment", DISPUTE: "dispute", CHARGEBACK: "chargeback",
          WITHDRAWAL: "withdrawal", HOLD: "hold", REFUND: "refund"}
