"""domain/bookkeeping"""
