"""The HTTP API: translates requests into ledger commands and queries, and back."""

from api.main import create_app

__all__ = ["create_app"]
