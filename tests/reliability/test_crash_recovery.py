"""Processes killed with SIGKILL mid-work: nothing acknowledged is lost, nothing happens twice.

* The API under load: a few client threads run open/add/fund/approve flows over
  HTTP against two server processes while, at seeded random moments (counted
  in acknowledged commands, so the kills land under load on any machine), one
  of them is SIGKILLed and restarted. A command that got no answer (or a 503)
  is sent again with the same Idempotency-Key and body until it gets one. Then
  one aimed kill: a command committed whose answer never left the process; its
  retry on the other process is answered with the first answer, replayed.
* The scheduler (``ledger scheduler``) SIGKILLed while firing a batch of due
  auto-releases; a new scheduler (its own application and pool) fires the rest.
* A projection runner (``ledger trial-balance`` catching every projection up)
  SIGKILLed while catching up a long log, then resumed by another runner.

Figures: each flow is a $500.00 milestone funded by card in 2026 (534.95
charged: 25.00 marketplace fee, 9.95 initiation fee) and approved (450.00
pending, 50.00 service fee).
"""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from api.auth import fingerprint
from domain.money import money
from entrypoints.scheduler import tick
from ledger.application import EscrowLedger
from ledger.bootstrap import build_ledger
from ledger.clock import FakeClock
from ledger.settings import Settings, store_from_url
from projections.runner import ProjectionRunner
from reconciliation.replay import compare_with_projection
from tests.api.conftest import COMMANDS_KEY
from tests.conftest import fresh_store
from tests.integration.test_projection_rebuild import dump
from tests.reliability.conftest import CLOCK_START
from tests.reliability.servers import (
    Ledger,
    Servers,
    headers,
    process_env,
    serving,
    wait_until,
)

SEED = 14
COMMAND_GIVE_UP = 60.0
"""Seconds one command may go unanswered, across all its retries, before the test fails."""


# ---- the load generator -------------------------------------------------------------------


@dataclass
class Sent:
    """One command: its key and body, and what finally answered it."""

    key: str
    path: str
    body: Any
    answer: httpx.Response | None = None
    attempts: int = 0


@dataclass
class Load:
    """Client threads running fixed-price flows, each command retried until answered."""

    servers: Servers
    threads: int
    flows: int
    acknowledged: int = 0
    interrupted: int = 0
    sent: list[Sent] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> list[threading.Thread]:
        workers = [threading.Thread(target=self._worker, args=(t,), daemon=True)
                   for t in range(self.threads)]
        for w in workers:
            w.start()
        return workers

    def _worker(self, thread: int) -> None:
        try:
            with httpx.Client(timeout=10) as client:
                for flow in range(self.flows):
                    self._flow(client, thread, flow)
        except BaseException as e:
            self.errors.append(e)

    def _flow(self, client: httpx.Client, thread: int, flow: int) -> None:
        path = self.milestone(client, thread, f"{thread}-{flow}", f"fl-load-{thread}")
        self.command(client, thread, f"load-{thread}-{flow}-fund", path + "/fund", {})
        self.command(client, thread, f"load-{thread}-{flow}-approve", path + "/approve", {})

    def milestone(self, client: httpx.Client, thread: int, name: str, freelancer: str) -> str:
        """Opens a contract and adds a $500.00 milestone; its path."""
        opened = self.command(client, thread, f"load-{name}-open", "/v1/contracts", {
            "kind": "fixed_price", "client_id": f"cl-load-{name}",
            "freelancer_id": freelancer, "currency": "USD"})
        cid = opened["contract_id"]
        added = self.command(client, thread, f"load-{name}-add",
                              f"/v1/contracts/{cid}/milestones",
                              {"title": "work", "amount": {"amount": "500.00",
                                                           "currency": "USD"}})
        return f"/v1/contracts/{cid}/milestones/{added['milestone_id']}"

    def command(self, client: httpx.Client, thread: int, key: str, path: str,
                 body: Any) -> dict[str, Any]:
        """Sends until answered: a lost connection or a 503 is retried with the same key
        and body, on the other server first (the one it went to may be dead)."""
        sent = Sent(key, path, body)
        give_up = time.monotonic() + COMMAND_GIVE_UP
        while sent.answer is None:
            assert time.monotonic() < give_up, f"{key} unanswered for {COMMAND_GIVE_UP:g}s"
            base = self.servers.bases[(thread + sent.attempts) % len(self.servers.bases)]
            sent.attempts += 1
            try:
                answer = client.post(base + path, json=body, headers=headers(COMMANDS_KEY, key))
            except httpx.TransportError:
                with self._lock:
                    self.interrupted += 1
                time.sleep(0.02)
                continue
            if answer.status_code == 503:
                assert "Retry-After" in answer.headers, answer.text
                time.sleep(0.05)
                continue
            sent.answer = answer
        with self._lock:
            self.sent.append(sent)
            self.acknowledged += 1
        assert sent.answer.status_code in (200, 201), (key, sent.answer.text)
        data: dict[str, Any] = sent.answer.json()
        return data


def kill_under_load(servers: Servers, load: Load, kills: int, rng: random.Random) -> None:
    """SIGKILLs a serving server each time the acknowledged count passes a random mark,
    and starts it again at once without waiting for it: the load goes on against the
    other one, or waits for both when the next kill takes the other one too."""
    total = load.threads * load.flows * 4
    marks = sorted(rng.sample(range(total // 10, total * 8 // 10), kills))
    workers = load.run()

    def running() -> bool:
        return any(w.is_alive() for w in workers)

    for mark in marks:
        while load.acknowledged < mark and running():
            time.sleep(0.002)
        serving = [i for i in range(len(servers.servers)) if servers.healthy(i)]
        while not serving and running():
            time.sleep(0.05)
            serving = [i for i in range(len(servers.servers)) if servers.healthy(i)]
        if not running():
            break
        victim = rng.choice(serving)
        servers.kill(victim)
        servers.restart(victim, wait=False)
    for w in workers:
        w.join(COMMAND_GIVE_UP * 4)
    assert not any(w.is_alive() for w in workers), "a load thread hung"
    assert load.errors == [], load.errors
    servers.wait_healthy()


KILLS = {"postgres": 2, "sqlite": 2}
"""Random SIGKILLs per run (one more, aimed, follows): each restart costs a few seconds of
a 2-core machine (the imports)."""
FLOWS = 12
"""Flows per client thread: 4 threads x 12 flows x 4 commands = 192 commands."""


def test_api_processes_killed_under_load_lose_nothing_acknowledged_and_double_nothing(
        backend: str, tmp_path: Path) -> None:
    kills = KILLS[backend]
    with fresh_store(backend) as url, \
            serving(url, tmp_path, count=2, test_clock_start=CLOCK_START) as servers:
        load = Load(servers, threads=4, flows=FLOWS)
        ledger = Ledger(servers)
        try:
            kill_under_load(servers, load, kills, random.Random(SEED))
            answered_by_replay_after_a_kill(ledger, load, servers)
            servers.wait_healthy()
            check_after_load(ledger, load, servers, kills + 1)
        finally:
            ledger.close()


def answered_by_replay_after_a_kill(ledger: Ledger, load: Load, servers: Servers) -> None:
    """The case random kills rarely hit: the command committed, then its process died
    before the answer reached the client. A raw socket sends the funding and never reads;
    once its idempotency record is in the log, that server is SIGKILLed; the client's
    retry (same key, same body, the other server) gets the first answer, replayed."""
    with httpx.Client(timeout=10) as client:
        path = load.milestone(client, 0, "aimed", "fl-load-aimed") + "/fund"
        key = "load-aimed-fund"
        start = max(int(s.answer.json()["position"]) for s in load.sent
                    if s.answer is not None)
        port = servers.servers[0].port
        with socket.create_connection(("127.0.0.1", port), timeout=10) as unread:
            unread.sendall(
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer {COMMANDS_KEY}\r\nIdempotency-Key: {key}\r\n"
                f"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}".encode())
            scoped = f"{fingerprint(COMMANDS_KEY)}:{key}"
            wait_until(lambda: any(e["data"].get("key") == scoped
                                   for e in ledger.log(server=1, after=start)),
                       30, "the unread command to commit")
            servers.kill(0)
        servers.restart(0, wait=False)  # it starts while the client retries elsewhere
        retried = Sent(key, path, {}, attempts=2)
        retried.answer = client.post(servers.bases[1] + path, json={},
                                     headers=headers(COMMANDS_KEY, key))
        assert retried.answer.status_code == 200, retried.answer.text
        assert retried.answer.headers["Idempotent-Replayed"] == "true"
        assert retried.answer.json()["charge"]["total"]["amount"] == "534.95"
        load.sent.append(retried)
        load.acknowledged += 1
        load.command(client, 1, "load-aimed-approve", path.removesuffix("/fund") + "/approve",
                     {})


def check_after_load(ledger: Ledger, load: Load, servers: Servers, kills: int) -> None:
    contracts = load.threads * load.flows + 1  # and the aimed kill's flow
    commands = contracts * 4
    assert servers.kills == kills
    assert load.acknowledged == commands
    assert load.interrupted > 0, "no kill interrupted a request"
    assert all(s.answer is not None and s.answer.status_code in (200, 201) for s in load.sent)
    ledger.position = max(int(s.answer.json()["position"]) for s in load.sent
                          if s.answer is not None)

    # every acknowledged command is in the log exactly once: one idempotency record per key
    events = ledger.log()
    scope = fingerprint(COMMANDS_KEY) + ":"
    records = Counter(e["data"]["key"].removeprefix(scope) for e in events
                      if e["name"].endswith("CommandRecord.Accepted")
                      and e["data"]["key"].startswith(scope + "load-"))
    assert records == Counter({s.key: 1 for s in load.sent})
    names = Counter(e["name"].rsplit(".", 1)[-1] for e in events)
    assert (names["Opened"], names["MilestoneAdded"], names["MilestoneFunded"],
            names["MilestoneReleased"]) == (contracts,) * 4
    # a retried answer is the first answer: the same contract, the same charge
    fund_answers = [s.answer.json() for s in load.sent if s.key.endswith("-fund")
                    and s.answer is not None]
    assert {a["charge"]["total"]["amount"] for a in fund_answers} == {"534.95"}

    # no money moved twice: each freelancer earned 450.00 per flow, once
    for thread in range(load.threads):
        assert ledger.freelancer(f"fl-load-{thread}")["pending"] == \
            str(Decimal("450.00") * load.flows)
    assert ledger.freelancer("fl-load-aimed")["pending"] == "450.00"
    assert ledger.usd("processor:clearing") == str(Decimal("534.95") * contracts)
    assert ledger.usd("revenue:service_fee") == str(Decimal("50.00") * contracts)
    assert ledger.usd("revenue:marketplace_fee") == str(Decimal("25.00") * contracts)
    assert ledger.usd("revenue:initiation_fee") == str(Decimal("9.95") * contracts)

    # projections caught up on both servers, equal to a replay, the books balanced
    ledger.assert_books()
    for base in servers.bases:
        health = httpx.get(base + "/v1/health").json()
        assert health["projection_position"] == health["log_position"], health
    assert_no_500_logged(servers)


def assert_no_500_logged(servers: Servers) -> None:
    assert servers.logged_errors() == []


# ---- the scheduler killed while firing a batch ---------------------------------------------


DUE = 30
"""Submitted milestones whose auto-release falls due at once (one tick, ten transactions)."""


@contextmanager
def clocked_ledger(url: str) -> Iterator[tuple[EscrowLedger, ProjectionRunner]]:
    app = build_ledger(Settings(database_url=url, test_clock=True,
                                test_clock_start=CLOCK_START))
    try:
        yield app, ProjectionRunner(app)
    finally:
        app.close()


def topics_after(app: EscrowLedger, position: int) -> list[str]:
    return [n.topic for n in app.recorder.select_notifications(start=position + 1,
                                                               limit=100_000)]


def start_scheduler(url: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", "scheduler"], cwd=log.parent,
            env=process_env(url, LEDGER_TEST_CLOCK="1",
                            LEDGER_SCHEDULER_INTERVAL_SECONDS="0.2",
                            # transactions of 3 firings, so the kill lands between two
                            LEDGER_SCHEDULER_FIRING_BATCH="3"),
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


def test_a_scheduler_killed_mid_batch_resumes_without_firing_anything_twice(
        backend: str, tmp_path: Path) -> None:
    with fresh_store(backend) as url, clocked_ledger(url) as (app, runner):
        for i in range(DUE):
            cid = app.open_contract(client_id=f"cl-due-{i}", freelancer_id="fl-due",
                                    currency="USD", actor="t").response["contract_id"]
            mid = app.add_milestone(contract_id=cid, title="m", amount=money("500.00", "USD"),
                                    actor="t").response["milestone_id"]
            app.fund_milestone(contract_id=cid, milestone_id=mid, actor="c")
            app.submit_work(contract_id=cid, milestone_id=mid, actor="f")
        # the clock moves past day 14 without firing: the scheduler has the whole batch
        app.record_clock_advance(to=CLOCK_START + timedelta(days=15), fired=[], actor="t")
        start = app.position()

        def released() -> int:
            return sum(t.endswith(".MilestoneReleased") for t in topics_after(app, start))

        log = tmp_path / "scheduler.log"
        first = start_scheduler(url, log)
        try:
            wait_until(lambda: released() >= 3, 60, "the scheduler's first firings")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        at_kill = released()
        assert 3 <= at_kill < DUE, f"the kill came after the batch ({at_kill} of {DUE})"
        # each batch of firings is one atomic save: a release never without its record, or
        # twice
        topics = topics_after(app, start)
        assert sum(t.endswith("CommandRecord.Accepted") for t in topics) == at_kill

        # a restarted scheduler: a new application (its own pool) on the same store; the
        # killed one's lock (advisory lock, lock file) went with its process
        with clocked_ledger(url) as (restarted, restarted_runner):
            fired = tick(restarted, restarted_runner)
            assert [f.replayed for f in fired] == [False] * (DUE - at_kill)
            assert tick(restarted, restarted_runner) == []
        assert released() == DUE
        assert runner.deadlines.queries.due(app.clock.now()) == []
        runner.catch_up()
        (pending,) = runner.queries.balance("freelancer:fl-due:pending")
        assert pending.balance == Decimal("450.00") * DUE  # 13,500.00
        (fees,) = runner.queries.balance("revenue:service_fee")
        assert fees.balance == Decimal("50.00") * DUE
        assert runner.queries.trial_balance() == {"USD": Decimal("0.00")}
        assert compare_with_projection(app, runner.queries).ok
        assert "Traceback" not in log.read_text()


# ---- the projection runner killed while catching up a long log ----------------------------


FLOWS_FOR_LONG_LOG = 60
"""487 events: projecting them all takes about 0.1 s on SQLite, 1 s on PostgreSQL."""


def test_a_projection_runner_killed_mid_catch_up_resumes_to_the_rows_of_a_rebuild(
        backend: str, tmp_path: Path) -> None:
    with fresh_store(backend) as url:
        app = EscrowLedger(store_from_url(url).env, clock=FakeClock(CLOCK_START))
        try:
            runner = ProjectionRunner(app)  # its tables only: nothing projected yet
            for i in range(FLOWS_FOR_LONG_LOG):
                cid = app.open_contract(client_id=f"cl-long-{i}",
                                        freelancer_id=f"fl-long-{i % 6}", currency="USD",
                                        actor="t").response["contract_id"]
                mid = app.add_milestone(contract_id=cid, title="m",
                                        amount=money("500.00", "USD"),
                                        actor="t").response["milestone_id"]
                app.fund_milestone(contract_id=cid, milestone_id=mid, actor="c")
                app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c")
            head = app.position()
            kill_catch_up_mid_way(url, tmp_path, runner, head)
        finally:
            app.close()

        # a restarted runner (a new application, its own pool) resumes from each
        # projection's own tracking record, and ends with the rows a rebuild from zero
        # writes: nothing lost, nothing counted twice
        resumed = EscrowLedger(store_from_url(url).env, clock=FakeClock(CLOCK_START))
        try:
            again = ProjectionRunner(resumed)
            assert again.catch_up() == head
            assert {name: p.position() for name, p in again.projections.items()} == \
                dict.fromkeys(again.projections, head)
            caught_up = {name: dump(p) for name, p in again.projections.items()}
            (pending,) = again.queries.balance("freelancer:fl-long-0:pending")
            assert pending.balance == Decimal("450.00") * 10  # flows 0, 6, ... 54
            assert again.queries.trial_balance() == {"USD": Decimal("0.00")}
            assert compare_with_projection(resumed, again.queries).ok
            again.rebuild()
            assert {name: dump(p) for name, p in again.projections.items()} == caught_up
        finally:
            resumed.close()


def kill_catch_up_mid_way(url: str, workdir: Path, runner: ProjectionRunner, head: int) -> None:
    """Runs ``ledger trial-balance`` (it catches every projection up, then prints) and
    SIGKILLs it once some projection has caught up and another has not."""
    def positions() -> dict[str, int]:
        return {name: p.position() for name, p in runner.projections.items()}

    assert set(positions().values()) == {0}
    with (workdir / "catch-up.log").open("ab") as out:
        catching_up = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", "trial-balance"],
            cwd=workdir, env=process_env(url), stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT)
    try:
        def mid_way() -> bool:
            seen = positions().values()
            return catching_up.poll() is not None or (max(seen) > 0 and min(seen) < head)

        wait_until(mid_way, 60, "the catch-up to start")
        catching_up.send_signal(signal.SIGKILL)
        catching_up.wait(10)
    finally:
        if catching_up.poll() is None:
            catching_up.kill()
    assert catching_up.returncode == -signal.SIGKILL, "the catch-up ended before the kill"
    partial = positions()
    assert max(partial.values()) > 0, partial
    assert min(partial.values()) < head, f"the kill came after the catch-up: {partial}"
