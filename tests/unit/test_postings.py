from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st
from moneyed import Money

from domain.bookkeeping import accounts
from domain.bookkeeping.postings import JournalEntry, Posting, Side, credit, debit
from domain.errors import AccountNotFound, UnbalancedEntry
from domain.money import money

C = UUID("11111111-1111-4111-8111-111111111111")
M = UUID("22222222-2222-4222-8222-222222222222")
ESCROW = accounts.escrow(C, M)


def usd(a: str):
    return money(a, "USD")


def test_a_balanced_entry_is_accepted():
    entry = JournalEntry.of("fund", [
        debit(accounts.PROCESSOR_CLEARING, usd("534.95")),
        credit(ESCROW, usd("500.00")),
        credit("revenue:marketplace_fee", usd("25.00")),
        credit(accounts.deferred_initiation_fee(C), usd("9.95")),
    ])
    assert entry.amount_for(accounts.PROCESSOR_CLEARING) == usd("534.95").amount


def test_an_entry_off_by_one_cent_is_refused():
    with pytest.raises(UnbalancedEntry):
        JournalEntry.of("bad", [debit(accounts.PROCESSOR_CLEARING, usd("10.00")),
                                credit(ESCROW, usd("9.99"))])


def test_balance_is_checked_per_currency_not_in_total():
    with pytest.raises(UnbalancedEntry):
        JournalEntry.of("bad", [
            debit(accounts.PROCESSOR_CLEARING, usd("10.00")),
            credit(ESCROW, money("10.00", "EUR")),
        ])


def test_postings_must_be_positive_amounts_on_one_side():
    with pytest.raises(UnbalancedEntry):
        Posting(ESCROW, Side.DEBIT, usd("0"))
    with pytest.raises(UnbalancedEntry):
        Posting(ESCROW, Side.DEBIT, usd("-5"))


@pytest.mark.parametrize("account", [
    "petty-cash", "escrow:x", "escrow:c:m", "client:", "client:acme", "client:acme:wallet",
    "freelancer:ada:pending:extra", "revenue:tips", f"escrow:{C}", "processor:clearing2",
    "freelancer:a:b:pending",
])
def test_accounts_outside_the_chart_are_refused(account):
    with pytest.raises(AccountNotFound):
        debit(account, usd("1"))


def test_account_kinds_decide_the_normal_side():
    assert accounts.kind_of("processor:clearing").debit_normal
    assert not accounts.kind_of(ESCROW).debit_normal
    assert not accounts.kind_of("revenue:service_fee").debit_normal
    assert accounts.kind_of("client:acme:funding_source").debit_normal
    assert not accounts.kind_of("client:acme:credit").debit_normal


def test_an_entry_round_trips_through_its_stored_form():
    entry = JournalEntry.of("x", [debit("processor:clearing", usd("1.00")),
                                  credit(ESCROW, usd("1.00"))])
    assert JournalEntry.from_dict(entry.to_dict()) == entry


@given(st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=10))
def test_a_debit_split_across_credits_balances_exactly(cents):
    total = sum(cents)
    entry = JournalEntry.of("split", [
        debit("processor:clearing", Money(Decimal(total).scaleb(-2), "USD")),
        *(credit(accounts.escrow(C, uuid4()), Money(Decimal(c).scaleb(-2), "USD"))
          for c in cents),
    ])
    assert sum(p.signed for p in entry.postings) == 0
