"""The log as auditors and other services read it: every stored event decoded to plain JSON.

Reads notifications straight from the recorder and decodes each with the
application's mapper (so old versions are upcast, moved topics resolve), and
never replays an aggregate: a page costs one query and ``limit`` decodes.

Each event becomes::

    {"position": 12, "type": "domain.contracts.fixed_price:FixedPriceContract.MilestoneFunded",
     "name": "FixedPriceContract.MilestoneFunded", "aggregate_id": "...",
     "aggregate_version": 3, "effective_at": "2026-03-02T09:00:00+00:00",
     "recorded_at": null, "actor": "client-acme", "memo": "...",
     "postings": [{"account": ..., "side": "debit", "amount": "500.00", "currency": "USD"}],
     "data": {...every other field of the event...}, "chain_link": "9f2c..."}

``type`` is the topic exactly as stored (an event stored before a class moved
keeps its old topic); ``name`` is the class path after the colon.
``effective_at`` is the event's own timestamp: when it took effect in the
ledger's time (a deadline fired late takes effect at its due time).
``chain_link`` is the event's link in the audit hash chain (hex SHA-256,
``ledger.audit_chain``): keep the last one seen and it is a digest to prove
later that nothing up to it changed (null on a store that keeps no chain).
``recorded_at`` is always null: neither store keeps a wall-clock time beside
a stored event (the library's tables hold id, version, topic and state only),
and inventing one from the effective time would mislead an auditor.
``actor`` is null for events without one (an idempotency record).
``postings`` and ``memo`` come from the event's ``entry`` when it is a
``JournalEntry`` (empty and null otherwise). ``data`` holds every other field:
money as ``{"amount": "500.00", "currency": "USD"}`` strings, times and dates
in ISO 8601, UUIDs and decimals as strings, value objects as their stored dict.

Positions are notification ids: they strictly increase in log order, but a
PostgreSQL log may skip a number where a write was refused (a version
conflict consumes a sequence value), so followers continue from the last
position they saw, never from ``position + 1``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, Notification
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import TopicError, resolve_topic
from moneyed import Money
from psycopg.sql import SQL, Identifier

from domain.balances.freelancer_balance import FreelancerBalance
from domain.bookkeeping.postings import JournalEntry
from domain.connects.wallet import ConnectsWallet
from domain.contracts.fixed_price import FixedPriceContract
from domain.contracts.hourly import HourlyContract
from domain.errors import ContractNotFound, FreelancerNotFound
from ledger import audit_chain
from ledger.commands.contracts import contract_uuid
from ledger.results import money_json
from ledger.stores import backend_of

BATCH = 1000
"""Notifications read per query when streaming the whole log."""

_ENVELOPE = frozenset({"originator_id", "originator_version", "timestamp", "actor"})


def plain(value: Any) -> Any:
    """JSON-safe form of any value an event may hold; never raises.

    Value objects with ``to_dict`` give their stored form; other dataclasses
    their fields. Anything unforeseen becomes its ``str`` rather than failing
    the feed: an auditor gets every event, even of a type added later.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Money):
        return money_json(value)
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value.total_seconds())
    if isinstance(value, Enum):
        return plain(value.value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not isinstance(value, type):
        try:
            return plain(to_dict())
        except Exception:  # noqa: S110 - fall back to the fields below
            pass
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name, None)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((plain(v) for v in value), key=str)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def event_json(position: int | None, topic: str, event: Any) -> dict[str, Any]:
    """One decoded event as the feed answers it (see the module's docstring)."""
    fields = dict(vars(event))
    entry = fields.get("entry")
    postings: list[dict[str, str]] = []
    memo: str | None = None
    if isinstance(entry, JournalEntry):
        postings = [{"account": p.account, "side": p.side.value,
                     "amount": str(p.amount.amount), "currency": p.amount.currency.code}
                    for p in entry.postings]
        memo = entry.memo
    if entry is None or isinstance(entry, JournalEntry):
        fields.pop("entry", None)
    actor = fields.get("actor")
    timestamp = fields.get("timestamp")
    return {
        "position": position,
        "type": topic,
        "name": topic.partition(":")[2] or topic,
        "aggregate_id": str(event.originator_id),
        "aggregate_version": int(event.originator_version),
        "effective_at": plain(timestamp),
        "recorded_at": None,
        "actor": None if actor is None else str(actor),
        "memo": memo,
        "postings": postings,
        "data": {k: plain(v) for k, v in fields.items() if k not in _ENVELOPE},
        "chain_link": None,
    }


def decode(app: Application[Any], notification: Notification) -> dict[str, Any]:
    return event_json(notification.id, notification.topic,
                      app.mapper.to_domain_event(notification))


def linked(app: Application[Any], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events with their chain links filled in, read in one query per 500 events."""
    found = audit_chain.links(app, [e["position"] for e in events])
    for e in events:
        e["chain_link"] = found.get(e["position"])
    return events


def head(app: Application[Any]) -> int:
    """The log's newest position (0 for an empty log)."""
    return app.recorder.max_notification_id() or 0


def page(app: Application[Any], *, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """Up to ``limit`` events after position ``after``, in log order."""
    notifications = app.recorder.select_notifications(
        start=after, limit=limit, inclusive_of_start=False)
    return linked(app, [decode(app, n) for n in notifications])


def stream(app: Application[Any], *, after: int = 0,
           batch: int = BATCH) -> Iterator[dict[str, Any]]:
    """Every event after ``after`` to the end of the log, read ``batch`` at a time, so
    memory stays flat however long the log is. Events written while it runs are included
    up to where it finds the end."""
    while True:
        notifications = app.recorder.select_notifications(
            start=after, limit=batch, inclusive_of_start=False)
        yield from linked(app, [decode(app, n) for n in notifications])
        if len(notifications) < batch:
            return
        after = notifications[-1].id


def aggregate_events(app: Application[Any], originator_ids: Iterable[UUID]
                     ) -> list[dict[str, Any]]:
    """Every event of these aggregates, with its position, merged in log order.

    One query per aggregate (its stored events with their notification ids);
    an aggregate never written gives nothing.
    """
    found = [n for oid in originator_ids for n in notifications_of(app.recorder, oid)]
    found.sort(key=lambda n: n.id)
    return linked(app, [decode(app, n) for n in found])


def contract_events(app: Application[Any], contract_id: str) -> list[dict[str, Any]]:
    """Every event of a contract (either kind), in version order.

    ``ContractNotFound`` for an id that names no contract (nothing stored under
    it, or another kind of aggregate).
    """
    events = aggregate_events(app, [contract_uuid(contract_id)])
    if not events or not _created_as(events[0], FixedPriceContract | HourlyContract):
        raise ContractNotFound(f"contract {contract_id!r} not found")
    return events


def freelancer_events(app: Application[Any], freelancer_id: str) -> list[dict[str, Any]]:
    """A freelancer's balance and Connects wallet events, merged in log order.

    ``FreelancerNotFound`` when the freelancer has neither.
    """
    events = aggregate_events(app, [FreelancerBalance.id_for(freelancer_id),
                                    ConnectsWallet.id_for(freelancer_id)])
    if not events:
        raise FreelancerNotFound(f"freelancer {freelancer_id!r} has no events here")
    return events


def _created_as(first: dict[str, Any], kind: Any) -> bool:
    """Whether an aggregate's first event created an instance of ``kind``."""
    topic = first["data"].get("originator_topic")
    try:
        return isinstance(topic, str) and issubclass(resolve_topic(topic), kind)
    except (TopicError, TypeError):
        return False


def notifications_of(recorder: ApplicationRecorder, originator_id: UUID) -> list[Notification]:
    """One aggregate's stored events with their positions, in version order, in one query.

    The library selects an aggregate's events without positions, and a
    notification page by position without a filter on the aggregate; so, like
    ``ledger.log_positions``, each store gets its own query.
    """
    if backend_of(recorder) == "sqlite":
        assert isinstance(recorder, SQLiteApplicationRecorder)
        with recorder.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT rowid, originator_version, topic, state "  # noqa: S608 - library's name
                f"FROM {recorder.events_table_name} "
                "WHERE originator_id = ? ORDER BY originator_version",
                (originator_id.hex,),
            )
            return [Notification(id=int(row["rowid"]), originator_id=originator_id,
                                 originator_version=row["originator_version"],
                                 topic=row["topic"], state=row["state"])
                    for row in c.fetchall()]
    assert isinstance(recorder, PostgresApplicationRecorder)
    statement = SQL(
        "SELECT notification_id, originator_version, topic, state FROM {}.{} "
        "WHERE originator_id = %s ORDER BY originator_version"
    ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
    with recorder.datastore.transaction(commit=False) as curs:
        curs.execute(statement, (originator_id,))
        return [Notification(id=int(row["notification_id"]), originator_id=originator_id,
                             originator_version=row["originator_version"],
                             topic=row["topic"], state=bytes(row["state"]))
                for row in curs.fetchall()]
