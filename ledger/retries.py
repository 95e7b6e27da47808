"""How a command that lost a race waits before deciding again."""

from __future__ import annotations

import random
import time

MAX_ATTEMPTS = 12
BACKOFF_BASE_SECONDS = 0.002
BACKOFF_CAP_SECONDS = 0.05


def pause_after_conflict(attempt: int) -> None:
    """A random pause (full jitter, 0 to 4, 8, 16... ms, capped at 50 ms) before deciding again.

    Why: many writers racing on one aggregate (a dozen withdrawals from one
    balance, sent at once to two API processes) used to retry in lockstep, each
    round letting one through, so with 5 immediate attempts a third of them
    were refused as ``concurrency-conflict`` although the balance covered them
    all. Spreading the retries out, and allowing 12, lets every racer the state
    allows through; each conflict means another command succeeded, so the
    attempts only run out under a dozen or more simultaneous writers to one
    aggregate, and the worst case adds about 0.4 s.
    """
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** attempt)
    time.sleep(random.uniform(0, ceiling))  # noqa: S311 - a pause, not a secret
