"""The marketplace's clocks, in one place so every deadline reads the same figure."""

from datetime import timedelta

REVIEW_PERIOD = timedelta(days=14)
"""Client's time to answer a submission; silence approves (auto-release)."""

SECURITY_PERIOD = timedelta(days=5)
"""Released money stays pending this long before it is available."""

REFUND_REQUEST_RESPONSE = timedelta(days=7)
"""Freelancer's time to approve or dispute an escrow refund request; silence approves."""
