"""domain/contracts"""
