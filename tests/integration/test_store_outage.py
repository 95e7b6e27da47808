"""PostgreSQL goes away under load and comes back: 503s with Retry-After, never a 500 or a long
hang; health says the store is down; the service recovers by itself and loses nothing it
acknowledged.

The outage is made by a TCP proxy between the service and the real server: "down" closes
every connection through it and refuses new ones, as a stopped server does; the PostgreSQL
server itself is never stopped, because other work on this machine (and the rest of the
suite) shares it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.application import EscrowLedger
from ledger.settings import store_from_url
from tests.api.conftest import API_KEYS, COMMANDS_KEY, FINANCE_KEY
from tests.conftest import fresh_store, require_backend


class Proxy:
    """127.0.0.1:<port> -> 127.0.0.1:5432, which can be cut and restored."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = int(probe.getsockname()[1])
        probe.close()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.up()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            for s in [*self._sockets, *([listener] if listener else [])]:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    server.close()
                    return
                self._sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.close()


@pytest.fixture
def proxied_url() -> Iterator[tuple[str, Proxy]]:
    require_backend("postgres")
    with fresh_store("postgres") as url:
        parts = urlsplit(url)
        proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 5432))
        netloc = f"{parts.username or 'postgres'}@127.0.0.1:{proxy.port}"
        try:
            yield urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), proxy
        finally:
            proxy.down()


def command(client: TestClient, n: int) -> tuple[int, dict[str, str], float, str]:
    body = {"kind": "fixed_price", "client_id": f"c{n}", "freelancer_id": "f1", "currency": "USD"}
    started = time.monotonic()
    r = client.post("/v1/contracts", json=body, headers={
        "Authorization": f"Bearer {COMMANDS_KEY}", "Idempotency-Key": f"outage-{n}"})
    return r.status_code, dict(r.headers), time.monotonic() - started, r.text


def test_an_outage_answers_503_then_the_service_recovers_losing_nothing(
        proxied_url: tuple[str, Proxy]) -> None:
    url, proxy = proxied_url
    ledger = EscrowLedger(store_from_url(url).env)
    web = create_app(ledger=ledger, api_keys=API_KEYS, background_projector=False)
    acknowledged: set[str] = set()
    with TestClient(web, raise_server_exceptions=False) as client:
        for n in range(5):
            status, _, _, text = command(client, n)
            assert status == 201, text
            acknowledged.add(f"c{n}")

        proxy.down()
        answered = []
        for n in range(5, 10):
            status, headers, seconds, text = command(client, n)
            assert status == 503, text
            assert "/store-unavailable" in text
            assert headers["retry-after"]
            answered.append(seconds)
        # the first finds the store gone (the library tries each call 10 times, each waiting
        # up to 2 s for a connection); the breaker answers the next ones at once
        assert answered[0] < 25, answered
        assert max(answered[1:]) < 0.5, answered
        health = client.get("/v1/health")
        assert (health.status_code, health.json()["status"]) == (503, "store_down")
        assert health.headers["Retry-After"]

        proxy.up()
        deadline = time.monotonic() + 20
        while True:  # the service recovers by itself: no restart, no reconnect by hand
            status, _, _, text = command(client, 100)
            if status == 201 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status == 201, text
        assert client.get("/v1/health").json()["status"] == "ok"
        # the commands refused during the outage, retried with their keys, go through once
        for n in range(5, 10):
            for _ in range(2):
                status, _, _, text = command(client, n)
                assert status == 201, text
            acknowledged.add(f"c{n}")
        trial = client.get("/v1/finance/trial-balance",
                           headers={"Authorization": f"Bearer {FINANCE_KEY}"})
        assert trial.json()["balanced"] is True
    opened = sorted(c.client_id for c in _contracts(ledger))  # type: ignore[attr-defined]
    assert opened == sorted(acknowledged | {"c100"})  # each exactly once
    ledger.close()


def _contracts(ledger: EscrowLedger) -> list[object]:
    from domain.contracts.fixed_price import FixedPriceContract

    found = []
    for n in ledger.recorder.select_notifications(start=1, limit=10_000):
        if n.topic.endswith("FixedPriceContract.Opened"):
            c = ledger.find(FixedPriceContract, n.originator_id)
            assert c is not None
            found.append(c)
    return found
