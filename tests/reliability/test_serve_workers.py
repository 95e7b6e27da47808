"""``ledger serve --workers 2`` on PostgreSQL: both workers answer, one scheduler runs.

Why it matters: with N worker processes, N schedulers would poll the same
deadlines (harmless but wasteful) and N projectors would race for every batch;
the parent runs the one scheduler and the one projector, the workers serve
the API only. The JSON log line names its process (``pid``), which is how the
test tells the processes apart.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.api.conftest import COMMANDS_KEY, READ_KEY
from tests.conftest import fresh_store, require_backend
from tests.reliability.servers import (
    _die_with_parent,
    api_keys_spec,
    free_port,
    headers,
    process_env,
)

ROOT = Path(__file__).resolve().parents[2]


def _lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text(errors="replace").splitlines()
            if line.startswith("{")]


def _wait_for_workers(log: Path, server: subprocess.Popen[bytes], count: int) -> None:
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        assert server.poll() is None, log.read_text()
        started = [x for x in _lines(log) if x["message"] == "Application startup complete."]
        if len(started) == count:
            return
        time.sleep(0.1)
    raise AssertionError(f"{count} workers did not start:\n{log.read_text()}")


def test_two_workers_answer_commands_and_only_the_parent_schedules(tmp_path: Path) -> None:
    require_backend("postgres")
    port = free_port()
    log = tmp_path / "serve.log"
    with fresh_store("postgres") as url, log.open("wb") as out:
        env = process_env(url, LEDGER_API_KEYS=api_keys_spec(), LEDGER_LOG_FORMAT="json",
                          LEDGER_SCHEDULER_INTERVAL_SECONDS="0.2")
        server = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(port),
             "--workers", "2"], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        try:
            _wait_for_workers(log, server, 2)
            base = f"http://127.0.0.1:{port}"
            answers: list[httpx.Response] = []

            def open_contracts() -> None:
                for _ in range(4):  # a new connection each time: the kernel picks a worker
                    tag = uuid.uuid4().hex[:8]
                    answers.append(httpx.post(
                        f"{base}/v1/contracts", timeout=30,
                        headers=headers(COMMANDS_KEY, str(uuid.uuid4())),
                        json={"kind": "fixed_price", "client_id": f"c-{tag}",
                              "freelancer_id": f"f-{tag}", "currency": "USD"}))

            threads = [threading.Thread(target=open_contracts) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert [a.status_code for a in answers] == [201] * 32, [a.text for a in answers]
            newest = max(a.json()["position"] for a in answers)
            # reads-your-writes in whichever worker answers: it catches the views up itself
            balance = httpx.get(f"{base}/v1/accounts/platform:cash:USD/balance",
                                params={"min_position": newest}, headers=headers(READ_KEY),
                                timeout=30)
            assert balance.status_code in (200, 404), balance.text
            time.sleep(0.5)  # a couple of scheduler ticks
        finally:
            server.terminate()
            server.wait(timeout=20)
        lines = _lines(log)
        [parent] = [int(x["message"].split("[")[1].rstrip("]")) for x in lines
                    if x["message"].startswith("Started parent process")]
        workers = {x["pid"] for x in lines if x["message"].startswith("Started server process")}
        assert len(workers) == 2, lines
        assert parent not in workers, lines
        commanded = {x["pid"] for x in lines if x.get("command") == "open_contract"}
        assert commanded == workers, f"commands answered by {commanded}, workers {workers}"
        # started before uvicorn configures logging, hence a plain text line
        assert log.read_text().count("Scheduler started") == 1, log.read_text()
        ticks = {x["pid"] for x in lines if x["logger"].startswith("apscheduler")}
        assert ticks == {parent}, ticks
