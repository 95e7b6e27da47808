"""The matching engine on hand-made lines and items, with exact figures.

The clean set is one week of the money flow the model describes: two charges,
a refund, a payout that comes back, a chargeback and the processor's own fee,
and one trust-account bank line per day equal to that day's sum of ``net``.
Each break test changes one thing in it and expects exactly one break.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciliation.matching import FoundBreak, ItemRef, LineRef, Match, MatchResult, match
from reconciliation.model import BreakKind, LedgerItem, Source, StatementLine
from reconciliation.rules import DEFAULT_RULES, LEDGER_KINDS, RuleSet, load_rules

D = Decimal
PROC = "processor_2025-03.csv"
BANK = "trust_2025-03.bai"
TRUST = "TRUST-1"
V1 = load_rules()


def day(n: int) -> date:
    return date(2025, 3, n)


def pline(line: int, ext: str, kind: str, amount: str, booked: int, available: int,
          ref: str = "", fee: str = "0.00", currency: str = "USD",
          file: str = PROC) -> StatementLine:
    return StatementLine(Source.PROCESSOR, file, line, ext, kind, D(amount), currency,
                         day(booked), day(available), ref, D(fee), D(amount) - D(fee))


def bline(line: int, ext: str, amount: str, on: int, account: str = TRUST) -> StatementLine:
    kind = "debit" if amount.startswith("-") else "credit"
    return StatementLine(Source.BANK, BANK, line, ext, kind, D(amount), "USD", day(on), day(on),
                         "PROCESSOR PAYOUT", account=account)


def item(pos: int, ref: str, kind: str, amount: str, on: int, event: str,
         currency: str = "USD") -> LedgerItem:
    return LedgerItem(ref, kind, D(amount), currency, day(on), pos, event)


ITEMS = [
    item(10, "pay_1", "charge", "500.00", 3, "MilestoneFunded"),
    item(11, "pay_2", "charge", "266.64", 3, "MilestoneFunded"),
    item(12, "rf_1", "refund", "-100.00", 4, "ClientRefunded"),
    item(13, "wd_1", "payout", "-300.00", 4, "WithdrawalSent"),
    item(14, "wd_1", "payout_failure", "300.00", 5, "WithdrawalFailed"),
    item(15, "pay_2", "chargeback", "-266.64", 5, "ChargebackReceived"),
]
PROCESSOR = [
    pline(2, "ch_1", "charge", "500.00", 3, 5, "pay_1", fee="15.30"),       # net 484.70
    pline(3, "ch_2", "charge", "266.64", 3, 5, "pay_2", fee="8.03"),        # net 258.61
    pline(4, "re_1", "refund", "-100.00", 4, 5, "rf_1"),                    # net -100.00
    pline(5, "po_1", "payout", "-300.00", 4, 4, "wd_1"),                    # net -300.00
    pline(6, "pf_1", "payout_failure", "300.00", 5, 6, "wd_1"),             # net 300.00
    pline(7, "cb_1", "chargeback", "-266.64", 5, 6, "pay_2", fee="15.00"),  # net -281.64
    pline(8, "fe_1", "fee", "-25.00", 6, 6),                                # net -25.00
]
BANK_LINES = [
    bline(1, "B1", "-300.00", 4),   # po_1
    bline(2, "B2", "643.31", 5),    # 484.70 + 258.61 - 100.00
    bline(3, "B3", "-6.64", 6),     # 300.00 - 281.64 - 25.00
]


def run(items: list[LedgerItem] | None = None, lines: list[StatementLine] | None = None,
        rules: RuleSet = V1) -> MatchResult:
    return match(ITEMS if items is None else items,
                 PROCESSOR + BANK_LINES if lines is None else lines, rules)


def only_break(result: MatchResult) -> FoundBreak:
    assert len(result.breaks) == 1, [(b.kind, b.evidence) for b in result.breaks]
    return result.breaks[0]


def swap(lines: list[StatementLine], ext: str, new: StatementLine | None) -> list[StatementLine]:
    out = [new if x.external_id == ext else x for x in lines]
    return [x for x in out if x is not None]


def totals(result: MatchResult) -> dict[str, tuple[int, int, int, dict[str, str]]]:
    return {p.rule: (p.matches, p.items, p.lines, {c: str(a) for c, a in p.amounts})
            for p in result.passes}


def test_the_clean_week_has_no_breaks_and_exact_matched_figures() -> None:
    result = run()
    assert result.breaks == ()
    assert (result.items, result.lines) == (6, 10)
    assert result.rules_version == "1"
    assert totals(result) == {
        "ledger_processor_reference": (6, 6, 6, {"USD": "400.00"}),
        "ledger_processor_amount_date": (0, 0, 0, {}),
        "processor_bank_batch": (3, 0, 10, {"USD": "336.67"}),
        "bank_many_to_one": (0, 0, 0, {}),
        "exclude_processor_fees": (0, 0, 0, {}),
    }
    assert result.matches[0] == Match("ledger_processor_reference", (ItemRef(10, "pay_1"),),
                                      (LineRef(PROC, 2, "ch_1"),), D("500.00"), "USD", D(0))
    one_to_many = [m for m in result.matches if m.lines[0] == LineRef(BANK, 2, "B2")]
    assert one_to_many == [Match("processor_bank_batch", (), (
        LineRef(BANK, 2, "B2"), LineRef(PROC, 2, "ch_1"), LineRef(PROC, 3, "ch_2"),
        LineRef(PROC, 4, "re_1")), D("643.31"), "USD", D("0.00"))]
    [fees] = result.excluded
    assert (fees.rule, fees.kind, fees.currency, fees.count, str(fees.amount), str(fees.net)) \
        == ("exclude_processor_fees", "fee", "USD", 1, "-25.00", "-25.00")
    assert "not client money" in fees.reason


def test_a_processor_line_the_ledger_lacks_is_missing_in_ledger() -> None:
    result = run(items=[i for i in ITEMS if i.reference != "rf_1"])
    found = only_break(result)
    assert (found.kind, str(found.amount), found.currency, found.rule) \
        == (BreakKind.MISSING_IN_LEDGER, "-100.00", "USD", "unmatched")
    assert found.evidence["side"] == "processor"
    assert found.evidence["lines"] == [{
        "source": "processor", "file": PROC, "line": 4, "external_id": "re_1", "kind": "refund",
        "amount": "-100.00", "currency": "USD", "booked": "2025-03-04",
        "value_date": "2025-03-05", "reference": "rf_1", "net": "-100.00"}]
    assert totals(result)["ledger_processor_reference"][:3] == (5, 5, 5)


def test_a_bank_line_no_transfer_explains_is_missing_in_ledger_naming_the_bank_file() -> None:
    found = only_break(run(lines=[*PROCESSOR, *BANK_LINES, bline(4, "B4", "12.34", 10)]))
    assert (found.kind, str(found.amount)) == (BreakKind.MISSING_IN_LEDGER, "12.34")
    assert (found.evidence["side"], found.evidence["file"]) == ("bank", BANK)
    [line] = found.evidence["lines"]
    assert (line["line"], line["external_id"], line["account"]) == (4, "B4", TRUST)


def test_a_ledger_item_no_line_carries_is_missing_outside_with_a_stable_key() -> None:
    extra = item(16, "pay_3", "charge", "75.00", 5, "MilestoneFunded")
    found = only_break(run(items=[*ITEMS, extra]))
    assert (found.kind, str(found.amount), found.evidence["missing_from"]) \
        == (BreakKind.MISSING_OUTSIDE, "75.00", "processor")
    assert found.evidence["items"] == [{
        "position": 16, "reference": "pay_3", "kind": "charge", "event_type": "MilestoneFunded",
        "amount": "75.00", "currency": "USD", "effective": "2025-03-05"}]
    assert found.key == hashlib.sha256(b"missing_outside\nitem:16:pay_3:charge").hexdigest()


def test_a_day_transfer_the_bank_statement_should_show_is_missing_outside() -> None:
    # Day 10 extends the statement's span, so day 5 (+2 days' window) is covered.
    lines = [*PROCESSOR, pline(9, "ch_9", "charge", "40.00", 8, 10, "pay_9"),
             *swap(BANK_LINES, "B2", None), bline(4, "B4", "40.00", 10)]
    found = only_break(run([*ITEMS, item(16, "pay_9", "charge", "40.00", 8, "X")], lines))
    assert (found.kind, str(found.amount), found.rule) \
        == (BreakKind.MISSING_OUTSIDE, "643.31", "processor_bank_batch")
    assert (found.evidence["missing_from"], found.evidence["available_on"]) \
        == ("bank", "2025-03-05")
    assert [x["external_id"] for x in found.evidence["lines"]] == ["ch_1", "ch_2", "re_1"]


def test_a_ledger_amount_differing_from_the_processor_is_an_amount_mismatch() -> None:
    found = only_break(run(items=[replace(ITEMS[0], amount=D("499.99")), *ITEMS[1:]]))
    assert (found.kind, str(found.amount), found.rule) \
        == (BreakKind.AMOUNT_MISMATCH, "0.01", "ledger_processor_reference")
    assert (found.evidence["expected"], found.evidence["found"], found.evidence["tolerance"]) \
        == ("499.99", "500.00", "0")
    assert [x["external_id"] for x in found.evidence["lines"]] == ["ch_1"]
    assert [x["position"] for x in found.evidence["items"]] == [10]


def test_a_bank_credit_differing_from_the_day_sum_of_net_is_an_amount_mismatch() -> None:
    short = bline(2, "B2", "643.30", 5)
    found = only_break(run(lines=[*PROCESSOR, *swap(BANK_LINES, "B2", short)]))
    assert (found.kind, str(found.amount), found.rule) \
        == (BreakKind.AMOUNT_MISMATCH, "-0.01", "processor_bank_batch")
    assert (found.evidence["expected"], found.evidence["found"], found.evidence["available_on"]) \
        == ("643.31", "643.30", "2025-03-05")
    assert [x["external_id"] for x in found.evidence["lines"]] \
        == ["B2", "ch_1", "ch_2", "re_1"]


def test_a_currency_differing_from_the_ledger_is_a_currency_mismatch_only() -> None:
    found = only_break(run(items=[ITEMS[0], replace(ITEMS[1], currency="EUR"), *ITEMS[2:]]))
    assert (found.kind, str(found.amount), found.currency) \
        == (BreakKind.CURRENCY_MISMATCH, "266.64", "EUR")
    assert (found.evidence["expected"], found.evidence["found"]) \
        == ("266.64 EUR", "266.64 USD")


def test_a_second_line_with_a_paired_reference_and_kind_is_a_duplicate() -> None:
    again = pline(9, "ch_1b", "charge", "500.00", 3, 5, "pay_1", fee="15.30")
    lines = [*PROCESSOR, again, *swap(BANK_LINES, "B2", bline(2, "B2", "1128.01", 5))]
    found = only_break(run(lines=lines))  # its net is in the day's transfer: no bank break
    assert (found.kind, str(found.amount), found.rule) \
        == (BreakKind.DUPLICATE, "500.00", "ledger_processor_reference")
    assert [x["external_id"] for x in found.evidence["lines"]] == ["ch_1b"]
    assert found.evidence["duplicate_of"]["external_id"] == "ch_1"
    assert [x["position"] for x in found.evidence["items"]] == [10]


def test_each_extra_line_is_its_own_duplicate_break() -> None:
    extras = [pline(9, "ch_1b", "charge", "500.00", 3, 9, "pay_1"),
              pline(10, "ch_1c", "charge", "500.00", 3, 9, "pay_1")]
    lines = [*PROCESSOR, *extras, *BANK_LINES, bline(4, "B4", "1000.00", 9)]
    result = run(lines=lines)
    assert [(b.kind, b.evidence["lines"][0]["external_id"]) for b in result.breaks] \
        == [(BreakKind.DUPLICATE, "ch_1b"), (BreakKind.DUPLICATE, "ch_1c")]
    assert len({b.key for b in result.breaks}) == 2


def test_a_processor_id_seen_twice_is_one_duplicate_and_not_counted_twice_at_the_bank() -> None:
    copy = replace(PROCESSOR[1], file="processor_2025-03_again.csv")
    found = only_break(run(lines=[*PROCESSOR, copy, *BANK_LINES]))
    assert (found.kind, found.rule, found.evidence["reason"]) \
        == (BreakKind.DUPLICATE, "input", "processor id seen twice")
    assert found.evidence["lines"][0]["file"] == "processor_2025-03_again.csv"
    assert found.evidence["duplicate_of"]["file"] == PROC


@pytest.mark.parametrize(("effective", "breaks"), [(28, 0), (27, 1)])
def test_a_pair_dated_beyond_the_window_is_a_timing_break_and_nothing_else(
        effective: int, breaks: int) -> None:
    moved = replace(ITEMS[0], effective=date(2025, 2, effective))
    result = run(items=[moved, *ITEMS[1:]])
    assert len(result.breaks) == breaks
    if breaks:
        found = result.breaks[0]
        assert (found.kind, str(found.amount)) == (BreakKind.TIMING, "500.00")
        assert (found.evidence["days_apart"], found.evidence["window_days"]) == (4, 3)
        assert (found.evidence["expected"], found.evidence["found"]) \
            == ("2025-02-27", "2025-03-03")


def rules_with(tmp_path: Path, old: str, new: str) -> RuleSet:
    text = DEFAULT_RULES.read_text()
    assert old in text
    path = tmp_path / "v-test.toml"
    path.write_text(text.replace(old, new, 1))
    return load_rules(path)


def test_a_tolerance_applies_only_where_a_rule_names_it(tmp_path: Path) -> None:
    tolerant = rules_with(tmp_path, "window_days = 3\n", 'window_days = 3\ntolerance = "0.01"\n')
    assert tolerant.rules[0].tolerance == D("0.01")
    assert tolerant.rules[2].tolerance is None
    cent_off = [replace(ITEMS[0], amount=D("499.99")), *ITEMS[1:]]
    assert only_break(run(items=cent_off)).kind is BreakKind.AMOUNT_MISMATCH
    result = run(items=cent_off, rules=tolerant)
    assert result.breaks == ()
    assert (result.matches[0].amount, str(result.matches[0].difference)) == (D("500.00"), "0.01")
    two_cents = [replace(ITEMS[0], amount=D("499.98")), *ITEMS[1:]]
    assert only_break(run(items=two_cents, rules=tolerant)).kind is BreakKind.AMOUNT_MISMATCH
    bank_cent_off = [*PROCESSOR, *swap(BANK_LINES, "B2", bline(2, "B2", "643.30", 5))]
    found = only_break(run(lines=bank_cent_off, rules=tolerant))  # the batch rule names none
    assert (found.kind, found.rule) == (BreakKind.AMOUNT_MISMATCH, "processor_bank_batch")


def test_a_transfer_split_into_two_bank_lines_matches_many_to_one() -> None:
    split = [bline(2, "B2a", "600.00", 5), bline(4, "B2b", "43.31", 5)]
    result = run(lines=[*PROCESSOR, *swap(BANK_LINES, "B2", None), *split])
    assert result.breaks == ()
    assert totals(result)["bank_many_to_one"] == (1, 0, 5, {"USD": "643.31"})
    assert totals(result)["processor_bank_batch"] == (2, 0, 6, {"USD": "-306.64"})
    [many] = [m for m in result.matches if m.rule == "bank_many_to_one"]
    assert [r.external_id for r in many.lines] == ["B2a", "B2b", "ch_1", "ch_2", "re_1"]


def test_a_bank_line_takes_the_closest_day_when_two_days_sum_the_same() -> None:
    extra_items = [item(16, "pay_5", "charge", "50.00", 8, "X"),
                   item(17, "pay_6", "charge", "50.00", 10, "X")]
    rows = [pline(9, "ch_5", "charge", "50.00", 8, 10, "pay_5"),
            pline(10, "ch_6", "charge", "50.00", 10, 12, "pay_6")]
    bank = [bline(4, "B12", "50.00", 12), bline(5, "B10", "50.00", 10)]
    result = run([*ITEMS, *extra_items], [*PROCESSOR, *rows, *BANK_LINES, *bank])
    assert result.breaks == ()
    pairs = [(m.lines[0].external_id, m.lines[1].external_id) for m in result.matches
             if m.lines[0].external_id in ("B10", "B12")]
    assert pairs == [("B12", "ch_6"), ("B10", "ch_5")]


def test_split_lines_on_two_accounts_are_not_summed_together() -> None:
    split = [bline(2, "B2a", "600.00", 5), bline(4, "B2b", "43.31", 5, account="TRUST-2")]
    result = run(lines=[*PROCESSOR, *swap(BANK_LINES, "B2", None), *split])
    assert [(b.kind, str(b.amount)) for b in result.breaks] \
        == [(BreakKind.AMOUNT_MISMATCH, "-43.31"), (BreakKind.MISSING_IN_LEDGER, "43.31")]


def test_an_empty_reference_adjustment_matches_on_amount_and_closest_date() -> None:
    won = [item(16, "pay_2", "adjustment", "266.64", 9, "ChargebackWon"),
           item(17, "pay_7", "adjustment", "266.64", 12, "ChargebackWon")]
    rows = [pline(9, "ad_1", "adjustment", "266.64", 11, 20),
            pline(10, "ad_2", "adjustment", "266.64", 10, 20)]
    result = run([*ITEMS, *won], [*PROCESSOR, *rows, *BANK_LINES, bline(4, "B4", "533.28", 20)])
    assert result.breaks == ()
    pairs = [(m.items[0].position, m.lines[0].external_id) for m in result.matches
             if m.rule == "ledger_processor_amount_date"]
    assert pairs == [(16, "ad_2"), (17, "ad_1")]  # 1 day apart each, not 2 and 1


def messy() -> tuple[list[LedgerItem], list[StatementLine]]:
    items = [replace(ITEMS[0], amount=D("499.99")), replace(ITEMS[1], currency="EUR"),
             *ITEMS[3:], item(16, "pay_3", "charge", "75.00", 5, "MilestoneFunded"),
             replace(ITEMS[2], effective=day(20))]
    lines = [*PROCESSOR, pline(9, "ch_1b", "charge", "500.00", 3, 5, "pay_1"),
             replace(PROCESSOR[3], file="processor_2025-03_again.csv"),
             bline(1, "B1", "-300.00", 4), bline(2, "B2a", "600.00", 5),
             bline(4, "B2b", "43.30", 5), bline(5, "B9", "1.00", 9, account="OPS")]
    return items, lines


def test_the_same_inputs_in_any_order_give_an_identical_result() -> None:
    items, lines = messy()
    first = match(items, lines, V1)
    assert Counter(b.kind for b in first.breaks) == {
        BreakKind.AMOUNT_MISMATCH: 2, BreakKind.CURRENCY_MISMATCH: 1, BreakKind.DUPLICATE: 2,
        BreakKind.TIMING: 1, BreakKind.MISSING_IN_LEDGER: 1, BreakKind.MISSING_OUTSIDE: 2}
    assert all(json.loads(json.dumps(b.evidence)) == b.evidence for b in first.breaks)
    for seed in range(5):
        rng = random.Random(seed)
        again = match(rng.sample(items, len(items)), rng.sample(lines, len(lines)), V1)
        assert again == first
        assert [b.key for b in again.breaks] == [b.key for b in first.breaks]


def test_the_shipped_rules_load_with_their_version_and_hash() -> None:
    assert V1.version == "1"
    assert V1.sha256 == hashlib.sha256(DEFAULT_RULES.read_bytes()).hexdigest()
    assert [(r.name, r.pass_name, r.window_days) for r in V1.rules] == [
        ("ledger_processor_reference", "ledger_processor_reference", 3),
        ("ledger_processor_amount_date", "ledger_processor_amount_date", 3),
        ("processor_bank_batch", "processor_bank_batch", 2),
        ("bank_many_to_one", "bank_many_to_one", 2),
        ("exclude_processor_fees", "exclude", 0)]
    assert V1.rules[1].kinds == ("adjustment",)
    assert V1.rules[4].types == ("fee",)
    assert all(r.tolerance is None and r.accounts == () for r in V1.rules)


@pytest.mark.parametrize(("old", "new", "message"), [
    ('pass = "bank_many_to_one"', 'pass = "bank_fuzzy"',
     "rule 'bank_many_to_one', key 'pass': unknown pass 'bank_fuzzy'"),
    ("window_days = 3\n", "window_days = 3\ntolerence = \"0.01\"\n",
     "rule 'ledger_processor_reference', key 'tolerence': unknown key"),
    ("window_days = 3\n", 'window_days = 3\ntolerance = "0.0x"\n',
     "rule 'ledger_processor_reference', key 'tolerance': not a decimal"),
    ("window_days = 3\n", "window_days = 3\ntolerance = 0.01\n",
     "rule 'ledger_processor_reference', key 'tolerance': must be a decimal string"),
    ("window_days = 3\n", 'window_days = 3\ntolerance = "-0.01"\n',
     "rule 'ledger_processor_reference', key 'tolerance': must be a finite amount"),
    ("window_days = 3\n", "window_days = -1\n",
     "rule 'ledger_processor_reference', key 'window_days': must not be negative"),
    ("window_days = 3\n", "window_days = 1.5\n",
     "rule 'ledger_processor_reference', key 'window_days': must be a whole number"),
    ("window_days = 3\n", "", "rule 'ledger_processor_reference', key 'window_days': missing"),
    ('kinds = ["adjustment"]', 'kinds = ["fee"]',
     "rule 'ledger_processor_amount_date', key 'kinds': unknown value 'fee'"),
    ('types = ["fee"]', 'types = []', "rule 'exclude_processor_fees', key 'types': must not be"),
    ('name = "bank_many_to_one"', 'name = "processor_bank_batch"',
     "rule 'processor_bank_batch', key 'name': used twice"),
    ('version = "1"', "version = 1", "key 'version' must be a non-empty string"),
    ('version = "1"', 'version = "1"\nowner = "finance"', "unknown top-level key 'owner'"),
])
def test_the_loader_refuses_a_bad_rules_file_naming_rule_and_key(
        tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^v-test\.toml: ") as refused:
        rules_with(tmp_path, old, new)
    assert message in str(refused.value)


SIGNS = {"charge": 1, "refund": -1, "chargeback": -1, "adjustment": 1, "payout": -1,
         "payout_failure": 1}


@st.composite
def clean_sets(draw: st.DrawFn) -> tuple[list[LedgerItem], list[StatementLine]]:
    items: list[LedgerItem] = []
    lines: list[StatementLine] = []
    blank_amounts: set[tuple[str, Decimal]] = set()
    for n in range(draw(st.integers(1, 25))):
        kind = draw(st.sampled_from(LEDGER_KINDS))
        currency = draw(st.sampled_from(["USD", "EUR"]))
        amount = D(draw(st.integers(1, 10**7))).scaleb(-2) * SIGNS[kind]
        effective = day(1) + timedelta(days=draw(st.integers(0, 40)))
        booked = effective + timedelta(days=draw(st.integers(-3, 3)))
        ref = f"ref-{n}"
        items.append(LedgerItem(ref, kind, amount, currency, effective, 7 * n + 1, "Event"))
        blank = kind == "adjustment" and (currency, amount) not in blank_amounts \
            and draw(st.booleans())  # processor rows that lose our reference
        if blank:
            blank_amounts.add((currency, amount))
        fee = D(draw(st.integers(0, 99))).scaleb(-2) if kind == "charge" else D("0.00")
        lines.append(StatementLine(Source.PROCESSOR, "p.csv", n + 2, f"tx-{n}", kind, amount,
                                   currency, booked, booked + timedelta(days=2),
                                   "" if blank else ref, fee, amount - fee))
    for n in range(draw(st.integers(0, 3))):
        lines.append(StatementLine(Source.PROCESSOR, "p.csv", 100 + n, f"fee-{n}", "fee",
                                   D("-1.50"), "USD", day(5), day(5), "", D(0), D("-1.50")))
    days: dict[tuple[str, date], Decimal] = {}
    for x in lines:
        assert x.value_date is not None
        assert x.net is not None
        days[(x.currency, x.value_date)] = days.get((x.currency, x.value_date), D(0)) + x.net
    for n, ((currency, on), net) in enumerate(sorted(days.items())):
        if net:
            lines.append(StatementLine(Source.BANK, "b.xml", n + 1, f"e-{n}", "credit", net,
                                       currency, on, on, "", account=f"TRUST-{currency}"))
    return items, draw(st.permutations(lines))


@settings(max_examples=200, deadline=None)
@given(clean_sets())
def test_any_clean_set_matches_every_item_once_with_no_breaks(
        data: tuple[list[LedgerItem], list[StatementLine]]) -> None:
    items, lines = data
    result = match(items, lines, V1)
    assert result.breaks == ()
    matched = Counter(ref.position for m in result.matches for ref in m.items)
    assert matched == Counter(i.position for i in items)
    assert set(matched.values()) == {1}
    bank_lines = sum(1 for x in lines if x.source is Source.BANK)
    assert sum(p.matches for p in result.passes if p.pass_name == "processor_bank_batch") \
        == bank_lines
