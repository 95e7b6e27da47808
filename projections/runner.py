"""Catching a projection up with the log: pull, process, record with tracking.

The library's ``ProjectionRunner`` needs a store that pushes notifications
(PostgreSQL LISTEN/NOTIFY); SQLite has none. A pull loop over
``select_notifications`` works on both, resumes from the tracking record after
a restart, and lets a reader wait until its own write is visible.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Tracking

from projections.deadlines import deadline_ops
from projections.journal import JournalQueries, JournalView, epoch_us, rows_for, view_class_for


class JournalProjector:
    """Keeps the journal view up to date with one application's log."""

    def __init__(self, app: Application[Any], *, batch_size: int = 500) -> None:
        self.app = app
        self.batch_size = batch_size
        view_class = view_class_for(app.recorder)
        self.view: JournalView = app.factory.tracking_recorder(view_class)  # type: ignore[assignment]
        self.queries = JournalQueries(self.view, app.name)
        self._lock = threading.Lock()
        self.last_error: Exception | None = None

    def position(self) -> int:
        return self.queries.position()

    def catch_up(self) -> int:
        """Processes every notification not yet tracked; returns the new position.

        A batch that cannot be stored is not skipped (the view would silently lose
        money): the error is kept in ``last_error`` for health checks and raised.
        """
        try:
            position = self._catch_up()
        except Exception as e:
            self.last_error = e
            raise
        self.last_error = None
        return position

    def _catch_up(self) -> int:
        with self._lock:
            while True:
                start = self.position() + 1
                notifications = self.app.recorder.select_notifications(
                    start=start, limit=self.batch_size
                )
                if not notifications:
                    return start - 1
                rows, deadlines = [], []
                for n in notifications:
                    event = self.app.mapper.to_domain_event(n)
                    rows += rows_for(event, n.id)
                    deadlines += deadline_ops(event, epoch_us)
                try:
                    self.view.record(rows, deadlines,
                                     Tracking(self.app.name, notifications[-1].id))
                except IntegrityError:
                    # Another process recorded this batch first; nothing was written
                    # here (one transaction), so reading the new position is enough.
                    continue

    def rebuild(self) -> int:
        """Empties the view and replays the log from position zero into it.

        Readers see an empty view until the replay passes them; run it where
        that is acceptable (the replay check needs no rebuild: it compares).
        """
        with self._lock:
            self.view.reset(self.app.name)
        return self.catch_up()

    def wait_for(self, position: int, timeout: float = 5.0) -> int:
        """Catches up until the view reflects ``position`` or the timeout passes."""
        deadline = time.monotonic() + timeout
        current = self.catch_up()
        while current < position and time.monotonic() < deadline:
            time.sleep(0.02)
            current = self.catch_up()
        return current


class BackgroundProjector:
    """Runs ``catch_up`` in a thread: on a poll interval and whenever poked."""

    def __init__(self, projector: JournalProjector, interval: float = 0.5) -> None:
        self.projector = projector
        self.interval = interval
        self._poke = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="journal-projector", daemon=True)
        self.last_error: Exception | None = None

    def start(self) -> None:
        self._thread.start()

    def poke(self) -> None:
        self._poke.set()

    def stop(self) -> None:
        self._stop.set()
        self._poke.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.projector.catch_up()
                self.last_error = None
            except Exception as e:  # keep serving reads; report through health
                self.last_error = e
            self._poke.wait(self.interval)
            self._poke.clear()
