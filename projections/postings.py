"""The postings a stored event carries, as journal rows: decoded, or read from the raw JSON.

Why a raw path: a rebuild or an as-of replay reads every event of the log, and
decoding one through the mapper (every value object rebuilt and validated)
costs far more than the rows it yields; most events post nothing at all. So
``PostingReader`` first skips, from the raw row, the events that cannot carry
an entry, then reads the postings of the rest straight from the stored JSON,
and decodes through the mapper whenever the shortcut is not certain to give
the same rows (an upcast to apply, a stored form it does not know, compressed
or encrypted states, anything unexpected). ``rows_for`` stays the definition;
tests hold the two paths to the same rows.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import JSONTranscoder
from eventsourcing.utils import resolve_topic

from domain.bookkeeping.postings import JournalEntry
from domain.deadlines import epoch_us
from domain.money import restore_money, to_minor_units


@dataclass(frozen=True)
class PostingRow:
    notification_id: int
    line: int
    originator_id: str
    originator_version: int
    event_type: str
    effective_us: int
    memo: str
    account: str
    side: str
    amount_minor: int
    currency: str

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.notification_id, self.line, self.originator_id, self.originator_version,
            self.event_type, self.effective_us, self.memo, self.account, self.side,
            self.amount_minor, self.currency,
        )


def rows_for(event: Any, notification_id: int) -> list[PostingRow]:
    """The postings an event carries; events without an entry post nothing."""
    entry = getattr(event, "entry", None)
    if not isinstance(entry, JournalEntry):
        return []
    return [
        PostingRow(
            notification_id=notification_id,
            line=i,
            originator_id=str(event.originator_id),
            originator_version=event.originator_version,
            event_type=type(event).__qualname__,
            effective_us=epoch_us(event.timestamp),
            memo=entry.memo,
            account=p.account,
            side=p.side.value,
            amount_minor=to_minor_units(p.amount),
            currency=p.amount.currency.code,
        )
        for i, p in enumerate(entry.postings)
    ]


@dataclass(frozen=True)
class _Topic:
    qualname: str
    class_version: int
    declares_entry: bool
    """The class has an ``entry`` of its own (field, default or computed)."""
    raw_ok: bool
    """``entry`` is plain instance state, so the stored JSON's is the event's."""


_SIDES = frozenset({"debit", "credit"})


class PostingReader:
    """``rows_for`` over raw notifications, decoding only where it must (see the module)."""

    def __init__(self, mapper: Any) -> None:
        self.raw_json = (getattr(mapper, "compressor", None) is None
                         and getattr(mapper, "cipher", None) is None
                         and isinstance(getattr(mapper, "transcoder", None), JSONTranscoder))
        self._topics: dict[str, _Topic | None] = {}

    def rows(self, notifications: Sequence[Any], decode: Callable[[Any], Any]
             ) -> list[PostingRow]:
        """Every posting of ``notifications`` in log order; ``decode`` (notification ->
        domain event, e.g. the mapper's) for the events the raw path leaves."""
        found: list[PostingRow] = []
        for n in notifications:
            if not self.may_post(n):
                continue
            rows = self.raw_rows(n)
            found.extend(rows_for(decode(n), n.id) if rows is None else rows)
        return found

    def _topic(self, topic: str) -> _Topic | None:
        if topic not in self._topics:
            try:
                cls = resolve_topic(topic)
            except Exception:  # the decoder raises its own error
                self._topics[topic] = None
            else:
                static = inspect.getattr_static(cls, "entry", None)
                self._topics[topic] = _Topic(
                    cls.__qualname__, int(getattr(cls, "class_version", 1)),
                    static is not None or any("entry" in getattr(k, "__annotations__", {})
                                              for k in cls.__mro__),
                    not hasattr(static, "__get__"))
        return self._topics[topic]

    def may_post(self, n: Any) -> bool:
        """False only when the event certainly has no entry: its class has none and its
        stored JSON does not mention one (an undeclared stored field still lands on the
        decoded event)."""
        if not self.raw_json:
            return True
        info = self._topic(n.topic)
        return info is None or info.declares_entry or b'"entry"' in n.state

    def raw_rows(self, n: Any) -> list[PostingRow] | None:
        """The postings read from the stored JSON, or None where only decoding can say."""
        info = self._topic(n.topic)
        if not self.raw_json or info is None or not info.raw_ok:
            return None
        try:
            state = json.loads(n.state)
            if state.get("class_version", 1) != info.class_version or "entry" not in state:
                return None  # an upcast to apply, or an entry that is not stored state
            entry = state["entry"]
            if entry is None:
                return []
            stamp = state["timestamp"]
            if (entry.get("_type_") != "journal_entry" or len(entry) != 2
                    or stamp.get("_type_") != "datetime_iso" or len(stamp) != 2
                    or not isinstance(n.originator_id, UUID)):
                return None
            data = entry["_data_"]
            memo, postings = data["memo"], data["postings"]
            if not postings or not isinstance(memo, str):
                return None  # decoding refuses it: let it say why
            effective = epoch_us(datetime.fromisoformat(stamp["_data_"]))
            oid, version = str(n.originator_id), n.originator_version
            rows = []
            for i, p in enumerate(postings):
                if p["side"] not in _SIDES or not isinstance(p["account"], str):
                    return None
                amount = restore_money(p["amount"], p["currency"])
                rows.append(PostingRow(n.id, i, oid, version, info.qualname, effective, memo,
                                       p["account"], p["side"], to_minor_units(amount),
                                       amount.currency.code))
            return rows
        except Exception:  # anything unexpected: decode instead
            return None
