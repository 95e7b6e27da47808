"""The hourly billing week, in UTC: when it starts, closes, is invoiced, reviewed and paid.

Week: Monday 00:00 to Sunday 23:59. Time can be edited until Monday 11:59;
the client is charged Monday 12:00 for the week before; the review (and
dispute) window runs until Friday 23:59; the security period then ends the
Wednesday after, ten days after the week ended.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from domain.periods import SECURITY_PERIOD

WEEK = timedelta(days=7)
INVOICE_AFTER_WEEK = timedelta(hours=12)
"""Monday 12:00: the week before is invoiced; time can be changed until 11:59."""
REVIEW_AFTER_WEEK = timedelta(days=5)
"""The review window closes at the end of Friday 23:59 (Saturday 00:00)."""


def week_of(day: date) -> date:
    """The Monday that starts the billing week holding ``day``."""
    return day - timedelta(days=day.weekday())


def starts(week_start: date) -> datetime:
    return datetime.combine(week_start, time.min, tzinfo=UTC)


def ends(week_start: date) -> datetime:
    """The next Monday 00:00: the first moment after the week."""
    return starts(week_start) + WEEK


def invoice_due(week_start: date) -> datetime:
    """Monday 12:00 after the week; also the moment its time entries close."""
    return ends(week_start) + INVOICE_AFTER_WEEK


def review_ends(week_start: date) -> datetime:
    """Saturday 00:00 after the invoice: the review and dispute window is over."""
    return ends(week_start) + REVIEW_AFTER_WEEK


def available_at(week_start: date) -> datetime:
    """Ten days after the week ended (Thursday 00:00, the end of the Wednesday after)."""
    return review_ends(week_start) + SECURITY_PERIOD


def next_monday(at: datetime) -> datetime:
    """Monday 00:00 after ``at``: when a weekly-limit decrease takes effect."""
    return ends(week_of(at.astimezone(UTC).date()))
