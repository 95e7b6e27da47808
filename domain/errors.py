"""The ledger's errors, named in the marketplace's words.

Every refusal the ledger makes is one of these classes, so callers (the HTTP
layer maps them to problem+json in one place) can tell a wrong state from a
bad amount without parsing messages. Each class says when it is raised; the
``type`` attribute is the stable, machine-readable slug a client may branch on.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every refusal; nothing has been written when one is raised."""

    type = "ledger-error"


# --- invalid input (HTTP 422) -------------------------------------------------


class InvalidInput(LedgerError):
    """A command's arguments are malformed or outside the rules."""

    type = "invalid-input"


class MoneyError(InvalidInput):
    """A money value is not acceptable as money."""

    type = "invalid-money"


class FloatMoneyError(MoneyError):
    """A float was offered as an amount: binary floats cannot hold cents exactly."""

    type = "float-money"


class CurrencyMismatch(MoneyError):
    """Two amounts of different currencies were combined or compared."""

    type = "currency-mismatch"


class UnknownCurrency(MoneyError):
    """The currency code is not an ISO 4217 code we know."""

    type = "unknown-currency"


class UnsupportedCurrency(MoneyError):
    """A real currency for which the fee schedule has no figures."""

    type = "unsupported-currency"


class AmountPrecisionError(MoneyError):
    """An amount has more decimal places than the currency's minor unit."""

    type = "amount-precision"


class AmountTooLarge(MoneyError):
    """An amount beyond what any payment could be, or a single limit of the marketplace."""

    type = "amount-too-large"


class NonPositiveAmount(MoneyError):
    """An amount that must be above zero is zero or negative."""

    type = "non-positive-amount"


class MilestoneBelowMinimum(InvalidInput):
    """A fixed-price milestone is smaller than the marketplace minimum ($5)."""

    type = "milestone-below-minimum"


class UnsupportedContractKind(InvalidInput):
    """A contract kind the ledger does not keep yet (hourly, for now)."""

    type = "unsupported-contract-kind"


class RateBelowMinimum(InvalidInput):
    """An hourly rate below the marketplace minimum ($3/h)."""

    type = "rate-below-minimum"


class InvalidFeeRate(InvalidInput):
    """A per-contract service fee rate lies outside the permitted range (0%-15%)."""

    type = "invalid-fee-rate"


class InvalidFeeSchedule(InvalidInput):
    """Fee schedule figures (or a recorded fee quote) are malformed or inconsistent.

    Also raised when figures are overridden without a new version name, so a
    schedule id recorded in an event always means one set of figures.
    """

    type = "invalid-fee-schedule"


class UnknownPaymentMethod(InvalidInput):
    """The client's payment method is not one the marketplace fee knows."""

    type = "unknown-payment-method"


class UnknownWithdrawalMethod(InvalidInput):
    """The withdrawal method is not one the payout schedule knows."""

    type = "unknown-withdrawal-method"


class BelowWithdrawalMinimum(InvalidInput):
    """A withdrawal is smaller than its method's minimum (local bank: $5)."""

    type = "below-withdrawal-minimum"


class NaiveDatetime(InvalidInput):
    """A datetime without a time zone: the ledger's rules are all in UTC."""

    type = "naive-datetime"


class UnbalancedEntry(LedgerError):
    """A journal entry's debits and credits differ in some currency.

    This is a programming error, never a user's: it is raised before anything is
    saved, so an unbalanced entry can never reach the log.
    """

    type = "unbalanced-entry"


# --- unknown things (HTTP 404) ------------------------------------------------


class NotFound(LedgerError):
    """Something named by id does not exist."""

    type = "not-found"


class ContractNotFound(NotFound):
    type = "contract-not-found"


class MilestoneNotFound(NotFound):
    type = "milestone-not-found"


class RefundRequestNotFound(NotFound):
    type = "refund-request-not-found"


class FreelancerNotFound(NotFound):
    type = "freelancer-not-found"


class TimeEntryNotFound(NotFound):
    type = "time-entry-not-found"


class DisputeNotFound(NotFound):
    type = "dispute-not-found"


class PaymentNotFound(NotFound):
    """No charge of the ledger has this payment id."""

    type = "payment-not-found"


class ChargebackNotFound(NotFound):
    """No chargeback has this id."""

    type = "chargeback-not-found"


class SpendNotFound(NotFound):
    """No Connects spend or boost has this id in the freelancer's wallet."""

    type = "spend-not-found"


class AccountNotFound(NotFound):
    type = "account-not-found"


# --- wrong state or conflicts (HTTP 409) --------------------------------------


class StateConflict(LedgerError):
    """The command is well-formed but not allowed in the current state."""

    type = "state-conflict"


class ContractNotActive(StateConflict):
    """The contract has ended (or is ending) and takes no more work or money."""

    type = "contract-not-active"


class MilestoneStateError(StateConflict):
    """The milestone is not in a state that allows this step."""

    type = "milestone-state"


class NotFunded(MilestoneStateError):
    """Work cannot be submitted or released on a milestone with nothing in escrow."""

    type = "milestone-not-funded"


class InsufficientEscrow(StateConflict):
    """A release or refund asks for more than the escrow holds for it."""

    type = "insufficient-escrow"


class EscrowError(StateConflict):
    """An escrow movement is impossible (already funded, nothing to refund...)."""

    type = "escrow-error"


class RefundRequestStateError(StateConflict):
    """The escrow refund request was already decided."""

    type = "refund-request-state"


class InsufficientFunds(StateConflict):
    """A freelancer or client balance would go below zero."""

    type = "insufficient-funds"


class ManualTimeNotAllowed(StateConflict):
    """Manual time on a contract whose terms allow only tracked time."""

    type = "manual-time-not-allowed"


class WeekClosed(StateConflict):
    """Time of a billing week that was invoiced (Monday 12:00) can no longer change."""

    type = "week-closed"


class DisputeStateError(StateConflict):
    """The dispute is not in a state (or window) that allows this step."""

    type = "dispute-state"


class DisputeOpen(StateConflict):
    """A step that would move disputed escrow (or end the contract) while a dispute is open."""

    type = "dispute-open"


class ClientSuspended(StateConflict):
    """A chargeback suspended the client: no command may move its money until it is won."""

    type = "client-suspended"


class ChargebackStateError(StateConflict):
    """The chargeback was already decided (won or lost), or the payment has one open."""

    type = "chargeback-state"


class WithdrawalNotFound(NotFound):
    type = "withdrawal-not-found"


class HoldNotFound(NotFound):
    type = "hold-not-found"


class WithdrawalStateError(StateConflict):
    """The withdrawal is not in a state this step may follow (sent after settled...)."""

    type = "withdrawal-state"


class WithdrawalsOnHold(StateConflict):
    """A hold (chargeback, compliance, manual) blocks every withdrawal until released."""

    type = "withdrawals-on-hold"


class InvalidCursor(InvalidInput):
    """A list's cursor that this list did not give out (or was altered)."""

    type = "invalid-cursor"


class UnknownHoldReason(InvalidInput):
    """A hold's reason is chargeback, compliance or manual."""

    type = "unknown-hold-reason"


class HoldStateError(StateConflict):
    """The hold was already released."""

    type = "hold-state"


class DormancyStateError(StateConflict):
    """A dormancy step asked for when the contract is not at that stage."""

    type = "dormancy-state"


class InsufficientConnects(StateConflict):
    """A spend needs more unexpired Connects than the wallet holds."""

    type = "insufficient-connects"


class SpendStateError(StateConflict):
    """The spend was already returned, or is not a boost, or its auction closed, or the
    job it was for led to a contract."""

    type = "spend-state"


class WindowClosed(StateConflict):
    """A bonus, refund or dispute asked for after the rules' window for it closed."""

    type = "window-closed"


class WrongContractKind(StateConflict):
    """A fixed-price step on an hourly contract, or the reverse."""

    type = "wrong-contract-kind"


class WrongParty(StateConflict):
    """The actor is not the party allowed to take this step."""

    type = "wrong-party"


class IdempotencyKeyReused(StateConflict):
    """An idempotency key was sent again with a different request."""

    type = "idempotency-key-reused"


class VersionMismatch(StateConflict):
    """The caller decided on a version of the contract that is no longer current."""

    type = "version-mismatch"


class ConcurrencyConflict(StateConflict):
    """Other writers kept changing the same aggregates; retries were exhausted."""

    type = "concurrency-conflict"


class UnknownDeadlineKind(LedgerError):
    """A deadline names a kind no command fires: a programming error, never guessed at."""

    type = "unknown-deadline-kind"


class ClockNotForward(StateConflict):
    """The test clock was asked to move backwards or to the time it already shows."""

    type = "clock-not-forward"


class InvalidFeedback(InvalidInput):
    """Feedback on ending a contract takes a whole 1-5 rating and a comment of 2,000 chars."""

    type = "invalid-feedback"


class ClientAlreadyFlagged(StateConflict):
    """Finance flagged a client that is already flagged (unflag it first)."""

    type = "client-already-flagged"


class ClientNotFlagged(StateConflict):
    """Finance unflagged a client that is not flagged."""

    type = "client-not-flagged"


class InvalidPeriod(InvalidInput):
    """A report's period ends before it starts, or spans more days than a report covers."""

    type = "invalid-period"


class ReconciliationRunNotFound(NotFound):
    """No reconciliation run has this id."""

    type = "reconciliation-run-not-found"


class BreakNotFound(NotFound):
    """The run has no break with this id."""

    type = "break-not-found"


class BreakAlreadyResolved(StateConflict):
    """Finance resolved this break already; a resolution is final (a later run re-reports
    what is still wrong)."""

    type = "break-already-resolved"


class StatementRefused(InvalidInput):
    """An imported file is malformed: the problem names the file, the line and the field;
    nothing of it was recorded."""

    type = "statement-refused"
