"""What a save writes, gathered without the library's runtime-protocol checks.

Why: ``Application.save`` asks ``isinstance`` of each object against two runtime
protocols, which walks every protocol member each time: about 0.15 ms a
command, a fifth of its Python. Our objects are the library's ``Aggregate``,
for which a plain class check says the same.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate


def collected(objs: tuple[Any, ...], kwargs: dict[str, Any]) -> ProcessingEvent[UUID]:
    """The library's ``ProcessingEvent.collect_events(*objs, **kwargs)``, the fast way."""
    processing_event: ProcessingEvent[UUID] = ProcessingEvent()
    for obj in objs:
        if isinstance(obj, Aggregate):
            processing_event.events.extend(obj.collect_events())
            processing_event.aggregates[obj.id] = obj
        elif obj is not None:
            processing_event.collect_events(obj)
    processing_event.saved_kwargs.update(kwargs)
    return processing_event
