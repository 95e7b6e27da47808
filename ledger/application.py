"""The ledger application: one method per use case (load, decide, save).

Every command runs through ``_execute``: it answers a known idempotency key from
its record, otherwise loads the aggregates, lets the domain decide, and saves the
changed aggregates *and* the key's record in one atomic ``save``. A version
conflict (another writer got there first) reloads and decides again, a bounded
number of times, then surfaces as ``ConcurrencyConflict``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import JSONTranscoder, RecordConflictError
from moneyed import Money

from domain import accounts
from domain.client_credit import ClientCredit
from domain.contract import FixedPriceContract, Party
from domain.errors import (
    ConcurrencyConflict,
    ContractNotFound,
    IdempotencyKeyReused,
    InvalidInput,
    LedgerError,
    UnsupportedContractKind,
    VersionMismatch,
)
from domain.fee_schedule import DEFAULT_SCHEDULE, FeeSchedule, PaymentMethod
from domain.freelancer_balance import FreelancerBalance
from domain.milestone import Milestone
from domain.postings import JournalEntry
from domain.relationship import Relationship
from domain.release import (
    Parties,
    PaymentOnEnd,
    approve_milestone,
    end_contract,
    payment_on_end,
    release_to_freelancer,
)
from ledger.clock import Clock, SystemClock
from ledger.idempotency import CommandRecord, request_fingerprint
from ledger.log_positions import notification_id_of
from ledger.transcodings import register_domain_transcodings

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
A = TypeVar("A")


@dataclass(frozen=True)
class CommandResult:
    """What a command answers: its response, the log position, and whether replayed."""

    response: dict[str, Any]
    position: int
    replayed: bool = False


@dataclass
class Decision:
    """What a command decided: aggregates to save and the response to give."""

    aggregates: list[Any]
    response: dict[str, Any]
    extra: list[Any] = field(default_factory=list)


def money_json(value: Money) -> dict[str, str]:
    return {"amount": str(value.amount), "currency": value.currency.code}


class EscrowLedger(Application[UUID]):
    """The system of record for contracts, escrow and freelancer balances."""

    name = "EscrowLedger"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        clock: Clock | None = None,
        fees: FeeSchedule = DEFAULT_SCHEDULE,
    ) -> None:
        super().__init__(env)
        self.clock: Clock = clock or SystemClock()
        self.fees = fees

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder)

    # ---- the command path --------------------------------------------------

    def _execute(
        self,
        command: str,
        idempotency_key: str | None,
        request: dict[str, Any],
        decide: Callable[[datetime], Decision],
    ) -> CommandResult:
        fingerprint = request_fingerprint(command, request)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            at = self.clock.now()
            try:
                decision = decide(at)
                to_save = [*decision.aggregates, *self._credit_followers(decision.aggregates, at)]
                for agg in decision.aggregates:
                    if isinstance(agg, FixedPriceContract):
                        # what a caller sends back as If-Match for its next decision
                        decision.response["contract_version"] = agg.version
            except LedgerError:
                # A replayed key whose command no longer fits the state (approve twice)
                # answers from its record; a fresh key gets the refusal.
                replay = self._find_replay(idempotency_key, fingerprint)
                if replay is not None:
                    return replay
                raise
            if idempotency_key is not None:
                to_save.append(
                    CommandRecord.accept(
                        key=idempotency_key,
                        command=command,
                        request_hash=fingerprint,
                        response=decision.response,
                        at=at,
                    )
                )
            try:
                recordings = self.save(*to_save)
            except RecordConflictError:
                # Either another writer changed an aggregate (decide again) or the
                # key's record already exists (answer from it): nothing was written.
                replay = self._find_replay(idempotency_key, fingerprint)
                if replay is not None:
                    return replay
                log.info("version conflict on %s (attempt %d), retrying", command, attempt)
                continue
            position = max((r.notification.id for r in recordings), default=None)
            return CommandResult(decision.response,
                                 position if position is not None else self.position())
        raise ConcurrencyConflict(
            f"{command}: the aggregates kept changing under {MAX_ATTEMPTS} attempts; retry later"
        )

    def _credit_followers(self, aggregates: list[Any], at: datetime) -> list[ClientCredit]:
        """Client credit moved by a contract's new events, checked never to go negative."""
        followers = []
        for agg in aggregates:
            if isinstance(agg, FixedPriceContract) and _moves_account(
                    agg.pending_events, accounts.client_credit(agg.client_id)):
                credit = self.client_credit(agg.client_id, at)
                credit.follow(agg.pending_events, at)
                if any(isinstance(e, ClientCredit.CreditMoved) for e in credit.pending_events):
                    followers.append(credit)
        return followers

    def client_credit(self, client_id: str, at: datetime) -> ClientCredit:
        found = self.find(ClientCredit, ClientCredit.id_for(client_id))
        return found if found is not None else ClientCredit.open(client_id, at)

    def find(self, kind: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate with this id, or None when it was never created."""
        try:
            found: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, kind) else None

    def _find_replay(self, key: str | None, fingerprint: str) -> CommandResult | None:
        """The first answer to this key, if the key was used; refuses a different request.

        Read only after a refusal or a conflict: the key record's uniqueness in the
        store is what stops a second write, so the common path never reads it.
        """
        if key is None:
            return None
        record = self.find(CommandRecord, CommandRecord.id_for(key))
        if record is None:
            return None
        if record.request_hash != fingerprint:
            raise IdempotencyKeyReused(
                f"this Idempotency-Key was already used for a different request "
                f"({record.command}); send a new key for a new request"
            )
        position = notification_id_of(self.recorder, record.id, 1)
        return CommandResult(record.response, position if position is not None
                             else self.position(), replayed=True)

    def position(self) -> int:
        """The log's newest notification id (0 for an empty log)."""
        return self.recorder.max_notification_id() or 0

    # ---- loading -----------------------------------------------------------

    def contract(
        self, contract_id: UUID | str, expected_version: int | None = None
    ) -> FixedPriceContract:
        """Loads a contract; with ``expected_version``, refuses one that has moved on.

        The caller's optimistic check (HTTP ``If-Match``): a decision taken on a
        stale read of the contract is refused rather than applied to newer state.
        """
        try:
            cid = contract_id if isinstance(contract_id, UUID) else UUID(str(contract_id))
        except ValueError:
            raise ContractNotFound(f"contract {contract_id!r} not found") from None
        c = self.find(FixedPriceContract, cid)
        if c is None:
            raise ContractNotFound(f"contract {contract_id} not found")
        if expected_version is not None and c.version != expected_version:
            raise VersionMismatch(
                f"contract {contract_id} is at version {c.version}, not {expected_version}: "
                "read it again and decide on the current state"
            )
        return c

    def freelancer_balance(self, freelancer_id: str, at: datetime) -> FreelancerBalance:
        found = self.find_freelancer_balance(freelancer_id)
        return found if found is not None else FreelancerBalance.register(freelancer_id, at)

    def find_freelancer_balance(self, freelancer_id: str) -> FreelancerBalance | None:
        return self.find(FreelancerBalance, FreelancerBalance.id_for(freelancer_id))

    def relationship(self, c: FixedPriceContract, at: datetime) -> Relationship:
        rid = Relationship.id_for(c.client_id, c.freelancer_id, c.currency)
        found = self.find(Relationship, rid)
        if found is not None:
            return found
        return Relationship.start(c.client_id, c.freelancer_id, c.currency, at)

    def parties(
        self, contract_id: UUID | str, at: datetime, expected_version: int | None = None
    ) -> Parties:
        c = self.contract(contract_id, expected_version)
        return Parties(c, self.relationship(c, at), self.freelancer_balance(c.freelancer_id, at))

    # ---- commands ----------------------------------------------------------

    def open_contract(
        self,
        *,
        kind: str = "fixed_price",
        client_id: str,
        freelancer_id: str,
        currency: str,
        job_id: str | None = None,
        service_fee_rate: Decimal | None = None,
        actor: str,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        request = {
            "kind": kind, "client_id": client_id, "freelancer_id": freelancer_id,
            "currency": currency,
            "job_id": job_id,
            "service_fee_rate": None if service_fee_rate is None else str(service_fee_rate),
        }

        def decide(at: datetime) -> Decision:
            if kind != "fixed_price":
                raise UnsupportedContractKind(
                    f"{kind!r} contracts are not supported yet; open a 'fixed_price' contract"
                )
            c = FixedPriceContract.open(
                contract_id=uuid4(), client_id=client_id, freelancer_id=freelancer_id,
                currency=currency, job_id=job_id, service_fee_rate=service_fee_rate,
                at=at, actor=actor, fees=self.fees,
            )
            return Decision([c], {
                "contract_id": str(c.id),
                "service_fee_rate": None if c.service_fee_rate is None
                else str(c.service_fee_rate),
            })

        return self._execute("open_contract", idempotency_key, request, decide)

    def add_milestone(
        self, *, contract_id: str, title: str, amount: Money, actor: str,
        expected_version: int | None = None, idempotency_key: str | None = None,
    ) -> CommandResult:
        request = {"contract_id": contract_id, "title": title, "amount": money_json(amount),
                   "expected_version": expected_version}

        def decide(at: datetime) -> Decision:
            c = self.contract(contract_id, expected_version)
            milestone_id = uuid4()
            c.add_milestone(milestone_id=milestone_id, title=title, amount=amount, at=at,
                            actor=actor)
            return Decision([c], {"contract_id": str(c.id), "milestone_id": str(milestone_id)})

        return self._execute("add_milestone", idempotency_key, request, decide)

    def fund_milestone(
        self, *, contract_id: str, milestone_id: str, actor: str,
        payment_method: PaymentMethod = PaymentMethod.CARD,
        expected_version: int | None = None, idempotency_key: str | None = None,
    ) -> CommandResult:
        request = {"contract_id": contract_id, "milestone_id": milestone_id,
                   "payment_method": payment_method.value, "expected_version": expected_version}

        def decide(at: datetime) -> Decision:
            c = self.contract(contract_id, expected_version)
            c.fund_milestone(milestone_id=milestone_id, method=payment_method, at=at,
                             actor=actor, fees=self.fees)
            funded = c.pending_events[-1]
            assert isinstance(funded, FixedPriceContract.MilestoneFunded)
            total = funded.charged
            if funded.marketplace_fee is not None:
                total = funded.marketplace_fee.with_fee
            if funded.initiation_fee is not None:
                total = total + funded.initiation_fee.fee
            return Decision([c], {
                "contract_id": str(c.id),
                "milestone_id": milestone_id,
                "escrow_added": money_json(funded.escrow_added),
                "carried_in": money_json(funded.escrow_added - funded.charged),
                "charged": money_json(funded.charged),
                "marketplace_fee": money_json(
                    funded.marketplace_fee.fee if funded.marketplace_fee
                    else funded.charged * 0),
                "initiation_fee": money_json(
                    funded.initiation_fee.fee if funded.initiation_fee
                    else funded.charged * 0),
                "total_charged": money_json(total),
                "payment_method": payment_method.value,
            })

        return self._execute("fund_milestone", idempotency_key, request, decide)

    def submit_work(
        self, *, contract_id: str, milestone_id: str, actor: str,
        expected_version: int | None = None, idempotency_key: str | None = None,
    ) -> CommandResult:
        request = {"contract_id": contract_id, "milestone_id": milestone_id,
                   "expected_version": expected_version}

        def decide(at: datetime) -> Decision:
            c = self.contract(contract_id, expected_version)
            c.submit_work(milestone_id=milestone_id, at=at, actor=actor)
            m = c.milestone(milestone_id)
            return Decision([c], {
                "contract_id": str(c.id), "milestone_id": milestone_id,
                "status": m.status.value,
                "review_due_at": m.review_due_at.isoformat() if m.review_due_at else None,
            })

        return self._execute("submit_work", idempotency_key, request, decide)

    def request_changes(
        self, *, contract_id: str, milestone_id: str, note: str, actor: str,
        expected_version: int | None = None, idempotency_key: str | None = None,
    ) -> CommandResult:
        request = {"contract_id": contract_id, "milestone_id": milestone_id, "note": note,
                   "expected_version": expected_version}

        def decide(at: datetime) -> Decision:
            c = self.contract(contract_id, expected_version)
            c.request_changes(milestone_id=milestone_id, note=note, at=at, actor=actor)
            return Decision([c], {"contract_id": str(c.id), "milestone_id": milestone_id,
                                  "status": c.milestone(milestone_id).status.value})

        return self._execute("request_changes", idempotency_key, request, decide)

    def approve_milestone(
        self, *, contract_id: str, milestone_id: str, actor: str, amount: Money | None = None,
        payment_method: PaymentMethod = PaymentMethod.CARD,
        expected_version: int | None = None, idempotency_key: str | None = None,
    ) -> CommandResult:
        request = {"contract_id": contract_id, "milestone_id": milestone_id,
                   "amount": None if amount is None else money_json(amount),
                   "payment_method": payment_method.value, "expected_version": expected_version}

        def decide(at: datetime) -> Decision:
            p = self.parties(contract_id, at, expected_version)
            released = approve_milestone(
                p, milestone_id=milestone_id, amount=amount, method=payment_method,
                at=at, actor=actor, fees=self.fees,
            )
            return Decision([p.contract, p.relationship, p.balance], {
                "contract_id": contract_id,
                "milestone_id": milestone_id,
                "gross": money_json(released.gross),
                "service_fee": money_json(released.service_fee.fee),
                "service_fee_schedule": released.service_fee.schedule_id,
                "net": money_json(released.net),
                "escrow_remaining": money_json(released.escrow_remaining),
                "available_at": released.available_at.isoformat(),
            })

        return self._execute("approve_milestone", idempotency_key, request, decide)

    def end_contract(
        self, *, contract_id: str, by: Party, pay: PaymentOnEnd, actor: str,
        feedback: str | None = None, expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """``pay``: an amount, ``"all"``, ``"none"``, or None for the party's default."""
        request = {"contract_id": contract_id, "by": by.value,
                   "pay": money_json(pay) if isinstance(pay, Money) else pay,
                   "feedback": feedback, "expected_version": expected_version}

        def decide(at: datetime) -> Decision:
            p = self.parties(contract_id, at, expected_version)
            released_before = p.contract.total_released
            request_id = end_contract(
                p, by=by, pay=payment_on_end(by, pay, p.contract.currency),
                refund_request_id=str(uuid4()), at=at, actor=actor,
                fees=self.fees, feedback=feedback,
            )
            c = p.contract
            return Decision([c, p.relationship, p.balance], {
                "contract_id": contract_id,
                "status": c.status.value,
                "paid_to_freelancer": money_json(c.total_released - released_before),
                "refund_request_id": request_id,
                "refund_requested": money_json(
                    c.refund_request(request_id).total if request_id else c.total_released * 0),
            })

        return self._execute("end_contract", idempotency_key, request, decide)

    def approve_refund_request(
        self, *, contract_id: str, request_id: str, actor: str,
        expected_version: int | None = None, idempotency_key: str | None = None,
    ) -> CommandResult:
        request = {"contract_id": contract_id, "request_id": request_id,
                   "expected_version": expected_version}

        def decide(at: datetime) -> Decision:
            c = self.contract(contract_id, expected_version)
            c.approve_refund_request(request_id=request_id, at=at, actor=actor)
            refunded = [e for e in c.pending_events
                        if isinstance(e, FixedPriceContract.EscrowRefunded)]
            total = refunded[0].total if refunded else c.total_released * 0
            return Decision([c], {
                "contract_id": contract_id, "request_id": request_id,
                "status": c.status.value, "refunded": money_json(total),
                "marketplace_fee_refunded": money_json(
                    refunded[0].marketplace_fee_refunded if refunded else total),
            })

        return self._execute("approve_refund_request", idempotency_key, request, decide)

    def auto_release_milestone(
        self, *, contract_id: str, milestone_id: str, due: datetime,
        actor: str = "system:scheduler", idempotency_key: str | None = None,
    ) -> CommandResult:
        """The client did not answer a submission for 14 days: silence approves it.

        Takes effect at the deadline itself (fees of that moment, security
        period from then); a deadline no longer current (changes were requested,
        the client already approved) does nothing.
        """
        request = {"contract_id": contract_id, "milestone_id": milestone_id,
                   "due": due.isoformat()}

        def decide(at: datetime) -> Decision:
            _require_due(due, at)
            p = self.parties(contract_id, at)
            if not p.contract.review_lapsed(milestone_id, due):
                return Decision([], {"contract_id": contract_id, "milestone_id": milestone_id,
                                     "released": False})
            m = p.contract.milestone(milestone_id)
            released = release_to_freelancer(
                p, milestone_id=milestone_id, gross=m.escrow,
                reason="approved by silence: no answer within 14 days of submission",
                at=due, actor=actor, fees=self.fees,
            )
            return Decision([p.contract, p.relationship, p.balance], {
                "contract_id": contract_id, "milestone_id": milestone_id, "released": True,
                "gross": money_json(released.gross), "net": money_json(released.net),
                "service_fee": money_json(released.service_fee.fee),
                "available_at": released.available_at.isoformat(),
            })

        return self._execute("auto_release_milestone", idempotency_key, request, decide)

    def lapse_refund_request(
        self, *, contract_id: str, request_id: str, due: datetime,
        actor: str = "system:scheduler", idempotency_key: str | None = None,
    ) -> CommandResult:
        """The freelancer did not answer an escrow refund request in 7 days: it is approved."""
        request = {"contract_id": contract_id, "request_id": request_id, "due": due.isoformat()}

        def decide(at: datetime) -> Decision:
            _require_due(due, at)
            c = self.contract(contract_id)
            if not c.refund_request_lapsed(request_id, due):
                return Decision([], {"contract_id": contract_id, "request_id": request_id,
                                     "refunded": False})
            c.approve_refund_request(request_id=request_id, at=due, actor=actor)
            return Decision([c], {"contract_id": contract_id, "request_id": request_id,
                                  "refunded": True, "status": c.status.value})

        return self._execute("lapse_refund_request", idempotency_key, request, decide)

    def release_matured_earnings(
        self, *, freelancer_id: str, due_by: datetime | None = None, actor: str = "system",
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """Ends the security period of every lot due by ``due_by`` (default: now).

        Each maturity takes effect at its lots' due time, so balances as of a past
        moment are right even when this runs late.
        """
        request = {"freelancer_id": freelancer_id,
                   "due_by": None if due_by is None else due_by.isoformat()}

        def decide(at: datetime) -> Decision:
            effective = at if due_by is None else min(due_by, at)
            b = self.find_freelancer_balance(freelancer_id)
            if b is None:
                return Decision([], {"freelancer_id": freelancer_id, "matured": []})
            totals = b.mature(effective)
            return Decision([b], {"freelancer_id": freelancer_id,
                                  "matured": [money_json(t) for t in totals]})

        return self._execute("release_matured_earnings", idempotency_key, request, decide)

    # ---- queries -----------------------------------------------------------

    def contract_view(self, contract_id: str) -> dict[str, Any]:
        c = self.contract(contract_id)
        return {
            "contract_id": str(c.id),
            "kind": "fixed_price",
            "client_id": c.client_id,
            "freelancer_id": c.freelancer_id,
            "currency": c.currency,
            "job_id": c.job_id,
            "status": c.status.value,
            "service_fee_rate": None if c.service_fee_rate is None else str(c.service_fee_rate),
            "opened_at": c.opened_at.isoformat(),
            "escrow_balance": money_json(c.escrow_balance()),
            "total_released": money_json(c.total_released),
            "milestones": [_milestone_view(m) for m in c.milestones.values()],
            "refund_requests": [
                {"request_id": r.request_id, "total": money_json(r.total),
                 "respond_by": r.respond_by.isoformat(), "status": r.status}
                for r in c.refund_requests.values()
            ],
            "version": c.version,
        }


def _moves_account(events: list[Any], account: str) -> bool:
    return any(
        p.account == account
        for e in events if isinstance(getattr(e, "entry", None), JournalEntry)
        for p in e.entry.postings
    )


def _require_due(due: datetime, now: datetime) -> None:
    if due > now:
        raise InvalidInput(f"deadline {due.isoformat()} is not due yet (now {now.isoformat()})")


def _milestone_view(m: Milestone) -> dict[str, Any]:
    return {
        "milestone_id": m.milestone_id,
        "title": m.title,
        "amount": money_json(m.amount),
        "status": m.status.value,
        "escrow_balance": money_json(m.escrow),
        "released": money_json(m.released),
        "review_due_at": m.review_due_at.isoformat() if m.review_due_at else None,
    }


def parse_party(value: str) -> Party:
    try:
        return Party(value)
    except ValueError:
        raise InvalidInput(f"'by' must be 'client' or 'freelancer', got {value!r}") from None
