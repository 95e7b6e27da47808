"""The hash chain over the log, on both stores: written with each event, and every tamper named.

The tampering is done the way an insider would: SQL straight on the events table, behind
the application's back.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent

from domain.errors import ConcurrencyConflict
from domain.money import money
from ledger import audit_chain
from ledger.application import EscrowLedger

ROOT = Path(__file__).resolve().parents[2]
VERIFIER = ROOT / "entrypoints" / "verify_proof.py"
EVENTS = 10  # what ``history`` writes: the positions 1..10
OPEN = 3  # what one more ``open_contract`` writes


def history(app: EscrowLedger) -> str:
    cid = app.open_contract(client_id="c1", freelancer_id="f1", currency="USD",
                            actor="t").response["contract_id"]
    mid = app.add_milestone(contract_id=cid, title="m", amount=money("500.00", "USD"),
                            actor="t").response["milestone_id"]
    app.fund_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    app.submit_work(contract_id=cid, milestone_id=mid, actor="f1")
    app.approve_milestone(contract_id=cid, milestone_id=mid, actor="c1")
    return str(cid)


def sql(app: EscrowLedger, url: str, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Runs ``statement`` on the store directly; ``{events}``/``{id}`` name the log's table and
    its position column, ``?`` the parameters."""
    table = app.recorder.events_table_name  # type: ignore[attr-defined]
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url[len("sqlite:///"):]) as conn:
            rows = conn.execute(statement.format(events=table, id="rowid"), params).fetchall()
        conn.close()
        return rows
    parts = urlsplit(url)
    schema = parse_qs(parts.query)["schema"][0]
    with psycopg.connect(url.split("?")[0], autocommit=True) as pg:
        pg.execute(f'SET search_path TO "{schema}"')
        cur = pg.execute(statement.format(events=table, id="notification_id").replace("?", "%s"),
                         params)
        return cur.fetchall() if cur.description else []


def positions(app: EscrowLedger, url: str) -> tuple[list[int], list[int]]:
    events = [r[0] for r in sql(app, url, "SELECT {id} FROM {events} ORDER BY {id}")]
    links = [r[0] for r in sql(app, url, "SELECT position FROM audit_chain ORDER BY position")]
    return events, links


def oid(app: EscrowLedger, url: str, position: int) -> Any:
    return sql(app, url, "SELECT originator_id FROM {events} WHERE {id} = ?", (position,))[0][0]


def test_an_untouched_store_verifies_clean_and_every_event_has_its_link(app, database_url):
    history(app)
    events, links = positions(app, database_url)
    assert events == links == list(range(1, EVENTS + 1))
    report = audit_chain.verify(app)
    assert (report.ok, report.checked, report.head, report.first_bad) == (True, EVENTS, EVENTS,
                                                                          None)
    digest = audit_chain.head(app)
    assert (digest.position, len(digest.link_hex)) == (EVENTS, 64)
    assert audit_chain.is_prefix(app, digest)
    # an earlier digest stays a prefix as the log grows
    app.open_contract(client_id="c2", freelancer_id="f1", currency="USD", actor="t")
    assert audit_chain.head(app).position == EVENTS + OPEN
    assert audit_chain.is_prefix(app, digest)
    assert audit_chain.verify(app).ok


def test_the_link_is_recomputable_from_the_raw_row_in_the_documented_encoding(app, database_url):
    history(app)
    (pos, version, topic, state), = sql(
        app, database_url, "SELECT {id}, originator_version, topic, state FROM {events} "
        "WHERE {id} = 1")
    row = audit_chain.Row(pos, uuid.UUID(str(oid(app, database_url, 1))), version, topic,
                          bytes(state))
    (stored,), = sql(app, database_url, "SELECT link FROM audit_chain WHERE position = 1")
    assert bytes(stored) == audit_chain.next_link(bytes(32), row)
    assert len(audit_chain.link_input(bytes(32), row)) == 32 + 8 + 16 + 8 + 4 + len(
        topic.encode()) + 4 + len(bytes(state))


def test_an_altered_event_is_named(app, database_url):
    history(app)
    before = audit_chain.head(app)
    sql(app, database_url, "UPDATE {events} SET state = ? WHERE {id} = 3", (b'{"forged":1}',))
    report = audit_chain.verify(app)
    assert (report.ok, report.first_bad, report.checked) == (False, 3, 2)
    assert report.reason == "the event's link does not match its stored fields"
    assert not audit_chain.is_prefix(app, before)


def test_a_deleted_event_is_named(app, database_url):
    history(app)
    before = audit_chain.head(app)
    sql(app, database_url, "DELETE FROM {events} WHERE {id} = 4")
    report = audit_chain.verify(app)
    assert (report.ok, report.first_bad, report.reason) == (False, 4, "a link for a missing event")
    assert not audit_chain.is_prefix(app, before)


def test_two_swapped_events_are_named_at_the_first(app, database_url):
    history(app)
    before = audit_chain.head(app)
    (s2,), = sql(app, database_url, "SELECT state FROM {events} WHERE {id} = 2")
    (s5,), = sql(app, database_url, "SELECT state FROM {events} WHERE {id} = 5")
    sql(app, database_url, "UPDATE {events} SET state = ? WHERE {id} = 2", (bytes(s5),))
    sql(app, database_url, "UPDATE {events} SET state = ? WHERE {id} = 5", (bytes(s2),))
    report = audit_chain.verify(app)
    assert (report.ok, report.first_bad) == (False, 2)
    assert not audit_chain.is_prefix(app, before)


def forge(app: EscrowLedger, url: str, position: int) -> None:
    (topic, state), = sql(app, url, "SELECT topic, state FROM {events} WHERE {id} = 1")
    forged = uuid.uuid4()
    sql(app, url, "INSERT INTO {events} ({id}, originator_id, originator_version, topic, state) "
        "VALUES (?, ?, 1, ?, ?)",
        (position, forged.hex if url.startswith("sqlite") else forged, topic, bytes(state)))


def test_a_forged_event_slipped_into_history_is_named(app, database_url):
    history(app)
    before = audit_chain.head(app)
    forge(app, database_url, 0)  # back-dated: before every real event
    report = audit_chain.verify(app)
    assert (report.ok, report.first_bad, report.reason) == (False, 0, "an event without a link")
    assert not audit_chain.is_prefix(app, before)


def test_a_forged_event_appended_is_named_and_stays_named(app, database_url):
    """Appending leaves the old prefix intact (an earlier digest still holds, rightly), but
    the unlinked row is named, and later writes do not adopt it into the chain."""
    history(app)
    before = audit_chain.head(app)
    forge(app, database_url, EVENTS + 1)
    report = audit_chain.verify(app)
    assert (report.ok, report.first_bad, report.reason) == (False, EVENTS + 1,
                                                            "an event without a link")
    assert audit_chain.is_prefix(app, before)
    app.open_contract(client_id="c2", freelancer_id="f1", currency="USD", actor="t")
    assert audit_chain.verify(app).first_bad == EVENTS + 1


def test_a_link_for_a_missing_event_is_named(app, database_url):
    history(app)
    sql(app, database_url, "INSERT INTO audit_chain (position, link) VALUES (?, ?)",
        (EVENTS + 5, bytes(32)))
    report = audit_chain.verify(app)
    assert (report.ok, report.first_bad, report.reason) == (False, EVENTS + 5,
                                                            "a link for a missing event")


def test_the_link_is_written_in_the_events_transaction(app, database_url):
    """When the link cannot be written (its position is taken), neither is the event: SQLite
    hands the same position to every retry (refused), PostgreSQL's sequence moves on."""
    history(app)
    sql(app, database_url, "INSERT INTO audit_chain (position, link) VALUES (?, ?)",
        (EVENTS + 1, bytes(32)))
    if database_url.startswith("sqlite"):
        with pytest.raises(ConcurrencyConflict):
            app.open_contract(client_id="c2", freelancer_id="f1", currency="USD", actor="t")
        assert app.position() == EVENTS
    else:
        app.open_contract(client_id="c2", freelancer_id="f1", currency="USD", actor="t")
        assert app.position() == EVENTS + 2 * OPEN  # the first attempt's positions burned
    events, links = positions(app, database_url)
    assert (EVENTS + 1 in events, EVENTS + 1 in links) == (False, True)
    assert audit_chain.verify(app).first_bad == EVENTS + 1


def test_a_store_from_before_the_chain_is_linked_by_backfill_or_its_next_write(
        app, database_url):
    history(app)
    digest = audit_chain.head(app)
    sql(app, database_url, "DELETE FROM audit_chain")
    assert audit_chain.verify(app).first_bad == 1
    assert audit_chain.backfill(app) == EVENTS
    assert audit_chain.backfill(app) == 0
    assert audit_chain.is_prefix(app, digest)  # the same links: they are a function of the log
    sql(app, database_url, "DELETE FROM audit_chain")
    app.open_contract(client_id="c2", freelancer_id="f1", currency="USD", actor="t")
    assert positions(app, database_url)[1] == list(range(1, EVENTS + OPEN + 1))
    assert audit_chain.verify(app).ok
    assert audit_chain.is_prefix(app, digest)


def run_verifier(tmp_path: Path, proof: dict[str, Any], *digest: dict[str, Any]) -> tuple[int, str]:
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    args = [sys.executable, str(VERIFIER), str(tmp_path / "proof.json")]
    if digest:
        (tmp_path / "digest.json").write_text(json.dumps(digest[0]))
        args.append(str(tmp_path / "digest.json"))
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, done.stdout.strip()


def test_a_proof_checks_offline_and_fails_after_tampering(app, database_url, tmp_path):
    history(app)
    digest = audit_chain.head(app)
    kept = digest.as_json()  # what the auditor keeps
    proof = audit_chain.proof(app, 2, digest)
    assert [e["position"] for e in proof["events"]] == list(range(2, EVENTS + 1))
    assert run_verifier(tmp_path, proof) == (0, "ok")
    assert run_verifier(tmp_path, proof, kept) == (0, "ok")

    sql(app, database_url, "UPDATE {events} SET state = ? WHERE {id} = 4", (b'{"forged":1}',))
    assert run_verifier(tmp_path, audit_chain.proof(app, 2, digest), kept) == (
        1, "bad position 4")
    # even with the stored links recomputed to match, the kept digest does not
    rewritten = audit_chain.proof(app, 2, digest)
    for e in rewritten["events"]:
        e["stored_link"] = None
    assert run_verifier(tmp_path, rewritten, kept) == (1, f"bad position {EVENTS}")


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_concurrent_writers_keep_one_gapless_chain(app, database_url):
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(20):
                app.open_contract(client_id=f"c{n}-{i}", freelancer_id="f1", currency="USD",
                                  actor="t")
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    events, links = positions(app, database_url)
    assert links == events
    assert (len(events), events[-1]) == (40 * OPEN, app.position())
    report = audit_chain.verify(app)
    assert (report.ok, report.checked, report.head) == (True, 40 * OPEN, app.position())


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_links_the_server_computes_are_the_documented_encoding_byte_for_byte(
        app, database_url, monkeypatch):
    """PostgreSQL computes each link in the insert's statement (ledger.recorders.ONE_TRIP);
    Python's encoding must give the same bytes: a topic whose UTF-8 is longer than its
    characters, states with every byte value, and a batch of 600 across 200 aggregates."""
    recorder = app.recorder
    trips: list[str] = []
    for name in ("_in_one_trip", "_in_three_trips"):
        original = getattr(recorder, name)
        monkeypatch.setattr(recorder, name, lambda *a, _o=original, _n=name, **k:
                            (trips.append(_n), _o(*a, **k))[1])
    history(app)  # the first write finds no link to follow: three trips, then one each
    assert trips[:2] == ["_in_one_trip", "_in_three_trips"]
    assert set(trips[2:]) == {"_in_one_trip"}
    ids = [uuid.uuid4() for _ in range(200)]
    events = [StoredEvent(originator_id=ids[n % 200], originator_version=n // 200 + 1,
                          topic="tests:Événement€", state=bytes(range(256)) * (n % 3) + b"{}")
              for n in range(600)]
    previous = bytes.fromhex(audit_chain.head(app).link_hex)
    positions_written = recorder.insert_events(events)
    assert trips[-1] == "_in_one_trip"
    expected = audit_chain.chain_links(previous, events, positions_written)
    stored = audit_chain.links(app, positions_written)
    assert [stored[p] for p, _ in expected] == [link.hex() for _, link in expected]
    assert audit_chain.verify(app).ok


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_write_survives_the_server_forgetting_its_prepared_statement(database_url, clock):
    """The one-trip write runs a prepared statement; on a connection where psycopg counts
    it prepared and the server does not hold it (what an aborted pipeline once left),
    the write is retried on a new connection instead of every write failing from then on."""
    from ledger.settings import store_from_url

    app = EscrowLedger(store_from_url(database_url, pool_size=1).env, clock=clock)
    try:
        history(app)
        with app.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
            (row,) = conn.execute("SELECT name FROM pg_prepared_statements "
                                  "WHERE statement LIKE '%%WITH RECURSIVE pre AS%%'").fetchall()
            # below psycopg, which would otherwise see the command and forget its entry
            done = conn.pgconn.exec_(b'DEALLOCATE "' + row["name"].encode() + b'"')
            assert done.command_status == b"DEALLOCATE"
        before = app.position()
        app.open_contract(client_id="c9", freelancer_id="f9", currency="USD", actor="t")
        assert app.position() == before + OPEN
        assert audit_chain.verify(app).ok
    finally:
        app.close()


def test_the_cli_verifies_a_clean_chain_and_names_the_first_altered_position(
        app: EscrowLedger, database_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from entrypoints.cli import main

    history(app)
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert f"chain verified: {EVENTS} event(s)" in out
    assert json.dumps(audit_chain.head(app).as_json()["link"]) in out
    sql(app, database_url, "UPDATE {events} SET state = ? WHERE {id} = 7", (b'{"forged":1}',))
    assert main(["audit", "verify"]) == 1
    assert "chain broken at position 7" in capsys.readouterr().out
