"""domain/fees"""
