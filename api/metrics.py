"""``GET /metrics`` in the Prometheus text format, behind the ``audit`` scope.

Counters and histograms (commands by name and outcome, their latency, store
errors) accumulate in the process (``ledger.observability``); the gauges are
read at scrape time from this ledger: the log's head, each projection's
position and lag (in events, and in seconds since it was last caught up), and
the deadlines due and overdue by the ledger's clock. ``LEDGER_METRICS_PORT``
serves the same on a separate port without a key (bind it where only the
scraper reaches), via ``serve_metrics``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from api.deps import AuditCaller
from api.routes import problem_responses
from api.services import Services, ServicesDep
from projections.deadlines import DeadlineQueries

router = APIRouter(tags=["operations"])

OVERDUE_AFTER = timedelta(minutes=5)
"""A due deadline still pending this long after its due time is overdue (the scheduler polls
every 30 s by default)."""


class LedgerGauges(Collector):
    """The gauges of one ledger, read when collected."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[GaugeMetricFamily]:
        ledger, runner = self.services.ledger, self.services.projector
        head = ledger.position()
        yield GaugeMetricFamily("ledger_log_position", "The log's newest position", value=head)
        position = GaugeMetricFamily("ledger_projection_position",
                                     "The position each projection reflects", labels=["projection"])
        lag = GaugeMetricFamily("ledger_projection_lag_events",
                                "Events written and not yet in the projection",
                                labels=["projection"])
        slowest = head
        for name, projection in runner.projections.items():
            at = projection.position()
            slowest = min(slowest, at)
            position.add_metric([name], at)
            lag.add_metric([name], max(head - at, 0))
        yield position
        yield lag
        behind = 0.0 if slowest >= head else time.monotonic() - runner.caught_up_at
        yield GaugeMetricFamily("ledger_projection_lag_seconds",
                                "Seconds since the projections were last caught up (0 when "
                                "they are)", value=behind)
        now = ledger.clock.now()
        deadlines = DeadlineQueries(runner.deadlines)
        yield GaugeMetricFamily("ledger_deadlines_due", "Pending deadlines due by now",
                                value=deadlines.count_due(now))
        yield GaugeMetricFamily("ledger_deadlines_overdue",
                                "Pending deadlines due more than 5 minutes ago",
                                value=deadlines.count_due(now - OVERDUE_AFTER))


def exposition(services: Services) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LedgerGauges(services))
    return generate_latest(REGISTRY) + generate_latest(registry)


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}},
                       **problem_responses(401, 403, 503)})
def metrics(services: ServicesDep, caller: AuditCaller) -> Response:
    """The Prometheus exposition (scope `audit`): commands by name and outcome, latency
    histograms, store errors, projection lag, deadlines due and overdue."""
    services.projection_position(None)  # as every read: caught up unless a projector runs
    return Response(exposition(services), media_type=CONTENT_TYPE_LATEST)


def serve_metrics(services: Services, host: str, port: int) -> None:
    """The same exposition without a key on its own port, for a scraper on a private network."""
    from prometheus_client import start_http_server

    REGISTRY.register(LedgerGauges(services))
    start_http_server(port, addr=host)
