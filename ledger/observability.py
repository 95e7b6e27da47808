"""What operators watch: command counts, outcomes and latencies, store errors; and what each
command did, for the request's log line.

Why in the ledger and not the HTTP layer: a command's outcome (accepted,
replayed, refused with which problem) and its log position are known here;
the scheduler's firings are commands too and are counted the same way. The
metrics live in the process's default Prometheus registry; ``GET /metrics``
(``api.metrics``) exposes them with the gauges read at scrape time.

Each HTTP request gets a fresh ``CommandNote`` (``note_for_request``); the
engine fills it in, the access log reads it. A note is a plain mutable object
so a command run in a worker thread (a copy of the request's context) fills in
the same note the request's own context holds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from prometheus_client import Counter, Histogram

from domain.errors import ConcurrencyConflict, LedgerError

COMMANDS = Counter("ledger_commands_total", "Commands by name and outcome",
                   ["command", "outcome"])
COMMAND_SECONDS = Histogram(
    "ledger_command_seconds", "Time to decide and save a command (replays included)",
    ["command"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
STORE_ERRORS = Counter("ledger_store_errors_total",
                       "Errors the store raised while a command ran, by exception class",
                       ["error"])


@dataclass
class CommandNote:
    command: str | None = None
    outcome: str | None = None
    position: int | None = None


_note: ContextVar[CommandNote | None] = ContextVar("escrow_ledger_command_note", default=None)


@contextmanager
def note_for_request() -> Iterator[CommandNote]:
    """A fresh note, current until the block ends (the HTTP layer opens one per request)."""
    note = CommandNote()
    token = _note.set(note)
    try:
        yield note
    finally:
        _note.reset(token)


def _store_error(error: BaseException) -> bool:
    module = type(error).__module__
    return module.startswith(("psycopg", "sqlite3", "eventsourcing.persistence"))


@contextmanager
def observed(command: str) -> Iterator[CommandNote]:
    """Counts and times one command; the caller sets ``outcome``/``position`` on success."""
    note = _note.get() or CommandNote()
    note.command, note.outcome, note.position = command, None, None
    started = time.perf_counter()
    try:
        yield note
    except LedgerError as e:
        note.outcome = "conflict" if isinstance(e, ConcurrencyConflict) else f"refused:{e.type}"
        raise
    except Exception as e:
        note.outcome = "error"
        if _store_error(e):
            STORE_ERRORS.labels(type(e).__name__).inc()
        raise
    finally:
        COMMAND_SECONDS.labels(command).observe(time.perf_counter() - started)
        COMMANDS.labels(command, note.outcome or "error").inc()
