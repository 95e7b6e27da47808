"""domain/balances"""
