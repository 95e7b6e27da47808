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

DISPUTE_RESPONSE = timedelta(days=5)
"""Client's time to respond to a fixed-price dispute; silence releases the escrow."""

MEDIATION_PROPOSAL = timedelta(days=2)
"""Mediator's time to propose a split once the client responded; none means arbitration."""

MEDIATION_ACCEPTANCE = timedelta(days=2)
"""Both parties' time to accept a mediation proposal; silence means arbitration."""

ARBITRATION_FEE = timedelta(days=7)
"""Each party's time to agree to arbitration and pay its fee."""

DORMANCY = timedelta(days=90)
"""Escrow untouched this long after the last milestone activity makes a contract dormant."""

DORMANCY_NOTICES = (timedelta(days=76), timedelta(days=83))
"""Notices recorded before a contract turns dormant."""

DORMANCY_CLIENT_ACTION = timedelta(days=7)
"""A dormant contract's client has this long to act on its escrow."""

DORMANCY_RELEASE_REQUEST = timedelta(days=7)
"""Then the freelancer has this long to request release; silence refunds the client."""

DORMANCY_RELEASE_ANSWER = timedelta(days=14)
"""Then the client has this long to approve or dispute; silence pays the freelancer."""
