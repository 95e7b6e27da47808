"""A reconciliation run from start to finish: parse, read the log, match, record.

Why one function for the CLI and the API: the same inputs must give the same
result however they arrive. Every file is parsed completely before anything is
recorded (a malformed file refuses the whole run: ``StatementError`` names the
file, line and field); the ledger's side is read from the raw log up to one
position; the breaks, counts and daily safeguarding are recorded in one command
(``record_reconciliation_run``), so a run is in the log with the SHA-256 of
every input and the rules' version.

The period a run covers is the span of dates its processor rows were created
(else its bank lines' booking dates). Ledger items a rule's window beyond it
may still match, but only items inside it are reported missing: a charge on the
last evening of the month the processor books on the 1st belongs to next
month's report.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from domain.deadlines import epoch_us
from ledger.application import EscrowLedger
from ledger.engine import CommandResult
from projections.journal import JournalQueries
from reconciliation import safeguarding
from reconciliation.as_of import replay_as_of
from reconciliation.ledger_side import ledger_items
from reconciliation.matching import FoundBreak, MatchResult, match
from reconciliation.model import BreakKind, LedgerItem, ParsedFile, Source, StatementLine
from reconciliation.rules import RuleSet, load_rules
from reconciliation.statements import parse_file


@dataclass(frozen=True)
class Prepared:
    """Everything a run records, before it is recorded (tests compare two of these)."""

    kind: str
    inputs: list[dict[str, Any]]
    rules: RuleSet
    as_of: str | None
    breaks: list[dict[str, Any]]
    summary: dict[str, Any]
    safeguarding: list[dict[str, Any]]


def parse_all(files: Sequence[tuple[str, bytes]]) -> list[ParsedFile]:
    """Every file parsed, or the first refusal raised: nothing half-imported."""
    return [parse_file(Path(name).name, data) for name, data in files]


def _period(lines: Sequence[StatementLine]) -> tuple[date, date] | None:
    processor = [x.booked for x in lines if x.source is Source.PROCESSOR]
    days = processor or [x.booked for x in lines]
    return (min(days), max(days)) if days else None


def _break_json(b: FoundBreak) -> dict[str, Any]:
    return {"kind": b.kind.value, "key": b.key, "amount": str(b.amount),
            "currency": b.currency, "rule": b.rule, "evidence": b.evidence}


def _outside(b: FoundBreak, items: dict[int, LedgerItem], first: date, last: date) -> bool:
    """A ledger item missing outside, dated beyond the period the files cover."""
    listed = b.evidence.get("items")
    if b.kind is not BreakKind.MISSING_OUTSIDE or not isinstance(listed, list) or not listed:
        return False
    found = [items.get(int(e.get("position", -1))) for e in listed if isinstance(e, dict)]
    return all(i is not None and not first <= i.effective <= last for i in found)


def _summary(result: MatchResult, period: tuple[date, date] | None,
             position: int, trust: Sequence[str]) -> dict[str, Any]:
    return {
        "period": None if period is None else [period[0].isoformat(), period[1].isoformat()],
        "position": position, "ledger_items": result.items, "statement_lines": result.lines,
        "trust_accounts": list(trust),
        "passes": [{"rule": p.rule, "pass": p.pass_name, "matches": p.matches,
                    "items": p.items, "lines": p.lines,
                    "amounts": {c: str(a) for c, a in p.amounts}} for p in result.passes],
        "excluded": [{"rule": e.rule, "type": e.kind, "currency": e.currency,
                      "count": e.count, "amount": str(e.amount), "net": str(e.net),
                      "reason": e.reason} for e in result.excluded],
    }


def _trust_accounts(parsed: Sequence[ParsedFile], named: Sequence[str]) -> list[str]:
    """The accounts named; else the only bank account the files cover; else none."""
    if named:
        return list(named)
    accounts = sorted({a for p in parsed for a in p.accounts})
    return accounts if len(accounts) == 1 else []


def prepare_external(app: EscrowLedger, queries: JournalQueries, parsed: Sequence[ParsedFile],
                     *, rules: RuleSet | None = None, trust_accounts: Sequence[str] = (),
                     progress: Callable[[int], None] | None = None) -> Prepared:
    rules = rules or load_rules()
    lines = [x for p in parsed for x in p.lines]
    position = queries.position()
    items = ledger_items(app, upto=position, progress=progress)
    period = _period(lines)
    window = timedelta(days=max((r.window_days for r in rules.rules), default=0))
    has_processor = any(x.source is Source.PROCESSOR for x in lines)
    if period is not None and has_processor:
        items = [i for i in items
                 if period[0] - window <= i.effective <= period[1] + window]
    else:
        items = []  # bank files alone: the ledger-to-processor question is not asked
    result = match(items, lines, rules)
    by_position = {i.position: i for i in items}
    breaks = [_break_json(b) for b in result.breaks
              if period is None or not _outside(b, by_position, *period)]
    trust = _trust_accounts(parsed, trust_accounts)
    balances = [b for p in parsed for b in p.balances]
    days = (safeguarding.daily(queries, position, balances, lines, trust)
            if trust else [])
    queries.require_still_past(position)
    for day in days:
        if day["shortfall"]:
            breaks.append(shortfall_break(day))
    kind = "bank" if any(p.accounts for p in parsed) else "processor"
    return Prepared(kind, [{"name": p.name, "format": p.format.value, "sha256": p.sha256,
                            "lines": len(p.lines)} for p in parsed],
                    rules, None, breaks, _summary(result, period, position, trust), days)


def shortfall_break(day: dict[str, Any]) -> dict[str, Any]:
    short = Decimal(day["owed_total"]) - Decimal(day["held"])
    return {"kind": BreakKind.SAFEGUARDING_SHORTFALL.value,
            "key": f"safeguarding:{day['day']}:{day['currency']}",
            "amount": str(short), "currency": day["currency"], "rule": "safeguarding",
            "evidence": {k: day[k] for k in ("day", "owed", "owed_total", "trust_closing",
                                             "in_transit", "held")}}


def prepare_internal(app: EscrowLedger, queries: JournalQueries, as_of: datetime | None, *,
                     progress: Callable[[int, int], None] | None = None) -> Prepared:
    """The ledger against itself as of a moment: the books balance in every currency, and
    the live projection equals a replay of the raw log (``reconciliation.as_of``)."""
    if as_of is not None:
        epoch_us(as_of)  # a naive or unrepresentable moment is refused before any work
    with tempfile.TemporaryDirectory(prefix="ledger-reconcile-") as tmp:
        replay = replay_as_of(app, queries, as_of, Path(tmp) / "scratch.sqlite",
                              progress=progress)
    breaks: list[dict[str, Any]] = []
    live_trial = queries.trial_balance(as_of)
    for currency, net in sorted(live_trial.items()):
        if net != 0:
            breaks.append({"kind": BreakKind.UNBALANCED_BOOKS.value,
                           "key": f"trial_balance:{currency}", "amount": str(net),
                           "currency": currency, "rule": "trial_balance",
                           "evidence": {"debits_minus_credits": str(net),
                                        "replayed": str(replay.trial_balance.get(
                                            currency, Decimal(0)))}})
    for d in replay.differences:
        breaks.append({"kind": BreakKind.PROJECTION_MISMATCH.value,
                       "key": f"projection:{d.account}:{d.currency}",
                       "amount": str(d.live - d.replayed), "currency": d.currency,
                       "rule": "replay", "evidence": {"account": d.account,
                                                      "replayed": str(d.replayed),
                                                      "live": str(d.live)}})
    summary = {"position": replay.position, "events": replay.events,
               "postings": replay.postings, "accounts": replay.accounts,
               "trial_balance": {c: str(v) for c, v in sorted(live_trial.items())}}
    return Prepared("internal", [], load_rules(), None if as_of is None else as_of.isoformat(),
                    breaks, summary, [])


def record(app: EscrowLedger, prepared: Prepared, *, actor: str,
           idempotency_key: str | None = None) -> CommandResult:
    return app.record_reconciliation_run(
        kind=prepared.kind, inputs=prepared.inputs, rules_version=prepared.rules.version,
        rules_sha256=prepared.rules.sha256, as_of=prepared.as_of, breaks=prepared.breaks,
        summary=prepared.summary, safeguarding=prepared.safeguarding, actor=actor,
        idempotency_key=idempotency_key)
