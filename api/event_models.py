"""Answers of the event feed: stored events decoded to JSON (see ``ledger.event_feed``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from api.models import DateTimeString


class PostingOut(BaseModel):
    account: str
    side: Literal["debit", "credit"]
    amount: str = Field(examples=["500.00"], description="A decimal string, never a number.")
    currency: str = Field(examples=["USD"])


class EventOut(BaseModel):
    position: int = Field(description="The event's place in the global log (its "
                          "notification id): strictly increasing in log order.")
    type: str = Field(description="The event's topic as stored: module and class.",
                      examples=["domain.contracts.fixed_price:FixedPriceContract.MilestoneFunded"])
    name: str = Field(examples=["FixedPriceContract.MilestoneFunded"])
    aggregate_id: str
    aggregate_version: int = Field(description="1 for the event that created the aggregate.")
    effective_at: DateTimeString = Field(description="When it took effect, in the ledger's "
                                         "time (a deadline takes effect at its due time).")
    recorded_at: DateTimeString | None = Field(
        description="Always null: the stores keep no wall-clock time beside an event.")
    actor: str | None = Field(description="Who acted, as the command recorded it.")
    memo: str | None = Field(description="Why the money moved, when the event moved money.")
    postings: list[PostingOut] = Field(description="The balanced double-entry postings the "
                                       "event carries; empty when it moved no money.")
    data: dict[str, Any] = Field(description="Every other field of the event: money as "
                                 "{amount, currency} strings, times ISO 8601, ids as strings.")
    chain_link: str | None = Field(
        description="The event's link in the audit hash chain (hex SHA-256 over the link "
        "before it and the event's stored fields; README, Audit). Keep the last one you saw "
        "with its position: `POST /v1/audit/digest/verify` later proves nothing up to it "
        "changed. Null only on a store that keeps no chain.")


class EventsPageOut(BaseModel):
    events: list[EventOut]
    next_after: int = Field(description="Pass as `after` for the next page: the last "
                            "position returned, or `after` itself when none was.")
    position: int = Field(description="The log's head when the page was read.")


class ContractEventsOut(BaseModel):
    contract_id: str
    events: list[EventOut] = Field(description="Every event of the contract, in version order.")
    position: int = Field(description="The events include every one up to this log position.")


class FreelancerEventsOut(BaseModel):
    freelancer_id: str
    events: list[EventOut] = Field(description="The freelancer's balance and Connects wallet "
                                   "events, merged in log order.")
    position: int = Field(description="The events include every one up to this log position.")
