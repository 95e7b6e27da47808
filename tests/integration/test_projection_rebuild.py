"""Every projection rebuilt from zero gives the same rows; a batch that fails mid-way leaves
nothing and resumes without counting anything twice.

The history mixes every capability that writes events: the demo (fixed-price funding,
approval, an ending and a dispute), an hourly week invoiced by the scheduler, Connects
bought and spent, bonuses, withdrawals through each of their states, and holds. The
comparison reads every row of every table each projection declares (``TABLES``), so a
projection added later is covered by registering it in ``ProjectionRunner``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest

from domain.money import money
from entrypoints.demo import seed_demo
from entrypoints.scheduler import tick
from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from projections.runner import ProjectionRunner


def history(app: EscrowLedger, clock: FakeClock, projector: ProjectionRunner) -> None:
    seed_demo(app)
    hourly = app.open_contract(client_id="client-zed", freelancer_id="freelancer-ada",
                               currency="USD", kind="hourly", hourly_rate=money("40.00", "USD"),
                               weekly_limit_hours=10, actor="t").response["contract_id"]
    app.log_time(contract_id=hourly, worked_on=date(2026, 3, 2), minutes=180, manual=False,
                 actor="freelancer-ada")
    app.purchase_connects(freelancer_id="freelancer-ada", connects=40, payment_method="card",
                          actor="freelancer-ada")
    fixed = app.open_contract(client_id="client-zed", freelancer_id="freelancer-ada",
                              currency="USD", actor="t").response["contract_id"]
    app.pay_bonus(contract_id=fixed, amount=money("300.00", "USD"), actor="client-zed")
    clock.advance(timedelta(days=6))
    tick(app, projector)
    ids = [app.request_withdrawal(freelancer_id="freelancer-ada", amount=money(a, "USD"),
                                  method=m, actor="freelancer-ada").response["withdrawal_id"]
           for a, m in (("50.00", "us_bank"), ("20.00", "local_bank"), ("30.00", "wire"),
                        ("10.00", "instant_debit_card"))]
    app.mark_withdrawal_sent(withdrawal_id=ids[0], processor_reference="po_1", actor="psp")
    app.settle_withdrawal(withdrawal_id=ids[0], actor="psp")
    app.mark_withdrawal_sent(withdrawal_id=ids[1], processor_reference=None, actor="psp")
    app.return_withdrawal(withdrawal_id=ids[1], failed=True, reason="bounced", actor="psp")
    app.return_withdrawal(withdrawal_id=ids[2], failed=False, reason="", actor="freelancer-ada")
    hold = app.place_hold(freelancer_id="freelancer-ada", reason="compliance", note="",
                          actor="fin").response["hold_id"]
    app.release_hold(hold_id=hold, note="", actor="fin")
    clock.advance(timedelta(days=10))
    tick(app, projector)


def dump(projection: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table the projection declares, in a stable order."""
    view = projection.view
    tables = {k: v for k, v in view.TABLES.items() if "index" not in k}
    out = {}
    for placeholder in tables:
        rows = view.fetch(f"SELECT * FROM {{{placeholder}}}")
        out[placeholder] = sorted(tuple(sorted(r.items())) for r in rows)
    return out


def test_rebuilding_every_projection_from_zero_gives_identical_rows(
        app: EscrowLedger, clock: FakeClock, projector: ProjectionRunner) -> None:
    history(app, clock, projector)
    projector.catch_up()
    before = {name: dump(p) for name, p in projector.projections.items()}
    assert before["payouts"]["withdrawals"], "the history wrote no withdrawal rows"
    assert before["journal"]["postings"]
    for name in projector.projections:
        projector.rebuild(name)
        assert dump(projector.projections[name]) == before[name], name
    projector.rebuild()
    assert {name: dump(p) for name, p in projector.projections.items()} == before
    assert projector.position() == app.position()


class DyingCursor:
    """A cursor that does its first write, then dies: a crash mid-batch, in the transaction."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def _die_after(self, method: str, *args: Any) -> Any:
        getattr(self.real, method)(*args)
        raise RuntimeError("the projector died mid-batch")

    def execute(self, *args: Any) -> Any:
        return self._die_after("execute", *args)

    def executemany(self, *args: Any) -> Any:
        return self._die_after("executemany", *args)


def test_a_batch_that_fails_mid_way_writes_nothing_and_resumes_without_double_counting(
        app: EscrowLedger, clock: FakeClock, projector: ProjectionRunner,
        monkeypatch: pytest.MonkeyPatch) -> None:
    history(app, clock, projector)
    projector.catch_up()
    for name, projection in projector.projections.items():
        clean = dump(projection)
        projection.reset()
        view = projection.view  # type: ignore[attr-defined]
        real_writing = view.writing

        @contextmanager
        def dying(tracking: Any, real_writing: Any = real_writing) -> Iterator[Any]:
            with real_writing(tracking) as cursor:
                yield DyingCursor(cursor)

        monkeypatch.setattr(view, "writing", dying)
        with pytest.raises(RuntimeError):
            projector.catch_up()
        assert projection.position() == 0, name
        assert all(rows == [] for rows in dump(projection).values()), name
        assert isinstance(projector.last_error, RuntimeError)

        monkeypatch.setattr(view, "writing", real_writing)
        assert projector.catch_up() == app.position()
        assert dump(projection) == clean, name
    totals = projector.payouts.queries.totals("freelancer-ada")
    assert [(t["state"], t["count"]) for t in totals] == [
        ("cancelled", 1), ("failed", 1), ("requested", 1), ("settled", 1)]
