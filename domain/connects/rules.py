"""The Connects rules' figures and names, in one place."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from enum import StrEnum


class Plan(StrEnum):
    BASIC = "basic"
    PLUS = "plus"


MONTHLY_GRANT = {Plan.BASIC: 10, Plan.PLUS: 100}
"""Free Connects granted each month of a plan."""

CONNECTS_LIFETIME = 12
"""Months from issue to expiry: a lot expires one year after it was issued."""

BOOST_AUCTION = timedelta(days=7)
"""A job's boost auction closes this long after the job is posted (or at the first hire)."""

MAX_PER_PROPOSAL = 16


class SpendReason(StrEnum):
    PROPOSAL = "proposal"
    AVAILABILITY_BADGE = "availability_badge"
    PROFILE_BOOST = "profile_boost"
    BOOST = "boost"  # a bid for a top place on a job: its own route


class ReturnReason(StrEnum):
    """The only reasons Connects come back (a job expiring, a declined proposal, someone
    else hired or the freelancer withdrawing return nothing)."""

    JOB_CANCELLED = "job_cancelled_before_contract"
    JOB_REMOVED = "job_removed_for_violation"


def add_months(when: datetime, months: int) -> datetime:
    """The same day and time ``months`` later, the month's last day when it has no such day."""
    index = when.month - 1 + months
    year, month = when.year + index // 12, index % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)
