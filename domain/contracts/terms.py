"""What every contract shares, whatever its kind: parties, status, and who may open one."""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Any

from eventsourcing.domain import Aggregate

from domain.bookkeeping.accounts import PARTY_ID
from domain.errors import InvalidInput

PARTY = re.compile(PARTY_ID)

MINIMUM_MILESTONE = Decimal("5")
MAXIMUM_MILESTONE = Decimal("1000000000")
"""Our assumed ceiling (domain.md names none): one billion per milestone."""


class ContractKind(StrEnum):
    FIXED_PRICE = "fixed_price"
    HOURLY = "hourly"


class ContractStatus(StrEnum):
    ACTIVE = "active"
    ENDING = "ending"  # ended by the client; an escrow refund request awaits the freelancer
    ENDED = "ended"


class Party(StrEnum):
    CLIENT = "client"
    FREELANCER = "freelancer"


def parse_party(value: str) -> Party:
    try:
        return Party(value)
    except ValueError:
        raise InvalidInput(f"'by' must be 'client' or 'freelancer', got {value!r}") from None


def check_parties(client_id: object, freelancer_id: object) -> None:
    """Party ids become parts of account ids, and nobody hires themselves."""
    for name, value in (("client_id", client_id), ("freelancer_id", freelancer_id)):
        if not isinstance(value, str) or not PARTY.fullmatch(value):
            raise InvalidInput(
                f"{name} must be 1-128 characters of letters, digits and _ . @ -, "
                f"got {value!r}"
            )
    if client_id == freelancer_id:
        raise InvalidInput("a client cannot hire itself")


def adopt_opening_terms(c: Any, opened: Any) -> None:
    """State every contract starts with, from its ``Opened`` event (called by events only)."""
    c.client_id = opened.client_id
    c.freelancer_id = opened.freelancer_id
    c.currency = opened.currency
    c.job_id = opened.job_id
    c.service_fee_rate = opened.service_fee_rate
    c.opened_at = opened.timestamp
    c.status = ContractStatus.ACTIVE
    c.initiation_fee = None
    c.payments = ()
    c.refunds = ()
    c.charges = {}
    c.chargebacks = {}
    c.ended_at = None
    c.ended_by = None
    c.ending_feedback = None  # the client's, while its escrow refund request is open


class Ended(Aggregate.Event):
    """The contract ended (either kind adopts this as its own ``Ended``).

    ``feedback`` is the ending party's public comment and ``feedback_rating``
    its 1-5 stars (``domain.contracts.feedback``). Version 2 added the rating;
    version 1 events, which had only the comment, get None.
    """

    class_version = 2

    ended_by: str
    actor: str
    feedback: str | None
    feedback_rating: int | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["feedback_rating"] = None

    def apply(self, c: Any) -> None:
        c.status = ContractStatus.ENDED
        c.ended_at = self.timestamp
        c.ended_by = self.ended_by
