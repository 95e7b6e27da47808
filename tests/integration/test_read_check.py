"""A command decides on cached aggregates without reading them, and its write proves them
current (ledger/read_set.py): a stale copy may neither write nor refuse anything.

Figures: $1,000.00 funded by card charges 1,059.95 (5% marketplace fee, $9.95
initiation fee); a second contract's $200.00 milestone would charge 210.00.
"""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from domain.balances.client_standing import ClientStanding
from domain.errors import ClientSuspended
from ledger import audit_chain
from ledger.application import EscrowLedger
from ledger.commands import contracts as contract_commands
from ledger.read_set import READS, ChecksReads, StaleRead
from ledger.settings import store_from_url
from tests.integration.support import usd


def _funded_and_second(app: EscrowLedger) -> tuple[str, str, str]:
    """c1's $1,000.00 funded by card on a contract with f1, and a second contract (with
    f2) whose $200.00 milestone is not funded yet: (the payment, the second contract,
    its milestone)."""
    first = app.open_contract(client_id="c1", freelancer_id="f1", currency="USD",
                              actor="t").response["contract_id"]
    m1 = app.add_milestone(contract_id=first, title="m", amount=usd("1000.00"),
                           actor="t").response["milestone_id"]
    payment = app.fund_milestone(contract_id=first, milestone_id=m1,
                                 actor="c1").response["payment_id"]
    second = app.open_contract(client_id="c1", freelancer_id="f2", currency="USD",
                               actor="t").response["contract_id"]
    m2 = app.add_milestone(contract_id=second, title="m", amount=usd("200.00"),
                           actor="t").response["milestone_id"]
    return payment, second, m2


def test_a_client_suspended_by_another_process_is_refused_through_a_stale_copy(
        app: EscrowLedger, database_url: str, clock) -> None:
    """This ledger last found the client's standing absent and still holds the second
    contract as it wrote it; another process suspends the client. Funding must be
    refused, and nothing written, although nothing this ledger holds says so."""
    payment, second, m2 = _funded_and_second(app)
    cache = app.aggregates
    assert cache is not None
    assert cache.known_absent(ClientStanding.id_for("c1"))

    other = EscrowLedger(store_from_url(database_url).env, clock=clock)
    try:
        cb = other.receive_chargeback(payment_id=payment, reason="fraudulent", actor="psp")
        assert cb.response["amount"] == {"amount": "1059.95", "currency": "USD"}
        assert cb.response["client_suspended"] is True
    finally:
        other.close()

    before = app.position()
    with pytest.raises(ClientSuspended):
        app.fund_milestone(contract_id=second, milestone_id=m2, actor="c1")
    assert app.position() == before
    assert not cache.known_absent(ClientStanding.id_for("c1"))
    assert cache.differing_from_replay() == []


def test_a_write_whose_reads_changed_writes_nothing(app: EscrowLedger) -> None:
    """The recorder itself: an insert claiming an aggregate was absent (or older) when it
    is not is refused under the write lock; the log and the chain stay as they were."""
    cid = app.open_contract(client_id="c1", freelancer_id="f1", currency="USD",
                            actor="t").response["contract_id"]
    recorder = app.recorder
    assert isinstance(recorder, ChecksReads)
    contract = app.repository.get(UUID(cid))
    head, before = audit_chain.head(app), app.position()
    new = StoredEvent(originator_id=uuid4(), originator_version=1,
                      topic="tests:Nothing", state=b"{}")
    for claimed in (0, contract.version - 1):
        with pytest.raises(StaleRead):
            recorder.insert_events([new], **{READS: {contract.id: claimed}})
        assert recorder.changed_since({contract.id: claimed})
    assert app.position() == before
    assert audit_chain.head(app) == head
    assert not recorder.changed_since({contract.id: contract.version})
    # the same insert with what was read still current is written and linked
    recorder.insert_events([new], **{READS: {contract.id: contract.version}})
    assert app.position() > before
    assert audit_chain.verify(app).ok


def test_a_read_set_larger_than_one_statement_takes_is_checked_whole(app: EscrowLedger) -> None:
    """A command on a contract reads every contract of its relationship: 1,200 ids read,
    only the last one changed. SQLite refuses one expression of that many terms; the
    check must still see the change (and pass when nothing changed)."""
    recorder = app.recorder
    assert isinstance(recorder, ChecksReads)
    ids = [uuid4() for _ in range(1200)]
    recorder.insert_events([StoredEvent(originator_id=i, originator_version=1,
                                        topic="tests:Nothing", state=b"{}") for i in ids])
    held = dict.fromkeys(ids, 1)
    assert not recorder.changed_since(held)
    new = StoredEvent(originator_id=uuid4(), originator_version=1, topic="tests:Nothing",
                      state=b"{}")
    recorder.insert_events([new], **{READS: held})  # nothing read has changed: written
    recorder.insert_events([StoredEvent(originator_id=ids[-1], originator_version=2,
                                        topic="tests:Nothing", state=b"{}")])
    assert recorder.changed_since(held)
    before = app.position()
    with pytest.raises(StaleRead):
        recorder.insert_events([StoredEvent(originator_id=uuid4(), originator_version=1,
                                            topic="tests:Nothing", state=b"{}")],
                               **{READS: held})
    assert app.position() == before
    assert audit_chain.verify(app).ok


@pytest.mark.parametrize("prefetched", [False, True], ids=["read", "prefetched"])
def test_a_batch_whose_client_another_process_suspends_before_its_commit_funds_nothing(
        app: EscrowLedger, database_url: str, clock, prefetched: bool) -> None:
    """A batch reads the client's standing (absent: good) and funds a milestone; before
    its commit another process suspends the client with a chargeback. The commit must
    be refused like a single command's write, and the batch decided again, refused."""
    payment, second, m2 = _funded_and_second(app)
    other = EscrowLedger(store_from_url(database_url).env, clock=clock)
    attempts: list[int] = []
    suspended_at: list[int] = []

    def work() -> object:
        attempts.append(1)
        if prefetched:
            app.prefetch([ClientStanding.id_for("c1"), UUID(second)])
        funded = app.fund_milestone(contract_id=second, milestone_id=m2, actor="c1")
        if len(attempts) == 1:  # the race: suspended after the batch decided, before commit
            cb = other.receive_chargeback(payment_id=payment, reason="fraudulent", actor="psp")
            assert cb.response["client_suspended"] is True
            suspended_at.append(cb.position)
        return funded

    try:
        with pytest.raises(ClientSuspended):
            app.run_batch(work)
        assert len(attempts) == 2  # refused at the commit, then decided again: refused
        assert app.position() == suspended_at[0]  # the batch wrote nothing after it
    finally:
        other.close()


def test_without_the_cache_a_command_is_still_checked_against_what_it_only_read(
        database_url: str, clock, monkeypatch: pytest.MonkeyPatch) -> None:
    """``LEDGER_AGGREGATE_CACHE_SIZE=0``: the command reads the client's standing from the
    store (good), and another process suspends the client before the write. The write
    must be refused and the command decided again (refused), as with the cache on."""
    app = EscrowLedger(store_from_url(database_url).env, clock=clock, cache_size=0)
    other = EscrowLedger(store_from_url(database_url).env, clock=clock)
    try:
        payment, second, m2 = _funded_and_second(app)
        real, reads = contract_commands.standing, []

        def then_suspended(uow: object, client_id: str) -> object:
            found = real(uow, client_id)  # type: ignore[arg-type]
            reads.append(found)
            if len(reads) == 1:
                other.receive_chargeback(payment_id=payment, reason="fraudulent", actor="psp")
            return found

        monkeypatch.setattr(contract_commands, "standing", then_suspended)
        with pytest.raises(ClientSuspended):
            app.fund_milestone(contract_id=second, milestone_id=m2, actor="c1")
        assert reads[0] is None  # decided first on "never suspended"
        assert len(reads) == 2
    finally:
        other.close()
        app.close()
