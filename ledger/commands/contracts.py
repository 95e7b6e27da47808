"""What commands on any contract share: loading it (of the right kind) and its earner.

Loading applies every deadline that fell due on the contract before the
command's time (``UnitOfWork``); the caller's ``If-Match`` is checked against
the stored version, since a caller can only have read what was stored.
"""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.balances.client_standing import ClientStanding
from domain.balances.freelancer_balance import FreelancerBalance
from domain.balances.relationship import Relationship
from domain.contracts.fixed_price import FixedPriceContract
from domain.contracts.hourly import HourlyContract
from domain.contracts.settlement import Earner
from domain.deadlines import Deadline
from domain.errors import ContractNotFound, VersionMismatch, WrongContractKind
from ledger.unit_of_work import UnitOfWork

CONTRACT_KINDS: tuple[type[Any], ...] = (FixedPriceContract, HourlyContract)
C = TypeVar("C", FixedPriceContract, HourlyContract)


def contract_uuid(contract_id: UUID | str) -> UUID:
    try:
        return contract_id if isinstance(contract_id, UUID) else UUID(str(contract_id))
    except ValueError:
        raise ContractNotFound(f"contract {contract_id!r} not found") from None


def load_any(uow: UnitOfWork, contract_id: UUID | str,
             expected_version: int | None = None) -> FixedPriceContract | HourlyContract:
    """A contract of either kind, brought up to the command's time."""
    cid = contract_uuid(contract_id)
    found: Any
    if expected_version is not None and cid not in uow:
        found = uow.peek(Aggregate, cid)  # in a batch: as its earlier commands left it
        found = found if isinstance(found, CONTRACT_KINDS) else None
        if found is not None and found.version != expected_version:
            raise VersionMismatch(
                f"contract {contract_id} is at version {found.version}, not "
                f"{expected_version}: read it again and decide on the current state"
            )
        found = None if found is None else uow.adopt(found)
    else:
        found = uow.get(Aggregate, cid)
        found = found if isinstance(found, CONTRACT_KINDS) else None
    if found is None:
        raise ContractNotFound(f"contract {contract_id} not found")
    return found  # type: ignore[no-any-return]


def load_kind(uow: UnitOfWork, kind: type[C], contract_id: UUID | str,
              expected_version: int | None = None) -> C:
    """A contract that must be of ``kind``: a fixed-price step on an hourly one is a 409."""
    c = load_any(uow, contract_id, expected_version)
    if not isinstance(c, kind):
        raise WrongContractKind(f"contract {contract_id} is {c.KIND.value}, not "
                                f"{kind.KIND.value}")
    return c


def relationship(uow: UnitOfWork, c: FixedPriceContract | HourlyContract) -> Relationship:
    rid = Relationship.id_for(c.client_id, c.freelancer_id, c.currency)
    return uow.get(Relationship, rid) or uow.add(
        Relationship.start(c.client_id, c.freelancer_id, c.currency, uow.at))


def earner(uow: UnitOfWork, c: FixedPriceContract | HourlyContract) -> Earner:
    """The relationship and the freelancer's balance a payment on ``c`` touches."""
    relationship_ = relationship(uow, c)
    balance = uow.get(FreelancerBalance, FreelancerBalance.id_for(c.freelancer_id)) or uow.add(
        FreelancerBalance.register(c.freelancer_id, uow.at))
    return Earner(relationship=relationship_, balance=balance)


def standing(uow: UnitOfWork, client_id: str) -> ClientStanding | None:
    return uow.get(ClientStanding, ClientStanding.id_for(client_id))


def require_good_standing(uow: UnitOfWork, client_id: str) -> None:
    """A client a chargeback suspended may not move money (a clear 409)."""
    found = standing(uow, client_id)
    if found is not None:
        found.require_in_good_standing()


def fired_by(d: Deadline) -> str:
    """The actor of a firing names the deadline that caused it, key and all."""
    return f"system:{d.idempotency_key}"
