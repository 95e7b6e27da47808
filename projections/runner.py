"""Catching projections up with the log: pull, process, record with tracking.

The library's ``ProjectionRunner`` needs a store that pushes notifications
(PostgreSQL LISTEN/NOTIFY); SQLite has none. A pull loop over
``select_notifications`` works on both, resumes from each projection's own
tracking record after a restart, and lets a reader wait until its own write is
visible. Several projections share one pull: each batch is decoded once and
handed to every projection still behind it, each written in its own
transaction with its own tracking name. Decoding is lazy and done at most
once per notification: a projection that reads raw notifications
(``handle_raw``: the journal reads postings from the stored JSON) leaves the
events it does not need undecoded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any, Protocol

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking

from projections.contracts import ContractsProjection
from projections.deadlines import DeadlineProjection
from projections.journal import JournalProjection
from projections.jss import JssProjection
from projections.payouts import PayoutsProjection
from projections.revenue import RevenueProjection
from projections.store import Advance, TrackingMoved, read_notifications


class Projection(Protocol):
    """A read model built from the log, exactly once, under its own tracking name."""

    @property
    def name(self) -> str: ...

    def position(self) -> int: ...

    def handle(self, batch: Sequence[tuple[int, Any]], tracking: Tracking) -> None: ...

    def reset(self) -> None: ...


class _Decoded:
    """One batch's decoding, each notification at most once, only when first asked."""

    def __init__(self, to_domain_event: Callable[[Any], Any]) -> None:
        self.to_domain_event = to_domain_event
        self.events: dict[int, Any] = {}

    def __call__(self, notification: Any) -> Any:
        event = self.events.get(notification.id)
        if event is None:
            event = self.events[notification.id] = self.to_domain_event(notification)
        return event


REBUILD_BATCH = 5000
"""Notifications per transaction while rebuilding: fewer, larger writes (a rebuild is
alone on an empty view; a few thousand decoded events are a few megabytes)."""


class ProjectionRunner:
    """Keeps every projection of one application's log up to date."""

    def __init__(self, app: Application[Any], *, batch_size: int = 500) -> None:
        self.app = app
        self.batch_size = batch_size
        self.journal = JournalProjection(app)
        self.deadlines = DeadlineProjection(app)
        self.payouts = PayoutsProjection(app)
        # public names (``ledger projections rebuild NAME``); each tracks under its own
        self.projections: dict[str, Projection] = {
            "journal": self.journal, "deadlines": self.deadlines,
            "jss": JssProjection(app),
            "payouts": self.payouts,
            "revenue": RevenueProjection(app), "contracts": ContractsProjection(app),
        }
        self.queries = self.journal.queries
        self._lock = threading.Lock()
        self.last_error: Exception | None = None
        self.caught_up_at = time.monotonic()
        """When a catch-up last found nothing left to read (``/metrics``' lag in seconds)."""

    def position(self) -> int:
        """The position every projection has reached (the slowest one's)."""
        return min(self._positions(self.projections).values())

    def _positions(self, chosen: dict[str, Projection]) -> dict[str, int]:
        """Each chosen projection's position, in one query (their views share one
        tracking table); keyed as ``chosen`` is."""
        found = self.journal.view.positions([p.name for p in chosen.values()])
        return {key: found[p.name] for key, p in chosen.items()}

    def catch_up(self, only: Collection[str] | None = None) -> int:
        """Processes every notification not yet tracked; returns the new position.

        ``only`` names the projections to bring up (the scheduler's rounds need the
        deadlines alone; the rest follow at its end). A batch that cannot be stored
        is not skipped (a view would silently lose money): the error is kept in
        ``last_error`` for health checks and raised.
        """
        return self._guarded(self.batch_size, only)

    def _guarded(self, batch_size: int, only: Collection[str] | None = None) -> int:
        try:
            position = self._catch_up(batch_size, only)
        except Exception as e:
            self.last_error = e
            raise
        self.last_error = None
        if only is None:
            self.caught_up_at = time.monotonic()  # no notification was left when it returned
        return position

    def _catch_up(self, batch_size: int, only: Collection[str] | None = None) -> int:
        chosen = {n: p for n, p in self.projections.items() if only is None or n in only}
        with self._lock:
            while True:
                positions = self._positions(chosen)
                start = min(positions.values()) + 1
                notifications = read_notifications(self.app, start, batch_size)
                if not notifications:
                    return start - 1
                last = notifications[-1].id
                decode = _Decoded(self.app.mapper.to_domain_event)
                for name, projection in chosen.items():
                    if positions[name] >= last:
                        continue
                    mine = [n for n in notifications if n.id > positions[name]]
                    tracking = Advance(projection.name, last, previous=positions[name])
                    handle_raw = getattr(projection, "handle_raw", None)
                    try:
                        if handle_raw is not None:
                            handle_raw(mine, decode, tracking)
                        else:
                            projection.handle([(n.id, decode(n)) for n in mine], tracking)
                    except TrackingMoved:
                        # Another runner recorded this batch first; nothing was written
                        # here (one transaction): read the new position. Any other
                        # integrity error is raised: retrying it would spin forever.
                        continue

    def rebuild(self, name: str | None = None) -> int:
        """Empties one projection (or all) and replays the log from position zero into it.

        Readers see an empty view until the replay passes them; run it where
        that is acceptable (the replay check needs no rebuild: it compares).
        """
        with self._lock:
            for projection in self._named(name):
                projection.reset()
        return self._guarded(max(self.batch_size, REBUILD_BATCH))

    def _named(self, name: str | None) -> list[Projection]:
        if name is None:
            return list(self.projections.values())
        if name not in self.projections:
            raise KeyError(f"no projection named {name!r}; known: {sorted(self.projections)}")
        return [self.projections[name]]

    def wait_for(self, position: int, timeout: float = 5.0) -> int:
        """Catches up until the views reflect ``position`` or the timeout passes."""
        deadline = time.monotonic() + timeout
        current = self.catch_up()
        while current < position and time.monotonic() < deadline:
            time.sleep(0.02)
            current = self.catch_up()
        return current


class BackgroundProjector:
    """Runs ``catch_up`` in a thread: on a poll interval and whenever poked."""

    def __init__(self, runner: ProjectionRunner, interval: float = 0.5) -> None:
        self.runner = runner
        self.interval = interval
        self._poke = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="projections", daemon=True)
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
                self.runner.catch_up()
                self.last_error = None
            except Exception as e:  # keep serving reads; report through health
                self.last_error = e
            self._poke.wait(self.interval)
            self._poke.clear()
