"""The Job Success Score's derived views, as of a moment: pure functions over the JSS rows.

The ledger does not compute the score; it derives the inputs domain.md names
from the rows ``projections.jss`` keeps, all in integer minor units and only
from facts effective at or before ``as_of``:

- **earnings weight** of a job: its earnings after refunds by the freelancer,
  $0.01-$250.00 -> 1, $250.01-$1,000.00 -> 1.25, over $1,000.00 -> 1.5 (no
  earnings: 0, not weighted); plus 1 for each *full 3 months between the
  job's first and last payment* (calendar months: a payment on 2 March and one
  on or after 2 June add 1; on or after 2 September, 2), at most 8;
- **long-term relationship**: a client whose payments to the freelancer, over
  all their contracts, span 90 days or more (last payment - first payment);
- **eligibility**: in the 24 calendar months up to ``as_of`` (from the same
  day and time 24 months earlier, included), an *eligible job* is a contract
  with a payment or its end in that window; eligible when there are at least
  2 such jobs of at least 2 distinct clients;
- **badge thresholds** on the earnings of the last 12 calendar months (the same
  way), after refunds by the freelancer in them: Top Rated $1,000.00; Top
  Rated Plus $10,000.00 with one *large* contract, assumed to be one that
  earned $5,000.00 or more in those 12 months.

The bands and badges are dollar figures (the ledger opens contracts in USD
only); the badges count USD contracts only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from domain.connects.rules import add_months

THRESHOLD_CURRENCY = "USD"
BANDS: tuple[tuple[int, Decimal], ...] = ((25_000, Decimal("1")), (100_000, Decimal("1.25")))
"""Earnings up to each bound (minor units, included) and their weight; above: ``TOP_BAND``."""
TOP_BAND = Decimal("1.5")
MAX_WEIGHT = Decimal("8")
MONTHS_PER_STEP = 3
LONG_TERM = timedelta(days=90)
ELIGIBILITY_MONTHS = 24
MIN_CLIENTS = 2
MIN_JOBS = 2
BADGE_MONTHS = 12
TOP_RATED_MINOR = 100_000
TOP_RATED_PLUS_MINOR = 1_000_000
LARGE_CONTRACT_MINOR = 500_000
"""Assumed: domain.md names "one large contract" without a figure."""
BY_FREELANCER = frozenset({"by_freelancer", "chargeback"})
"""Refund kinds taken back from the freelancer's earnings (the rest never reached them)."""


@dataclass(frozen=True)
class Payment:
    at: datetime
    gross_minor: int


@dataclass(frozen=True)
class Refund:
    kind: str
    at: datetime
    amount_minor: int
    reversed_at: datetime | None

    def counts(self, as_of: datetime) -> bool:
        return self.at <= as_of and (self.reversed_at is None or self.reversed_at > as_of)

    @property
    def by_freelancer(self) -> bool:
        return self.kind in BY_FREELANCER


@dataclass(frozen=True)
class Job:
    """One contract's facts, already cut at ``as_of``."""

    contract_id: str
    client_id: str
    currency: str
    ended_at: datetime | None
    payments: tuple[Payment, ...]
    refunds: tuple[Refund, ...]

    def earned(self, since: datetime | None = None) -> int:
        """Gross earnings, less refunds by the freelancer, from ``since`` (included)."""
        paid = sum(p.gross_minor for p in self.payments if since is None or p.at >= since)
        back = sum(r.amount_minor for r in self.refunds
                   if r.by_freelancer and (since is None or r.at >= since))
        return paid - back


@dataclass(frozen=True)
class Weight:
    band: Decimal
    steps: int
    weight: Decimal


def full_months(first: datetime, last: datetime) -> int:
    """Whole calendar months from ``first`` to ``last`` (the 31st counts to a month's end)."""
    months = (last.year - first.year) * 12 + last.month - first.month
    while months > 0 and add_months(first, months) > last:
        months -= 1
    return max(months, 0)


def earnings_weight(job: Job) -> Weight:
    total = job.earned()
    if total <= 0:
        return Weight(Decimal("0"), 0, Decimal("0"))
    band = next((w for bound, w in BANDS if total <= bound), TOP_BAND)
    times = [p.at for p in job.payments]
    steps = full_months(min(times), max(times)) // MONTHS_PER_STEP
    return Weight(band, steps, min(band + steps, MAX_WEIGHT))


@dataclass(frozen=True)
class ClientSpan:
    client_id: str
    first: datetime
    last: datetime

    @property
    def long_term(self) -> bool:
        return self.last - self.first >= LONG_TERM


def client_spans(jobs: Iterable[Job]) -> list[ClientSpan]:
    """Each client that paid the freelancer: its first and last payment, over all jobs."""
    times: dict[str, list[datetime]] = {}
    for job in jobs:
        times.setdefault(job.client_id, []).extend(p.at for p in job.payments)
    return [ClientSpan(c, min(t), max(t)) for c, t in sorted(times.items()) if t]


@dataclass(frozen=True)
class Eligibility:
    since: datetime
    jobs: tuple[str, ...]
    clients: tuple[str, ...]

    @property
    def eligible(self) -> bool:
        return len(self.clients) >= MIN_CLIENTS and len(self.jobs) >= MIN_JOBS


def eligibility(jobs: Sequence[Job], as_of: datetime) -> Eligibility:
    since = add_months(as_of, -ELIGIBILITY_MONTHS)
    eligible = [j for j in jobs
                if any(p.at >= since for p in j.payments)
                or (j.ended_at is not None and j.ended_at >= since)]
    return Eligibility(since, tuple(j.contract_id for j in eligible),
                       tuple(sorted({j.client_id for j in eligible})))


@dataclass(frozen=True)
class Badges:
    since: datetime
    earned_minor: int
    large_contracts: tuple[str, ...]

    @property
    def top_rated(self) -> bool:
        return self.earned_minor >= TOP_RATED_MINOR

    @property
    def top_rated_plus(self) -> bool:
        return self.earned_minor >= TOP_RATED_PLUS_MINOR and bool(self.large_contracts)


def badges(jobs: Sequence[Job], as_of: datetime) -> Badges:
    since = add_months(as_of, -BADGE_MONTHS)
    counted = [j for j in jobs if j.currency == THRESHOLD_CURRENCY]
    return Badges(since, sum(j.earned(since) for j in counted),
                  tuple(j.contract_id for j in counted
                        if j.earned(since) >= LARGE_CONTRACT_MINOR))
