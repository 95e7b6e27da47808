"""The marketplace's clocks, in one place so every deadline reads the same figure."""

from datetime import timedelta

REVIEW_PERIOD = timedelta(days=14)
"""Client's time to answer a submission; silence approves (auto-release)."""

SECURITY_PERIOD = timedelta(days=5)
"""Released money stays pending this long before it is available."""

REFUND_REQUEST_RESPONSE = timedelta(days=7)
"""Freelancer's time to approve or dispute an escrow refund request; silence approves."""

HOURLY_DISPUTE_RESPONSE = timedelta(days=3)
"""Freelancer's time to accept or decline an hourly dispute; silence accepts."""

BONUS_AFTER_END = timedelta(days=365)
"""A bonus may still be paid this long after a contract ends."""

REFUND_WINDOW = timedelta(days=180)
"""A freelancer may refund a client this long after a payment."""
