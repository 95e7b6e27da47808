"""How domain values are stored in the log's JSON.

Money is stored as a decimal string plus currency code (never a float), and
the domain's value objects round-trip through their own ``to_dict``/``from_dict``
so the stored form is explicit and stable across code changes.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding
from moneyed import Money

from domain.balances.freelancer_balance import PendingLot
from domain.bookkeeping.postings import JournalEntry
from domain.contracts.hourly_week import LimitChange
from domain.contracts.milestone import EscrowMovement
from domain.fees.quotes import FeeQuote
from domain.money import restore_money


class MoneyAsDict(Transcoding):
    type = Money
    name = "money"

    def encode(self, obj: Money) -> dict[str, str]:
        return {"amount": str(obj.amount), "currency": obj.currency.code}

    def decode(self, data: dict[str, str]) -> Money:
        return restore_money(data["amount"], data["currency"])


class DateAsISO(Transcoding):
    """A calendar date (an hourly week's Monday): ``2026-03-02``."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class _ViaDict(Transcoding):
    def encode(self, obj: Any) -> dict[str, Any]:
        return obj.to_dict()  # type: ignore[no-any-return]

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type.from_dict(data)  # type: ignore[attr-defined]


class JournalEntryAsDict(_ViaDict):
    type = JournalEntry
    name = "journal_entry"


class FeeQuoteAsDict(_ViaDict):
    type = FeeQuote
    name = "fee_quote"


class PendingLotAsDict(_ViaDict):
    type = PendingLot
    name = "pending_lot"


class EscrowMovementAsDict(_ViaDict):
    type = EscrowMovement
    name = "escrow_movement"


class LimitChangeAsDict(_ViaDict):
    type = LimitChange
    name = "limit_change"


def register_domain_transcodings(transcoder: JSONTranscoder) -> None:
    for transcoding in (
        MoneyAsDict(),
        JournalEntryAsDict(),
        FeeQuoteAsDict(),
        PendingLotAsDict(),
        EscrowMovementAsDict(),
        DateAsISO(),
        LimitChangeAsDict(),
    ):
        transcoder.register(transcoding)
