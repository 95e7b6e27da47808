"""The matching engine: ledger items and statement lines in, matches and breaks out.

Pure: no database, no clock, no files; the rules come in as data (see
``reconciliation/rules``). Why sorted inputs: a run must be repeatable, so the
same lines and items in any order give the same matches, the same breaks and the
same break keys (a finance user follows a break across re-runs by its key).

Two questions are asked of each processor line, separately: does the ledger
carry it (passes ``ledger_processor_*``, ``exclude``), and did its ``net``
arrive at the bank in the day's transfer (``processor_bank_batch``,
``bank_many_to_one``)? A ``fee`` row is excluded from the first and takes part
in the second. A processor ``id`` seen twice is the same row imported twice: it
is reported once as ``duplicate`` and kept out of both questions, so it cannot
double a day's sum. A second row with the same reference and type but its own
id is real money that moved: reported as ``duplicate`` against the ledger, but
its ``net`` stays in the day's transfer.

A batch rule's ``amount_mismatch`` is decided only after every rule has run, so
a transfer the bank split into several lines is not reported before
``bank_many_to_one`` has looked at it.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from reconciliation.model import BreakKind, LedgerItem, Source, StatementLine
from reconciliation.rules import Rule, RuleSet

UNMATCHED = "unmatched"
"""The ``rule`` of breaks reported at the end for what no rule matched."""
INPUT = "input"
"""The ``rule`` of a processor id seen twice (found before any rule runs)."""


@dataclass(frozen=True)
class LineRef:
    file: str
    line: int
    external_id: str


@dataclass(frozen=True)
class ItemRef:
    position: int
    reference: str


@dataclass(frozen=True)
class Match:
    """Lines and items that agree. ``amount`` is the statement side's: the processor row's
    amount, or the bank lines' total; ``difference`` is that minus what it was matched
    against (the ledger amount, or the processor rows' sum of net): zero unless the rule
    names a tolerance."""

    rule: str
    items: tuple[ItemRef, ...]
    lines: tuple[LineRef, ...]
    amount: Decimal
    currency: str
    difference: Decimal = Decimal(0)


@dataclass(frozen=True)
class FoundBreak:
    """A difference reported, never corrected. ``amount``: the found-minus-expected
    difference for ``amount_mismatch``; otherwise the amount of the line or item at issue."""

    kind: BreakKind
    key: str
    amount: Decimal
    currency: str
    rule: str
    evidence: dict[str, object]


@dataclass(frozen=True)
class Excluded:
    rule: str
    kind: str
    currency: str
    count: int
    amount: Decimal
    net: Decimal
    reason: str


@dataclass(frozen=True)
class PassTotals:
    rule: str
    pass_name: str
    matches: int
    items: int
    lines: int
    amounts: tuple[tuple[str, Decimal], ...]
    """Sum of ``Match.amount`` per currency, sorted by currency."""


@dataclass(frozen=True)
class MatchResult:
    rules_version: str
    rules_sha256: str
    items: int
    lines: int
    matches: tuple[Match, ...]
    breaks: tuple[FoundBreak, ...]
    excluded: tuple[Excluded, ...]
    passes: tuple[PassTotals, ...]


def match(items: Sequence[LedgerItem], lines: Sequence[StatementLine],
          rules: RuleSet) -> MatchResult:
    """Runs every rule in order over the inputs, then reports what is left."""
    return _Run(items, lines, rules).result()


def _line_order(x: StatementLine) -> tuple[object, ...]:
    return (x.source.value, x.file, x.line, x.external_id, x.kind, x.amount, x.currency,
            x.booked, x.value_date is None, x.value_date or date.min, x.reference, x.fee,
            x.net is None, x.net or 0, x.account)


def _item_order(x: LedgerItem) -> tuple[object, ...]:
    return (x.position, x.reference, x.kind, x.amount, x.currency, x.effective, x.event_type)


def _line_id(x: StatementLine) -> str:
    return f"line:{x.file}:{x.line}:{x.external_id}"


def _line_ev(x: StatementLine) -> dict[str, object]:
    side = {"account": x.account} if x.source is Source.BANK else {"net": str(_net(x))}
    return {"source": x.source.value, "file": x.file, "line": x.line,
            "external_id": x.external_id, "kind": x.kind, "amount": str(x.amount),
            "currency": x.currency, "booked": x.booked.isoformat(),
            "value_date": x.value_date.isoformat() if x.value_date else None,
            "reference": x.reference, **side}


def _item_ev(x: LedgerItem) -> dict[str, object]:
    return {"position": x.position, "reference": x.reference, "kind": x.kind,
            "event_type": x.event_type, "amount": str(x.amount), "currency": x.currency,
            "effective": x.effective.isoformat()}


def _net(x: StatementLine) -> Decimal:
    return x.net if x.net is not None else x.amount - x.fee


def _day(x: StatementLine) -> date:
    return x.value_date or x.booked


def _offsets(window: int) -> list[timedelta]:
    """Closest day first, the earlier of two equally close days first."""
    days = sorted(range(-window, window + 1), key=lambda d: (abs(d), d))
    return [timedelta(days=d) for d in days]


class _Group:
    """The processor rows of one currency that became available on one day."""

    def __init__(self, currency: str, day: date) -> None:
        self.currency, self.day = currency, day
        self.rows: list[int] = []
        self.net = Decimal(0)
        self.done = False


class _Run:
    def __init__(self, items: Sequence[LedgerItem], lines: Sequence[StatementLine],
                 rules: RuleSet) -> None:
        self.rules = rules
        self.items = sorted(items, key=_item_order)
        self.lines = sorted(lines, key=_line_order)
        self.item_done = [False] * len(self.items)
        self.ledger_done = [x.source is Source.BANK for x in self.lines]
        self.bank_done = [False] * len(self.lines)
        self.matches: list[Match] = []
        self.breaks: list[FoundBreak] = []
        self.keys: set[str] = set()
        self.excluded: dict[tuple[str, str, str], tuple[int, Decimal, Decimal]] = {}
        self.processor: list[int] = []
        self.bank = [i for i, x in enumerate(self.lines) if x.source is Source.BANK]
        self.groups: dict[tuple[str, date], _Group] = {}
        first: dict[str, int] = {}
        for i, x in enumerate(self.lines):
            if x.source is not Source.PROCESSOR:
                continue
            if x.external_id in first:
                self.ledger_done[i] = self.bank_done[i] = True
                original = self.lines[first[x.external_id]]
                self._break(BreakKind.DUPLICATE, INPUT, x.amount, x.currency, [x], [], {
                    "reason": "processor id seen twice", "duplicate_of": _line_ev(original)},
                    extra_ids=[_line_id(original)])
                continue
            first[x.external_id] = i
            self.processor.append(i)
            if x.value_date is not None:
                group = self.groups.setdefault((x.currency, x.value_date),
                                               _Group(x.currency, x.value_date))
                group.rows.append(i)
                group.net += _net(x)

    def _break(self, kind: BreakKind, rule: str, amount: Decimal, currency: str,
               lines: Sequence[StatementLine], items: Sequence[LedgerItem],
               extra: dict[str, object], extra_ids: Sequence[str] = ()) -> None:
        ids = sorted([_line_id(x) for x in lines] + list(extra_ids)
                     + [f"item:{x.position}:{x.reference}:{x.kind}" for x in items])
        base = hashlib.sha256("\n".join([kind.value, *ids]).encode()).hexdigest()
        key, n = base, 1
        while key in self.keys:  # the very same evidence twice (a file imported twice)
            n += 1
            key = f"{base}-{n}"
        self.keys.add(key)
        evidence: dict[str, object] = {"rule": rule, **extra,
                                       "lines": [_line_ev(x) for x in lines],
                                       "items": [_item_ev(x) for x in items]}
        self.breaks.append(FoundBreak(kind, key, amount, currency, rule, evidence))

    def _matched(self, rule: Rule, items: Sequence[int], lines: Sequence[int],
                 amount: Decimal, currency: str, difference: Decimal) -> None:
        self.matches.append(Match(
            rule.name,
            tuple(ItemRef(self.items[j].position, self.items[j].reference) for j in items),
            tuple(LineRef(self.lines[i].file, self.lines[i].line, self.lines[i].external_id)
                  for i in lines),
            amount, currency, difference))

    def _pair(self, rule: Rule, j: int, i: int) -> None:
        """Pairs item j with line i (both consumed) and reports what differs."""
        item, line = self.items[j], self.lines[i]
        self.item_done[j] = self.ledger_done[i] = True
        reported = len(self.breaks)
        if line.currency != item.currency:
            self._break(BreakKind.CURRENCY_MISMATCH, rule.name, item.amount, item.currency,
                        [line], [item], {"expected": f"{item.amount} {item.currency}",
                                         "found": f"{line.amount} {line.currency}"})
        elif not _within(line.amount - item.amount, rule.tolerance):
            self._break(BreakKind.AMOUNT_MISMATCH, rule.name, line.amount - item.amount,
                        line.currency, [line], [item],
                        {"expected": str(item.amount), "found": str(line.amount),
                         "tolerance": str(rule.tolerance or Decimal(0))})
        days = abs((line.booked - item.effective).days)
        if days > rule.window_days:
            self._break(BreakKind.TIMING, rule.name, line.amount, line.currency, [line], [item],
                        {"expected": item.effective.isoformat(), "found": line.booked.isoformat(),
                         "days_apart": days, "window_days": rule.window_days})
        if len(self.breaks) == reported:
            self._matched(rule, [j], [i], line.amount, line.currency, line.amount - item.amount)

    def _open_processor(self) -> list[int]:
        return [i for i in self.processor if not self.ledger_done[i]]

    def _by_reference(self, rule: Rule) -> None:
        index: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i in self._open_processor():
            if self.lines[i].reference:
                index[(self.lines[i].reference, self.lines[i].kind)].append(i)
        waiting: dict[tuple[str, str], list[int]] = defaultdict(list)
        for j, item in enumerate(self.items):
            if not self.item_done[j]:
                waiting[(item.reference, item.kind)].append(j)
        for key, js in waiting.items():
            rows = index.get(key)
            if not rows:
                continue
            for j, i in zip(js, rows, strict=False):
                self._pair(rule, j, i)
            for i in rows[len(js):]:
                self.ledger_done[i] = True
                first = self.lines[rows[0]]
                self._break(BreakKind.DUPLICATE, rule.name, self.lines[i].amount,
                            self.lines[i].currency, [self.lines[i]],
                            [self.items[j] for j in js],
                            {"reason": "same reference and kind as a line already paired",
                             "duplicate_of": _line_ev(first)}, extra_ids=[_line_id(first)])

    def _by_amount_date(self, rule: Rule) -> None:
        kinds, window = set(rule.kinds), rule.window_days
        buckets: dict[tuple[str, str, Decimal], list[tuple[int, int]]] = defaultdict(list)
        for i in self._open_processor():
            x = self.lines[i]
            if x.kind in kinds:
                buckets[(x.kind, x.currency, x.amount)].append((x.booked.toordinal(), i))
        for rows in buckets.values():
            rows.sort()
        candidates: list[tuple[int, int, int]] = []
        for j, item in enumerate(self.items):
            rows = buckets.get((item.kind, item.currency, item.amount), [])
            if self.item_done[j] or not rows:
                continue
            day = item.effective.toordinal()
            low = bisect_left(rows, (day - window, -1))
            high = bisect_right(rows, (day + window, len(self.lines)))
            candidates.extend((abs(o - day), j, i) for o, i in rows[low:high])
        for _, j, i in sorted(candidates):  # closest date, then position, then line
            if not self.item_done[j] and not self.ledger_done[i]:
                self._pair(rule, j, i)

    def _exclude(self, rule: Rule) -> None:
        types = set(rule.types)
        for i in self._open_processor():
            x = self.lines[i]
            if x.kind in types:
                self.ledger_done[i] = True
                key = (rule.name, x.kind, x.currency)
                count, amount, net = self.excluded.get(key, (0, Decimal(0), Decimal(0)))
                self.excluded[key] = (count + 1, amount + x.amount, net + _net(x))

    def _bank_open(self, rule: Rule, everything: bool = False) -> list[int]:
        """The rule's bank lines not yet matched (or all of them, ``everything``)."""
        return [i for i in self.bank if (everything or not self.bank_done[i])
                and (not rule.accounts or self.lines[i].account in rule.accounts)]

    def _bank_days(self, rule: Rule) -> dict[tuple[str, str, date], list[int]]:
        days: dict[tuple[str, str, date], list[int]] = defaultdict(list)
        for i in self._bank_open(rule):
            days[(self.lines[i].account, self.lines[i].currency, _day(self.lines[i]))].append(i)
        return days

    def _group_near(self, currency: str, day: date, window: int,
                    amount: Decimal | None, tolerance: Decimal | None) -> _Group | None:
        """The closest open group within the window (with that sum when ``amount`` is given)."""
        for offset in _offsets(window):
            group = self.groups.get((currency, day + offset))
            if group and not group.done and (
                    amount is None or _within(amount - group.net, tolerance)):
                return group
        return None

    def _batch(self, rule: Rule) -> None:
        for i in self._bank_open(rule):
            x = self.lines[i]
            group = self._group_near(x.currency, _day(x), rule.window_days, x.amount,
                                     rule.tolerance)
            if group is not None:
                group.done = self.bank_done[i] = True
                self._matched(rule, [], [i, *group.rows], x.amount, x.currency,
                              x.amount - group.net)

    def _many_to_one(self, rule: Rule) -> None:
        for (_, currency, day), rows in self._bank_days(rule).items():
            if len(rows) < 2:
                continue
            total = sum((self.lines[i].amount for i in rows), Decimal(0))
            group = self._group_near(currency, day, rule.window_days, total, None)
            if group is not None:
                group.done = True
                for i in rows:
                    self.bank_done[i] = True
                self._matched(rule, [], [*rows, *group.rows], total, currency,
                              total - group.net)

    def _batch_leftovers(self, rule: Rule) -> None:
        """After every rule: a bank day facing an open group is a mismatch; a group the
        bank statements should show but do not is missing outside."""
        for (_, currency, day), rows in self._bank_days(rule).items():
            group = self._group_near(currency, day, rule.window_days, None, None)
            if group is None:
                continue
            group.done = True
            for i in rows:
                self.bank_done[i] = True
            found = sum((self.lines[i].amount for i in rows), Decimal(0))
            self._break(BreakKind.AMOUNT_MISMATCH, rule.name, found - group.net, currency,
                        [self.lines[i] for i in rows + group.rows], [],
                        {"expected": str(group.net), "found": str(found),
                         "expected_from": "processor rows' sum of net",
                         "found_in": "bank", "available_on": group.day.isoformat(),
                         "tolerance": str(rule.tolerance or Decimal(0))})
        covered: dict[str, tuple[date, date]] = {}
        for i in self._bank_open(rule, everything=True):
            x = self.lines[i]
            low, high = covered.get(x.currency, (_day(x), _day(x)))
            covered[x.currency] = (min(low, _day(x)), max(high, _day(x)))
        for group in self.groups.values():
            span = covered.get(group.currency)
            if group.done or not group.net or span is None or not (
                    span[0] <= group.day
                    and group.day + timedelta(days=rule.window_days) <= span[1]):
                continue
            group.done = True
            self._break(BreakKind.MISSING_OUTSIDE, rule.name, group.net, group.currency,
                        [self.lines[i] for i in group.rows], [],
                        {"expected": str(group.net), "missing_from": "bank",
                         "available_on": group.day.isoformat(),
                         "reason": "no bank line for the day's transfer, though the bank "
                                   "statements cover the day"})

    def result(self) -> MatchResult:
        passes = {"ledger_processor_reference": self._by_reference,
                  "ledger_processor_amount_date": self._by_amount_date,
                  "processor_bank_batch": self._batch,
                  "bank_many_to_one": self._many_to_one,
                  "exclude": self._exclude}
        for rule in self.rules.rules:
            passes[rule.pass_name](rule)
        for rule in self.rules.rules:
            if passes[rule.pass_name] == self._batch:
                self._batch_leftovers(rule)
        for i in self._open_processor():
            x = self.lines[i]
            self._break(BreakKind.MISSING_IN_LEDGER, UNMATCHED, x.amount, x.currency, [x], [],
                        {"side": "processor", "file": x.file,
                         "reason": "no ledger item matched this processor line"})
        for i in self.bank:
            x = self.lines[i]
            if not self.bank_done[i]:
                self._break(BreakKind.MISSING_IN_LEDGER, UNMATCHED, x.amount, x.currency, [x],
                            [], {"side": "bank", "file": x.file,
                                 "reason": "no processor transfer matched this bank line"})
        for j, item in enumerate(self.items):
            if not self.item_done[j]:
                self._break(BreakKind.MISSING_OUTSIDE, UNMATCHED, item.amount, item.currency,
                            [], [item], {"missing_from": "processor",
                                         "reason": "no processor line matched this ledger item"})
        reasons = {r.name: r.reason for r in self.rules.rules}
        return MatchResult(
            rules_version=self.rules.version, rules_sha256=self.rules.sha256,
            items=len(self.items), lines=len(self.lines),
            matches=tuple(self.matches), breaks=tuple(self.breaks),
            excluded=tuple(
                Excluded(rule, kind, currency, count, amount, net, reasons[rule])
                for (rule, kind, currency), (count, amount, net) in sorted(self.excluded.items())),
            passes=tuple(_pass_totals(r, self.matches) for r in self.rules.rules))


def _pass_totals(rule: Rule, matches: Sequence[Match]) -> PassTotals:
    mine = [m for m in matches if m.rule == rule.name]
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for m in mine:
        sums[m.currency] += m.amount
    return PassTotals(rule.name, rule.pass_name, len(mine), sum(len(m.items) for m in mine),
                      sum(len(m.lines) for m in mine), tuple(sorted(sums.items())))


def _within(difference: Decimal, tolerance: Decimal | None) -> bool:
    return difference == 0 if tolerance is None else abs(difference) <= tolerance
