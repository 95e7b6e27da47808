"""The aggregate cache: a command sees exactly what is stored, whoever wrote it.

Figures: a $500.00 milestone funded by card in March 2026 and approved leaves
450.00 pending for the freelancer; a second one approved by another process
leaves 900.00.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from domain.errors import LedgerError
from ledger.application import EscrowLedger
from ledger.settings import store_from_url
from tests.integration.support import balance, funded, usd


def test_a_refused_command_leaves_the_cached_contract_as_stored(app, projector, clock):
    """The auto-release fires inside the refused command's unit of work, changing the
    contract it loaded: that change must vanish with the refusal, in the cache too."""
    cid, (mid,) = funded(app)
    app.submit_work(contract_id=cid, milestone_id=mid, actor="f1")
    clock.advance(timedelta(days=15))  # the 14-day auto-release is due
    before = app.position()
    with pytest.raises(LedgerError):
        app.add_milestone(contract_id=cid, title="m", amount=usd("-1.00"), actor="c1")
    assert app.position() == before
    assert app.aggregates is not None
    assert app.aggregates.hits > 0
    assert app.aggregates.differing_from_replay() == []
    assert app.contract_view(cid)["milestones"][0]["status"] == "submitted"
    app.add_milestone(contract_id=cid, title="m2", amount=usd("5.00"), actor="c1")
    assert app.contract_view(cid)["milestones"][0]["status"] == "released"
    assert balance(projector, "freelancer:f1:pending") == Decimal("450.00")
    assert app.aggregates.differing_from_replay() == []


def test_a_second_process_never_decides_on_a_stale_copy(app, projector, database_url, clock):
    """Each ledger caches the contract; each sees the other's writes before deciding."""
    other = EscrowLedger(store_from_url(database_url).env, clock=clock)
    try:
        cid, (m1, m2) = funded(app, ("500.00", "500.00"))
        assert other.contract_view(cid)["version"] == app.contract_view(cid)["version"]
        app.approve_milestone(contract_id=cid, milestone_id=m1, actor="c1")
        with pytest.raises(LedgerError):  # already approved, seen through the other's cache
            other.approve_milestone(contract_id=cid, milestone_id=m1, actor="c1")
        other.approve_milestone(contract_id=cid, milestone_id=m2, actor="c1")
        app.add_milestone(contract_id=cid, title="m3", amount=usd("5.00"), actor="c1")
        assert balance(projector, "freelancer:f1:pending") == Decimal("900.00")
        assert len(app.contract_view(cid)["milestones"]) == 3
        assert len(other.contract_view(cid)["milestones"]) == 3
        for ledger in (app, other):
            assert ledger.aggregates is not None
            assert ledger.aggregates.differing_from_replay() == []
    finally:
        other.close()


def test_a_long_history_is_replayed_once_then_read_forward(app: EscrowLedger,
                                                            database_url: str) -> None:
    """After the first load, a command reads only the events stored since (none here)."""
    cid, _ = funded(app, ("5.00",) * 20)
    cache = app.aggregates
    assert cache is not None
    misses = cache.misses
    for i in range(5):
        app.add_milestone(contract_id=cid, title=f"x{i}", amount=usd("5.00"), actor="c1")
    assert cache.misses == misses
    uncached = EscrowLedger(store_from_url(database_url).env, cache_size=0)
    try:
        assert uncached.aggregates is None
        assert uncached.contract_view(cid)["milestones"] == app.contract_view(cid)["milestones"]
    finally:
        uncached.close()
