"""PostgreSQL stopped and started under load: 503s with Retry-After, never a 500 or a long
hang; health says the store is down; the service recovers by itself and loses nothing it
acknowledged, doubles nothing.

The outage is real: the test runs a PostgreSQL cluster of its own
(``tests.reliability.private_postgres``) and stops it with ``pg_ctl stop -m fast``
under a ``ledger serve`` process while clients send commands; the shared server on
port 5432 is never touched.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.settings import store_from_url
from tests.api.conftest import COMMANDS_KEY
from tests.conftest import REQUIRE_POSTGRES
from tests.reliability.private_postgres import PrivateCluster, private_cluster, unavailable_reason
from tests.reliability.servers import Ledger, Servers, headers, new_key, serving, usd

CONNECT_TIMEOUT = float(store_from_url("postgresql://x@h/db").env["POSTGRES_CONNECT_TIMEOUT"])
HANG_BOUND = CONNECT_TIMEOUT + 1.5
"""The longest any answer may take while the store is down: one wait for a connection,
and the slack of a loaded two-core machine."""


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    reason = unavailable_reason()
    if reason is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"no private PostgreSQL cluster for the outage test: {reason}")
        pytest.skip(f"no private PostgreSQL cluster: {reason}")
    with private_cluster() as c:
        yield c


@dataclass
class Answer:
    started: float
    seconds: float
    status: int
    text: str
    content_type: str
    retry_after: str | None


@dataclass
class Load:
    """Client threads opening, pricing and funding milestones over HTTP, each step retried
    with its own ``Idempotency-Key`` until acknowledged, as a careful client does."""

    base: str
    workers: int = 3
    answers: list[Answer] = field(default_factory=list)
    units: list[tuple[str, str]] = field(default_factory=list)  # (contract, milestone)
    finish: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._run, args=(w,), daemon=True)
                   for w in range(self.workers)]
        for t in threads:
            t.start()
        return threads

    def acknowledged_since(self, moment: float) -> int:
        with self._lock:
            return sum(1 for a in self.answers if a.started >= moment and a.status < 300)

    def _run(self, worker: int) -> None:
        try:
            with httpx.Client(base_url=self.base, timeout=30) as client:
                n = 0
                while not self.finish.is_set():
                    n += 1
                    cid = self._step(client, "/v1/contracts", {
                        "kind": "fixed_price", "client_id": f"client-{worker}-{n}",
                        "freelancer_id": f"fl-{worker}", "currency": "USD"})["contract_id"]
                    mid = self._step(client, f"/v1/contracts/{cid}/milestones", {
                        "title": "work", "amount": usd("100.00")})["milestone_id"]
                    self._step(client, f"/v1/contracts/{cid}/milestones/{mid}/fund", None)
                    with self._lock:
                        self.units.append((cid, mid))
        except BaseException as e:
            self.errors.append(e)

    def _step(self, client: httpx.Client, path: str, body: Any) -> dict[str, Any]:
        key = new_key()
        give_up = time.monotonic() + 40
        while True:
            started = time.monotonic()
            r = client.post(path, json=body, headers=headers(COMMANDS_KEY, key))
            with self._lock:
                self.answers.append(Answer(started, time.monotonic() - started, r.status_code,
                                           r.text, r.headers.get("content-type", ""),
                                           r.headers.get("retry-after")))
            if r.status_code in (200, 201):
                data: dict[str, Any] = r.json()
                return data
            assert r.status_code == 503, r.text
            assert time.monotonic() < give_up, "a step was refused for 40 s"
            time.sleep(0.1)  # shorter than Retry-After, to keep the test short


def test_postgres_stopped_under_load_answers_503_and_recovers_losing_nothing(
        cluster: PrivateCluster, tmp_path: Path) -> None:
    with serving(cluster.url, tmp_path, count=1) as servers:
        load = Load(servers.bases[0])
        threads = load.start()
        _wait_for(lambda: load.acknowledged_since(0) >= 6, 15, "commands before the outage")

        stopped_at = time.monotonic()
        cluster.stop("fast")
        time.sleep(CONNECT_TIMEOUT + 1.0)  # every worker meets the outage, the first ones wait
        health_started = time.monotonic()
        health = httpx.get(f"{servers.bases[0]}/v1/health", timeout=10)
        assert time.monotonic() - health_started < 1.0
        assert (health.status_code, health.json()["status"]) == (503, "store_down"), health.text
        assert health.headers["Retry-After"]
        assert load.acknowledged_since(stopped_at + 0.5) == 0, "acknowledged with no database"

        restarted_at = time.monotonic()
        cluster.start()
        # the service recovers by itself: no restart, no reconnect by hand
        _wait_for(lambda: httpx.get(f"{servers.bases[0]}/v1/health", timeout=5)
                  .status_code == 200, 10, f"health after the restart\n{servers.logs()}")
        _wait_for(lambda: load.acknowledged_since(restarted_at) >= 3, 10,
                  "commands after the restart")
        recovered_in = time.monotonic() - restarted_at
        load.finish.set()
        for t in threads:
            t.join(60)
        assert not load.errors, load.errors

        _check_outage_answers(load, stopped_at, restarted_at)
        assert recovered_in < 8, recovered_in
        _check_books(servers, load)


def _check_outage_answers(load: Load, stopped_at: float, restarted_at: float) -> None:
    during = [a for a in load.answers if a.started + a.seconds > stopped_at
              and a.started < restarted_at]
    refused = [a for a in during if a.status == 503]
    assert len(refused) >= load.workers, "the outage was not met"
    assert {a.status for a in load.answers} <= {200, 201, 503}
    for a in refused:
        assert a.content_type == "application/problem+json", a
        assert a.text.count("/store-unavailable") == 1, a.text
        assert (a.retry_after or "").isdigit(), a
    slowest = max(a.seconds for a in during)
    assert slowest < HANG_BOUND, (slowest, sorted(a.seconds for a in during)[-5:])
    # the breaker and the pool refuse at once once the outage is known
    assert sorted(a.seconds for a in refused)[len(refused) // 2] < 0.5


def _check_books(servers: Servers, load: Load) -> None:
    ledger = Ledger(servers)
    try:
        events = ledger.log()
        ledger.position = events[-1]["position"]
        opened = [e["aggregate_id"] for e in events if e["name"] == "FixedPriceContract.Opened"]
        funded = [e["data"].get("milestone_id") for e in events
                  if e["name"] == "FixedPriceContract.MilestoneFunded"]
        contracts = [cid for cid, _ in load.units]
        # every acknowledged command exactly once; the unfinished last steps of each worker
        # were retried to the end, so nothing else is in the log either
        assert sorted(opened) == sorted(contracts)
        assert sorted(map(str, funded)) == sorted(mid for _, mid in load.units)
        ledger.assert_books()  # trial balance zero, projections equal to a replay, no 500
    finally:
        ledger.close()


def _wait_for(condition: Any, timeout: float, what: str) -> None:
    give_up = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < give_up, f"timed out waiting for {what}"
        time.sleep(0.05)
