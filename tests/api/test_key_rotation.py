"""API keys rotated without a restart: a keys file followed as it changes, and SIGHUP."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.key_file import KeyFile
from api.main import create_app
from ledger.application import EscrowLedger
from tests.api.test_http_contract import ROOT, _free_port

OLD = "old-key-0000000000001"
NEW = "new-key-0000000000002"


def get(client: TestClient, key: str) -> int:
    """404 (an unknown contract) when the key is taken, 401 when it is not."""
    response = client.get("/v1/contracts/nope", headers={"Authorization": f"Bearer {key}"})
    return int(response.status_code)


def test_a_changed_keys_file_takes_effect_and_a_broken_one_is_not_taken(
        app: EscrowLedger, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "keys"
    path.write_text(f"# rotated monthly\n{OLD}:commands+read\n")
    keys = KeyFile(path, check_every=0)
    with TestClient(create_app(ledger=app, api_keys=keys, background_projector=False)) as c:
        assert (get(c, OLD), get(c, NEW)) == (404, 401)
        path.write_text(f"{NEW}:read\n")
        assert (get(c, OLD), get(c, NEW)) == (401, 404)
        # a broken file (an unknown scope) is refused whole: the keys before it stay
        path.write_text(f"{OLD}:read+everything\n")
        with caplog.at_level(logging.ERROR):
            assert (get(c, OLD), get(c, NEW)) == (401, 404)
        assert keys.last_error is not None
        assert OLD not in caplog.text
        assert NEW not in caplog.text


@pytest.fixture
def server_with_key_file(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    keys = tmp_path / "keys"
    keys.write_text(f"{OLD}:read\n")
    port = _free_port()
    env = {**os.environ, "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
           "LEDGER_API_KEYS_FILE": str(keys), "PYTHONPATH": str(ROOT)}
    env.pop("LEDGER_API_KEYS", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(port),
         "--no-scheduler"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/v1/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base, keys, server
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_served_api_takes_new_keys_on_sighup_without_a_restart(
        server_with_key_file: tuple[str, Path, subprocess.Popen[str]]) -> None:
    base, keys, server = server_with_key_file

    def status(key: str) -> int:
        return httpx.get(f"{base}/v1/contracts/nope", timeout=5,
                         headers={"Authorization": f"Bearer {key}"}).status_code

    assert (status(OLD), status(NEW)) == (404, 401)
    keys.write_text(f"{NEW}:read\n")
    server.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    assert (status(OLD), status(NEW)) == (401, 404)
    assert server.poll() is None  # still the same process
