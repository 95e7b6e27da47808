"""The hash chain over HTTP: keep a digest, prove it is still a prefix, check a proof offline.

Tampering with stored rows is pinned on both stores in
``tests/integration/test_audit_chain.py``; here an auditor's view, through the API
and the standalone verifier only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.api.conftest import AUDIT_KEY, READ_KEY, Api, assert_problem

ROOT = Path(__file__).resolve().parents[2]


def audit_post(api: Api, path: str, body: Any) -> Any:
    return api.client.post(path, json=body, headers={"Authorization": f"Bearer {AUDIT_KEY}"})


def digest(api: Api) -> dict[str, Any]:
    response = api.get("/v1/audit/digest", key=AUDIT_KEY)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_kept_digest_stays_a_prefix_as_the_log_grows_and_a_wrong_one_does_not(
        tapi: Api) -> None:
    tapi.funded_milestone("500.00")
    kept = digest(tapi)
    assert kept["position"] == tapi.ledger.position()
    assert len(kept["link"]) == 64
    tapi.funded_milestone("250.00")
    answer = audit_post(tapi, "/v1/audit/digest/verify", kept)
    assert answer.status_code == 200, answer.text
    assert answer.json()["prefix"] is True
    assert answer.json()["head"]["position"] == tapi.ledger.position() > kept["position"]

    forged = {**kept, "link": ("0" if kept["link"][0] != "0" else "1") + kept["link"][1:]}
    assert audit_post(tapi, "/v1/audit/digest/verify", forged).json()["prefix"] is False
    beyond = {**kept, "position": tapi.ledger.position() + 5}
    assert audit_post(tapi, "/v1/audit/digest/verify", beyond).json()["prefix"] is False


def test_a_proof_checks_offline_with_the_standalone_verifier(tapi: Api, tmp_path: Path) -> None:
    tapi.funded_milestone("500.00")
    kept = digest(tapi)
    response = audit_post(tapi, "/v1/audit/proof", {"position": 2, "digest": kept})
    assert response.status_code == 200, response.text
    proof = response.json()
    assert [e["position"] for e in proof["events"]] == list(range(2, kept["position"] + 1))
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(proof))
    ok = subprocess.run([sys.executable, str(ROOT / "entrypoints" / "verify_proof.py"),
                         str(path)], capture_output=True, text=True)
    assert (ok.returncode, ok.stdout.strip()) == (0, "ok"), ok.stderr

    # one byte of one event's stored state changed in the proof: the verifier names it
    bad = json.loads(path.read_text())
    event = bad["events"][1]
    event["state_b64"] = ("A" if event["state_b64"][0] != "A" else "B") + event["state_b64"][1:]
    path.write_text(json.dumps(bad))
    refused = subprocess.run([sys.executable, str(ROOT / "entrypoints" / "verify_proof.py"),
                              str(path)], capture_output=True, text=True)
    assert refused.returncode != 0
    assert f"bad position {event['position']}" in refused.stdout + refused.stderr


def test_bad_audit_requests_are_refused(tapi: Api) -> None:
    tapi.funded_milestone("500.00")
    kept = digest(tapi)
    assert_problem(audit_post(tapi, "/v1/audit/proof",
                              {"position": kept["position"] + 1, "digest": kept}),
                   422, "position-outside-digest")
    assert_problem(audit_post(tapi, "/v1/audit/digest/verify", {**kept, "link": "xyz"}),
                   422, "invalid-input")
    assert_problem(tapi.get("/v1/audit/digest", key=READ_KEY), 403, "insufficient-scope")
    assert_problem(tapi.get("/v1/audit/digest", key=None), 401, "unauthorized")


def test_each_event_in_the_feed_carries_its_chain_link_and_the_last_one_is_the_digest(
        tapi: Api) -> None:
    contract_id, _ = tapi.funded_milestone("500.00")
    page = tapi.get("/v1/events?limit=1000", key=AUDIT_KEY).json()
    links = [e["chain_link"] for e in page["events"]]
    assert all(isinstance(link, str) and len(link) == 64 for link in links)
    assert len(set(links)) == len(links)
    kept = digest(tapi)
    assert (page["events"][-1]["position"], links[-1]) == (kept["position"], kept["link"])
    # a follower's last (position, chain_link) is itself a digest it can verify later
    tapi.funded_milestone("250.00")
    last = page["events"][-1]
    answer = audit_post(tapi, "/v1/audit/digest/verify",
                        {"position": last["position"], "link": last["chain_link"],
                         "at": kept["at"]})
    assert answer.json()["prefix"] is True
    contract = tapi.get(f"/v1/contracts/{contract_id}/events", key=AUDIT_KEY).json()["events"]
    by_position = {e["position"]: e["chain_link"] for e in page["events"]}
    assert [e['name'] for e in contract] == [
        "FixedPriceContract.Opened", "FixedPriceContract.MilestoneAdded",
        "FixedPriceContract.MilestoneFunded"]
    assert [e["chain_link"] for e in contract] == [by_position[e["position"]] for e in contract]
