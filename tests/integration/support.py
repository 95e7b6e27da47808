"""Shared steps for the application tests: a funded contract, a projected balance."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from domain.fees.methods import PaymentMethod
from domain.money import money
from ledger.application import EscrowLedger
from projections.runner import ProjectionRunner


def usd(amount: str) -> Any:
    return money(amount, "USD")


def funded(
    app: EscrowLedger, amounts: Sequence[str] = ("500.00",),
    methods: Sequence[PaymentMethod] | None = None, client_id: str = "c1", **contract: Any,
) -> tuple[str, list[str]]:
    """A contract between ``client_id`` and f1 with one funded milestone per amount."""
    cid = app.open_contract(client_id=client_id, freelancer_id="f1", currency="USD",
                            actor="t", **contract).response["contract_id"]
    mids = []
    for i, amount in enumerate(amounts):
        mid = app.add_milestone(contract_id=cid, title="m", amount=usd(amount),
                                actor="t").response["milestone_id"]
        method = methods[i] if methods else PaymentMethod.CARD
        app.fund_milestone(contract_id=cid, milestone_id=mid, actor=client_id,
                           payment_method=method)
        mids.append(mid)
    return cid, mids


def balance(projector: ProjectionRunner, account: str) -> Decimal:
    """The account's USD balance on its normal side, after catching the view up."""
    projector.catch_up()
    found = projector.queries.balance(account)
    return found[0].balance if found else Decimal("0.00")
