"""Connects: the freelancer's bidding currency, a second unit of account."""
