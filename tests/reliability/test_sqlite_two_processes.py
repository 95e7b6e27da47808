"""Two API processes on one SQLite file: writes queue, or answer 503 with Retry-After.

SQLite has one writer at a time. A write that finds another process writing
waits (the URL's ``lock_timeout``, 30 s by default) and, if the lock is still
held then, is refused as a 503 ``store-unavailable`` problem with
``Retry-After``, having written nothing. Never a 500, never "database is
locked" in a body, and never a server that dies at start-up because another
was creating the same tables.

Figures: a $500.00 milestone funded by card in 2026 charges 534.95; approved,
450.00 is pending for the freelancer.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.bootstrap import build_ledger
from ledger.settings import Settings, store_from_url
from projections.runner import ProjectionRunner
from tests.api.conftest import COMMANDS_KEY
from tests.conftest import fresh_store
from tests.reliability.conftest import CLOCK_START, Call, race, slug
from tests.reliability.servers import Ledger, Servers, assert_no_500, headers, new_key, serving

LOCK_TIMEOUT = 2
"""Seconds a write waits for another process's write (``?lock_timeout=`` on the URL)."""


@pytest.fixture(scope="module")
def sqlite_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Two servers on one SQLite file, shared by this module's HTTP tests."""
    with fresh_store("sqlite") as url, \
            serving(f"{url}?lock_timeout={LOCK_TIMEOUT}", tmp_path_factory.mktemp("sqlite-pair"),
                    count=2, test_clock_start=CLOCK_START) as servers:
        yield servers


def sqlite_file(servers: Servers) -> str:
    return servers.database_url.removeprefix("sqlite:///").partition("?")[0]


# ---- start-up -------------------------------------------------------------------------------


def test_four_processes_starting_at_once_on_a_new_sqlite_file_all_start() -> None:
    """Each used to die now and then with "database is locked" (a table creation that
    read, then wrote after another process had written) or an IntegrityError (two
    processes inserting the tracking table's first row). Threads stand in for the
    processes: each builds its own ledger and connections, released by one barrier."""
    for _ in range(4):
        with fresh_store("sqlite") as url:
            barrier = threading.Barrier(4, timeout=30)
            errors: list[str] = []

            def start(url: str = url, barrier: threading.Barrier = barrier,
                      errors: list[str] = errors) -> None:
                barrier.wait()
                try:
                    app = build_ledger(Settings(database_url=url, test_clock=True,
                                                test_clock_start=CLOCK_START))
                    try:
                        ProjectionRunner(app).catch_up()
                    finally:
                        app.close()
                except Exception as e:
                    errors.append(f"{type(e).__name__}: {e}")

            threads = [threading.Thread(target=start) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert errors == []


# ---- concurrent writes from both processes ----------------------------------------------------


THREADS = 12
FLOWS = 5


def test_concurrent_writes_from_two_processes_answer_success_409_or_503_never_500(
        sqlite_pair: Servers) -> None:
    servers = sqlite_pair
    ledger = Ledger(servers)
    try:
        clearing = Decimal(ledger.usd("processor:clearing"))
        answers = write_from_both_processes(servers)
        responses = [r for _, _, r in answers]
        assert_no_500(responses)
        outcomes = Counter((step, r.status_code) for step, _, r in answers)
        assert {code for _, code in outcomes} <= {200, 201, 409, 503}, outcomes
        for response in responses:
            if response.status_code in (409, 503):
                assert response.headers["content-type"] == "application/problem+json"
            if response.status_code == 409:
                assert slug(response) == "concurrency-conflict", response.text
            if response.status_code == 503:
                assert slug(response) == "store-unavailable", response.text
                assert int(response.headers["Retry-After"]) > 0
        approved = Counter(freelancer for step, freelancer, r in answers
                           if step == "approve" and r.status_code == 200)
        funded = sum(1 for step, _, r in answers if step == "fund" and r.status_code == 200)
        assert sum(approved.values()) >= THREADS * FLOWS // 2, outcomes  # mostly accepted

        # the money is what the accepted answers say, and only that
        ledger.answers += responses
        ledger.position = max(int(r.json()["position"]) for r in responses
                              if r.status_code in (200, 201))
        for i in range(2):
            assert ledger.freelancer(f"fl-sqlite-{i}")["pending"] == \
                str(Decimal("450.00") * approved[f"fl-sqlite-{i}"])
        assert Decimal(ledger.usd("processor:clearing")) - clearing == \
            Decimal("534.95") * funded
        ledger.assert_books()
    finally:
        ledger.close()


def write_from_both_processes(servers: Servers) -> list[tuple[str, str, httpx.Response]]:
    """``THREADS`` threads, half on each server, released together, each running ``FLOWS``
    flows for one of two freelancers (so releases contend on their balances)."""
    answers: list[tuple[str, str, httpx.Response]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS, timeout=30)

    def worker(t: int) -> None:
        with httpx.Client(base_url=servers.bases[t % 2], timeout=60) as client:
            client.get("/v1/health")
            barrier.wait()
            for flow in range(FLOWS):
                run_flow(client, f"{t}-{flow}", f"fl-sqlite-{t % 2}", answers, lock)

    threads = [threading.Thread(target=worker, args=(t,), daemon=True)
               for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    return answers


def run_flow(client: httpx.Client, name: str, freelancer: str,
             answers: list[tuple[str, str, httpx.Response]], lock: threading.Lock) -> None:
    """open, add, fund, approve; stops at the first refusal (nothing retried: every
    answer counts as given)."""
    def send(step: str, path: str, body: Any) -> httpx.Response:
        response = client.post(path, json=body, headers=headers(COMMANDS_KEY, new_key()))
        with lock:
            answers.append((step, freelancer, response))
        return response

    opened = send("open", "/v1/contracts", {"kind": "fixed_price", "client_id": f"cl-{name}",
                                            "freelancer_id": freelancer, "currency": "USD"})
    if opened.status_code != 201:
        return
    cid = opened.json()["contract_id"]
    added = send("add", f"/v1/contracts/{cid}/milestones",
                 {"title": "work", "amount": {"amount": "500.00", "currency": "USD"}})
    if added.status_code != 201:
        return
    path = f"/v1/contracts/{cid}/milestones/{added.json()['milestone_id']}"
    if send("fund", path + "/fund", None).status_code == 200:
        send("approve", path + "/approve", None)


# ---- a write that cannot get the lock in time ----------------------------------------------------


def test_the_sqlite_url_names_the_lock_wait_in_whole_seconds(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    assert store_from_url(f"sqlite:///{db}").env["SQLITE_LOCK_TIMEOUT"] == "30"
    env = store_from_url(f"sqlite:///{db}?lock_timeout=2").env
    assert (env["SQLITE_LOCK_TIMEOUT"], env["SQLITE_DBNAME"]) == ("2", str(db))
    for bad in ("lock_timeout=0", "lock_timeout=1.5", "lock_timeout=", "timeout=2"):
        with pytest.raises(ValueError, match="lock_timeout"):
            store_from_url(f"sqlite:///{db}?{bad}")


def stored_events(path: str) -> int:
    """Rows in the log, read straight from the file (a reader is never blocked: WAL)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()
        return int(count)


def until_answered(ledger: Ledger, call: Call, give_up: float = 20.0) -> httpx.Response:
    """What a client does with a 503: waits ``Retry-After`` (capped) and sends it again."""
    deadline = time.monotonic() + give_up
    while True:
        response = ledger.post(call.path, call.body, server=call.server, key=call.key)
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        time.sleep(min(float(response.headers["Retry-After"]), 0.5))


def test_a_write_kept_from_the_lock_past_its_timeout_is_a_503_and_writes_nothing(
        sqlite_pair: Servers) -> None:
    servers, lock_timeout = sqlite_pair, LOCK_TIMEOUT
    ledger = Ledger(servers)
    path = sqlite_file(servers)
    try:
        before = stored_events(path)
        calls = [Call(i, "/v1/contracts", {
            "kind": "fixed_price", "client_id": f"cl-locked-{i}",
            "freelancer_id": "fl-locked", "currency": "USD"}) for i in range(2)]
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")  # another writer, holding on
            refused = race(ledger, calls, timeout=lock_timeout + 20)
            assert stored_events(path) == before
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        for response in refused:
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert slug(response) == "store-unavailable"
            assert int(response.headers["Retry-After"]) > 0
            assert "locked" not in response.text
            # it waited for the lock about lock_timeout, not the default 30 s
            assert response.elapsed.total_seconds() < lock_timeout + 10

        # the lock gone, the same keys and bodies are taken once each
        accepted = [until_answered(ledger, call) for call in calls]
        assert [(a.status_code, a.headers.get("Idempotent-Replayed")) for a in accepted] \
            == [(201, None), (201, None)]
        for i in range(2):
            listed = ledger.get(f"/v1/clients/cl-locked-{i}/contracts",
                                params={"min_position": ledger.position})
            assert [c["contract_id"] for c in listed["contracts"]] == [
                accepted[i].json()["contract_id"]]
        ledger.assert_books()
    finally:
        ledger.close()
