"""The id of the HTTP request a command runs for, readable anywhere without importing ``api``.

The API sets it for the duration of each request (``api.request_id``); the
engine records it on the command's idempotency record, and log lines carry it.
Outside a request (the scheduler, the command line) it is None.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("escrow_ledger_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served in this context, or None outside one."""
    return _request_id.get()


@contextmanager
def request_id_set(request_id: str) -> Iterator[None]:
    """Makes ``request_id`` current until the block ends.

    Threads see it only when they run in a copy of this context, as the thread
    pool FastAPI runs sync routes in does.
    """
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)
