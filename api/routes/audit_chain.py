"""The hash chain over the log, for auditors (scope ``audit``): its head, and proofs.

Keep a digest (`GET /v1/audit/digest`); later, `POST /v1/audit/digest/verify`
with it answers whether it is still a prefix of the chain (nothing at or
before it changed, went missing, moved or was slipped in), and
`POST /v1/audit/proof` gives what `entrypoints/verify_proof.py` needs to
recompute the chain from one event to the digest offline. These POSTs write
nothing, so they take no `Idempotency-Key`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import AuditCaller
from api.errors import ApiProblem
from api.models import RequestModel, Timestamp
from api.routes import QUERY_PROBLEMS, READ_PROBLEMS
from api.services import ServicesDep
from ledger import audit_chain

router = APIRouter(prefix="/v1/audit", tags=["audit"])

HEX_LINK = r"^[0-9a-f]{64}$"


class DigestOut(BaseModel):
    position: int = Field(description="The last linked event's position (0: empty log).")
    link: str = Field(description="Its link, 64 hex digits (SHA-256).")
    at: str = Field(description="When this digest was read (ISO 8601).")


MAX_POSITION = 2**63 - 1
"""Positions are 64-bit in both stores; a larger one cannot name an event (and used to 500)."""


class DigestIn(RequestModel):
    position: int = Field(ge=0, le=MAX_POSITION)
    link: str = Field(pattern=HEX_LINK)
    at: Timestamp | None = Field(default=None, description="When the digest was read, as "
                                 "`GET /v1/audit/digest` gave it (a time zone is required).")


class DigestVerifiedOut(BaseModel):
    prefix: bool = Field(description="True when the chain still holds this digest's link at "
                         "its position and everything up to it recomputes to it.")
    digest: DigestOut
    head: DigestOut = Field(description="Today's head, to keep next.")


class ProofIn(RequestModel):
    position: int = Field(ge=1, le=MAX_POSITION, description="The event to prove.")
    digest: DigestIn = Field(description="A digest the auditor trusts (kept earlier).")


def _digest(d: DigestIn, services: Any) -> audit_chain.Digest:
    at = d.at or services.ledger.clock.now()
    return audit_chain.Digest(d.position, d.link, at)


@router.get("/digest", response_model=DigestOut, responses=READ_PROBLEMS)
def get_digest(services: ServicesDep, caller: AuditCaller) -> dict[str, Any]:
    """The chain's head: keep it; later prove nothing up to it changed."""
    return audit_chain.head(services.ledger).as_json()


@router.post("/digest/verify", response_model=DigestVerifiedOut, responses=QUERY_PROBLEMS)
def verify_digest(body: DigestIn, services: ServicesDep, caller: AuditCaller) -> dict[str, Any]:
    """Whether an earlier digest is a prefix of today's chain (recomputed up to it)."""
    digest = _digest(body, services)
    return {"prefix": audit_chain.is_prefix(services.ledger, digest),
            "digest": digest.as_json(), "head": audit_chain.head(services.ledger).as_json()}


@router.post("/proof", responses=QUERY_PROBLEMS)
def get_proof(body: ProofIn, services: ServicesDep, caller: AuditCaller) -> dict[str, Any]:
    """The event at `position` and every event from it to the digest, raw, with the link
    before it: recompute each link offline (`python entrypoints/verify_proof.py`)."""
    digest = _digest(body.digest, services)
    if not 0 < body.position <= digest.position:
        raise ApiProblem(422, "position-outside-digest",
                         f"position {body.position} is not within the digest "
                         f"(1..{digest.position})")
    return audit_chain.proof(services.ledger, body.position, digest)
