"""Finance's checks: the ledger against itself (and, later, against statements)."""
