"""``ledger audit export FILE``: the whole log, decoded, as JSON Lines.

One event per line, in log order, each exactly as ``GET /v1/events`` answers
it (``ledger.event_feed``), so an export and the feed's pages concatenated are
the same. The log is read 1,000 notifications at a time and each line written
as it is decoded, so memory stays flat however long the log is. Events
written while the export runs are included up to where it finds the end.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eventsourcing.application import Application

from ledger import event_feed


def export(app: Application[Any], path: str | Path, *, batch: int = event_feed.BATCH) -> int:
    """Writes every event to ``path`` (replacing it) as UTF-8 JSON Lines; returns how many."""
    written = 0
    with Path(path).open("w", encoding="utf-8", newline="\n") as out:
        for event in event_feed.stream(app, batch=batch):
            out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
            out.write("\n")
            written += 1
    return written
