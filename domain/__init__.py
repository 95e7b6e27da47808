"""The pure model of escrow-ledger: money, fees, double entry and the aggregates.

Nothing here does I/O or reads the clock; every time is an argument.
"""
