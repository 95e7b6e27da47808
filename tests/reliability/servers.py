"""Real ``ledger serve --no-scheduler`` processes on one store, killed and restarted at will.

The reliability tests need what an in-process ``TestClient`` cannot give: two
operating-system processes with their own connection pools racing on one
database, and a process that dies by SIGKILL mid-request (no ``finally``, no
rollback by Python, the socket just gone). Each server writes its output to a
file (a pipe nobody reads would fill and stall the server), and every process
this module starts is killed when the ``Servers`` context ends, and by the
kernel if the test process itself dies first (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.api.conftest import API_KEYS, AUDIT_KEY, COMMANDS_KEY, FINANCE_KEY, READ_KEY

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
"""Seconds a server may take to answer /v1/health (imports and schema creation)."""
PR_SET_PDEATHSIG = 1


def api_keys_spec(keys: Mapping[str, frozenset[str]] = API_KEYS) -> str:
    """``LEDGER_API_KEYS`` for a key -> scopes mapping (the API tests' keys by default)."""
    return ",".join(f"{k}:{'+'.join(sorted(v))}" for k, v in keys.items())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it when the thread that started it dies.

    The signal follows the starting *thread*, so start servers from the test's
    main thread (``Servers`` does), never from a short-lived worker thread.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass
class Server:
    """One server process: where it listens, its log file, and the process while alive."""

    index: int
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Servers:
    """N API processes on one store URL; ``kill``/``restart`` one, ``close`` them all."""

    database_url: str
    workdir: Path
    count: int = 2
    test_clock_start: datetime | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    servers: list[Server] = field(default_factory=list)
    kills: int = 0

    def env(self) -> dict[str, str]:
        clock = {} if self.test_clock_start is None else {
            "LEDGER_TEST_CLOCK": "1", "LEDGER_TEST_CLOCK_START": self.test_clock_start.isoformat()}
        return process_env(self.database_url, LEDGER_API_KEYS=api_keys_spec(), **clock,
                           **self.extra_env)

    def start(self) -> Servers:
        """Starts every server and waits until each answers /v1/health."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        for i in range(self.count):
            self.servers.append(Server(i, free_port(), self.workdir / f"server-{i}.log"))
        for server in self.servers:
            self._spawn(server)
        for server in self.servers:
            self._wait_healthy(server)
        return self

    @property
    def bases(self) -> list[str]:
        return [s.base for s in self.servers]

    def _spawn(self, server: Server) -> None:
        server.starts += 1
        with server.log_path.open("ab") as log:
            log.write(f"\n==== start {server.starts} ====\n".encode())
            log.flush()
            server.process = subprocess.Popen(
                [sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(server.port),
                 "--no-scheduler"],
                cwd=self.workdir, env=self.env(), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
            )

    def _wait_healthy(self, server: Server) -> None:
        give_up = time.monotonic() + START_TIMEOUT
        while time.monotonic() < give_up:
            if not server.alive():
                raise RuntimeError(f"server {server.index} exited at start:\n"
                                   f"{server.log_tail()}")
            try:
                if httpx.get(f"{server.base}/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server {server.index} did not answer /v1/health within "
                           f"{START_TIMEOUT:g}s:\n{server.log_tail()}")

    def kill(self, index: int) -> None:
        """SIGKILL: no shutdown hook runs, open transactions die with the connection."""
        server = self.servers[index]
        if server.process is not None and server.process.poll() is None:
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(timeout=10)
            self.kills += 1

    def restart(self, index: int, *, wait: bool = True) -> None:
        """Starts a killed (or stopped) server again on the same port; ``wait`` for its
        /v1/health (else ``wait_healthy`` later: the start takes seconds)."""
        server = self.servers[index]
        if server.alive():
            return
        self._spawn(server)
        if wait:
            self._wait_healthy(server)

    def wait_healthy(self) -> None:
        """Waits until every server answers /v1/health."""
        for server in self.servers:
            self._wait_healthy(server)

    def healthy(self, index: int) -> bool:
        """Alive and answering /v1/health at once."""
        server = self.servers[index]
        if not server.alive():
            return False
        try:
            return httpx.get(f"{server.base}/v1/health", timeout=0.5).status_code == 200
        except httpx.TransportError:
            return False

    def close(self) -> None:
        for server in self.servers:
            if server.process is not None and server.process.poll() is None:
                server.process.send_signal(signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    server.process.wait(timeout=10)

    def logs(self) -> str:
        """Every server's recent output, for an assertion message."""
        return "\n".join(f"--- server {s.index} ({s.base}) ---\n{s.log_tail()}"
                         for s in self.servers)

    def logged_errors(self) -> list[str]:
        """Lines of the servers' logs showing a 500 or an unexpected exception.

        Both access-log formats are read: JSON lines (``"status": 500``) and text
        (``" 500``); a traceback anywhere counts too. (A 503's logged cause, such as
        "database is locked", is not an error here: the answer said "retry".)
        """
        found = []
        for server in self.servers:
            for line in server.log_path.read_text(errors="replace").splitlines():
                if any(mark in line for mark in ('"status": 500', '" 500 ', "Traceback",
                                                 "internal-error")):
                    found.append(f"server {server.index}: {line}")
        return found


@contextmanager
def serving(database_url: str, workdir: Path, *, count: int = 2,
            test_clock_start: datetime | None = None,
            extra_env: Mapping[str, str] | None = None) -> Iterator[Servers]:
    """``count`` servers on ``database_url``, all killed when the block ends, whatever happens."""
    servers = Servers(database_url, workdir, count=count, test_clock_start=test_clock_start,
                      extra_env=dict(extra_env or {}))
    try:
        yield servers.start()
    finally:
        servers.close()


def process_env(url: str, **extra: str) -> dict[str, str]:
    """The environment of a ``ledger`` subprocess on ``url`` (no LEDGER_* leaks in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    return {**env, "LEDGER_DATABASE_URL": url, "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1", **extra}


def wait_until(condition: Any, timeout: float, what: str) -> None:
    give_up = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < give_up, f"timed out waiting for {what}"
        time.sleep(0.005)


# ---- talking to the servers -------------------------------------------------------------


def headers(key: str, idempotency_key: str | None = None) -> dict[str, str]:
    h = {"Authorization": f"Bearer {key}"}
    if idempotency_key is not None:
        h["Idempotency-Key"] = idempotency_key
    return h


def new_key() -> str:
    return str(uuid.uuid4())


class Ledger:
    """Commands and reads over HTTP on a set of servers, remembering every answer.

    ``position`` is the newest log position any command answered, and reads
    ask for it (``min_position``) or wait for it (``settle``), so a read on one
    server sees a write made on the other. ``answers`` keeps every response, so
    a test can show that none of them was a 500.
    """

    def __init__(self, servers: Servers, *, timeout: float = 30.0) -> None:
        self.servers = servers
        self.clients = [httpx.Client(base_url=b, timeout=timeout) for b in servers.bases]
        self.position = 0
        self.answers: list[httpx.Response] = []

    def close(self) -> None:
        for c in self.clients:
            c.close()

    def saw(self, response: httpx.Response) -> httpx.Response:
        self.answers.append(response)
        if response.status_code < 300 and response.headers.get("content-type") == \
                "application/json":
            self.position = max(self.position, int(response.json().get("position", 0)))
        return response

    def post(self, path: str, body: Any = None, *, server: int = 0,
             key: str | None = None) -> httpx.Response:
        return self.saw(self.clients[server].post(
            path, json=body, headers=headers(COMMANDS_KEY, key or new_key())))

    def ok(self, path: str, body: Any = None, *, server: int = 0) -> dict[str, Any]:
        response = self.post(path, body, server=server)
        assert response.status_code in (200, 201), response.text
        data: dict[str, Any] = response.json()
        return data

    def get(self, path: str, *, key: str = READ_KEY, server: int = 0,
            params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.clients[server].get(path, headers=headers(key), params=params)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    # ---- the marketplace's steps ---------------------------------------------------

    def funded_milestone(self, client_id: str, freelancer_id: str,
                         amount: str = "500.00") -> tuple[str, str]:
        """A fixed-price contract with one milestone funded by card."""
        cid = self.ok("/v1/contracts", {"kind": "fixed_price", "client_id": client_id,
                                        "freelancer_id": freelancer_id,
                                        "currency": "USD"})["contract_id"]
        mid = self.ok(f"/v1/contracts/{cid}/milestones",
                      {"title": "work", "amount": usd(amount)})["milestone_id"]
        self.ok(f"/v1/contracts/{cid}/milestones/{mid}/fund")
        return cid, mid

    # ---- reads at the newest position ------------------------------------------------

    def settle(self, timeout: float = 15.0) -> None:
        """Waits until every server's projections reflect ``position``."""
        for server in range(len(self.clients)):
            give_up = time.monotonic() + timeout
            while True:
                answer = self.clients[server].get("/v1/health")
                health = answer.json()
                # a 503 (store down, or just refused one) has no positions: ask again
                if answer.status_code == 200 and health["projection_position"] >= self.position:
                    break
                assert time.monotonic() < give_up, f"server {server} stuck at {health}"
                time.sleep(0.05)

    def usd(self, account: str, *, server: int = 0) -> str:
        """The account's USD balance on its normal side ("0.00" when it never moved)."""
        data = self.get(f"/v1/accounts/{account}/balance", server=server,
                        params={"min_position": self.position})
        found = [b["amount"] for b in data["balances"] if b["currency"] == "USD"]
        return str(found[0]) if found else "0.00"

    def freelancer(self, freelancer_id: str, *, server: int = 0) -> dict[str, str]:
        """pending, available, in_flight... in USD, as strings (all "0.00" for a
        freelancer who never earned anything: the route's 404)."""
        response = self.clients[server].get(
            f"/v1/freelancers/{freelancer_id}/balances", headers=headers(READ_KEY),
            params={"min_position": self.position})
        zero = {k: "0.00" for k in ("pending", "available", "in_flight", "held",
                                    "withdrawable")}
        if response.status_code == 404:
            assert response.json()["type"].endswith("/freelancer-not-found"), response.text
            return zero
        assert response.status_code == 200, response.text
        lines = [b for b in response.json()["balances"] if b["currency"] == "USD"]
        assert len(lines) <= 1, lines
        return {**zero, **{k: v["amount"] for line in lines for k, v in line.items()
                           if isinstance(v, dict)}}

    def contract_events(self, contract_id: str, name: str) -> list[dict[str, Any]]:
        events = self.get(f"/v1/contracts/{contract_id}/events", key=AUDIT_KEY)["events"]
        return [e for e in events if e["name"].endswith(name)]

    def log(self, *, server: int = 0, after: int = 0) -> list[dict[str, Any]]:
        """Every event in the log after ``after``, in order (the audit feed, page by page)."""
        events: list[dict[str, Any]] = []
        while True:
            page = self.get("/v1/events", key=AUDIT_KEY, server=server,
                            params={"after": after, "limit": 1000})
            events += page["events"]
            if not page["events"]:
                return events
            after = page["next_after"]

    def assert_books(self) -> None:
        """On every server: the projections caught up, the trial balance zero in every
        currency, the journal equal to a replay of the log, and no answer a 500."""
        self.settle()
        for server in range(len(self.clients)):
            trial = self.get("/v1/finance/trial-balance", key=FINANCE_KEY, server=server)
            assert trial["balanced"] is True, trial
            assert trial["position"] >= self.position, trial
            assert {c["net"] for c in trial["currencies"]} <= {"0.00", "0"}, trial
            replay = self.get("/v1/audit/replay-check", key=AUDIT_KEY, server=server)
            assert replay["ok"] is True, replay
            assert replay["breaks"] == [], replay
        assert_no_500(self.answers)
        assert self.servers.logged_errors() == [], self.servers.logged_errors()


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


def assert_no_500(answers: Sequence[httpx.Response]) -> None:
    bad = [(r.status_code, r.text) for r in answers if r.status_code >= 500
           and not (r.status_code == 503 and "Retry-After" in r.headers)]
    assert bad == [], bad
    locked = [r.text for r in answers if "database is locked" in r.text]
    assert locked == [], locked
