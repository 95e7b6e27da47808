import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import accounts
from domain.errors import AccountNotFound, UnbalancedEntry
from domain.money import money
from domain.postings import JournalEntry, Posting, Side, credit, debit


def usd(a: str):
    return money(a, "USD")


def test_a_balanced_entry_is_accepted():
    entry = JournalEntry.of("fund", [
        debit(accounts.PROCESSOR_CLEARING, usd("534.95")),
        credit("escrow:c:m", usd("500.00")),
        credit("revenue:marketplace_fee", usd("25.00")),
        credit("deferred:initiation_fee:c", usd("9.95")),
    ])
    assert entry.amount_for(accounts.PROCESSOR_CLEARING) == usd("534.95").amount


def test_an_entry_off_by_one_cent_is_refused():
    with pytest.raises(UnbalancedEntry):
        JournalEntry.of("bad", [debit(accounts.PROCESSOR_CLEARING, usd("10.00")),
                                credit("escrow:c:m", usd("9.99"))])


def test_balance_is_checked_per_currency_not_in_total():
    with pytest.raises(UnbalancedEntry):
        JournalEntry.of("bad", [
            debit(accounts.PROCESSOR_CLEARING, usd("10.00")),
            credit("escrow:c:m", money("10.00", "EUR")),
        ])


def test_postings_must_be_positive_amounts_on_one_side():
    with pytest.raises(UnbalancedEntry):
        Posting("escrow:c:m", Side.DEBIT, usd("0"))
    with pytest.raises(UnbalancedEntry):
        Posting("escrow:c:m", Side.DEBIT, usd("-5"))


def test_accounts_outside_the_chart_are_refused():
    with pytest.raises(AccountNotFound):
        debit("petty-cash", usd("1"))


def test_account_kinds_decide_the_normal_side():
    assert accounts.kind_of("processor:clearing").debit_normal
    assert not accounts.kind_of("escrow:c:m").debit_normal
    assert not accounts.kind_of("revenue:service_fee").debit_normal
    assert accounts.kind_of("client:acme:funding_source").debit_normal
    assert not accounts.kind_of("client:acme:credit").debit_normal


def test_an_entry_round_trips_through_its_stored_form():
    entry = JournalEntry.of("x", [debit("processor:clearing", usd("1.00")),
                                  credit("escrow:c:m", usd("1.00"))])
    assert JournalEntry.from_dict(entry.to_dict()) == entry


@given(st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=10))
def test_a_debit_split_across_credits_balances_exactly(cents):
    total = sum(cents)
    entry = JournalEntry.of("split", [
        debit("processor:clearing", money(total, "USD").__class__(
            money(total, "USD").amount / 100, "USD")),
        *(credit(f"escrow:c:{i}", money(c, "USD").__class__(money(c, "USD").amount / 100,
                                                            "USD"))
          for i, c in enumerate(cents)),
    ])
    assert sum(p.signed for p in entry.postings) == 0
