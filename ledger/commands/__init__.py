"""ledger/commands"""
