"""Matching rules as versioned data: a TOML file per version, read and checked here.

Why data and not code: a reconciliation run records which rules decided it (the
file's ``version`` and the sha256 of its bytes), so a run can be explained and
repeated later even after the rules change. A version once used by a run is
never edited; a change is a new file (``v2.toml``) and new runs name it.

Why every key is checked: a misspelt key (``tolerence``) silently ignored would
turn an intended tolerance into an exact match, or the reverse, and nobody would
see it in the run's figures. So an unknown pass, an unknown or missing key, a
bad decimal or a negative window refuses the whole file with a ValueError that
names the rule and the key.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from reconciliation.model import PROCESSOR_TYPES

DEFAULT_RULES = Path(__file__).with_name("v1.toml")

LEDGER_KINDS = ("charge", "refund", "chargeback", "adjustment", "payout", "payout_failure")
"""The kinds a LedgerItem can have (the processor's words, less ``fee``)."""

_ALWAYS = frozenset({"name", "pass"})
_PASS_KEYS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    # pass name: (required keys, optional keys), besides name and pass
    "ledger_processor_reference": (frozenset({"window_days"}), frozenset({"tolerance"})),
    "ledger_processor_amount_date": (frozenset({"window_days", "kinds"}), frozenset()),
    "processor_bank_batch": (frozenset({"window_days"}), frozenset({"accounts", "tolerance"})),
    "bank_many_to_one": (frozenset({"window_days"}), frozenset({"accounts"})),
    "exclude": (frozenset({"types", "reason"}), frozenset()),
}
PASSES = tuple(_PASS_KEYS)

_Refuse = Callable[[str, str], ValueError]


@dataclass(frozen=True)
class Rule:
    """One ``[[rule]]`` table; parameters a pass does not take keep their empty defaults."""

    name: str
    pass_name: str
    window_days: int = 0
    tolerance: Decimal | None = None
    """None means exact: a tolerance applies only where a rule names one."""
    kinds: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    """Bank accounts the pass looks at; empty means every bank account."""
    types: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class RuleSet:
    version: str
    sha256: str
    """Of the rules file's bytes, recorded with every run."""
    rules: tuple[Rule, ...]


def load_rules(path: Path | None = None) -> RuleSet:
    """Reads and checks a rules file (default: the shipped ``v1.toml``); refuses it whole."""
    source = DEFAULT_RULES if path is None else path
    data = source.read_bytes()
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{source.name}: not a TOML rules file: {exc}") from exc
    unknown = sorted(set(document) - {"version", "rule"})
    if unknown:
        raise ValueError(f"{source.name}: unknown top-level key {unknown[0]!r}")
    version = document.get("version")
    if not isinstance(version, str) or not version.strip():
        raise ValueError(f"{source.name}: key 'version' must be a non-empty string")
    tables = document.get("rule")
    if not isinstance(tables, list) or not tables:
        raise ValueError(f"{source.name}: key 'rule' must be a non-empty list of [[rule]] tables")
    rules: list[Rule] = []
    for number, table in enumerate(tables, start=1):
        rule = _rule(source.name, number, table)
        if any(r.name == rule.name for r in rules):
            raise ValueError(f"{source.name}: rule {rule.name!r}, key 'name': used twice")
        rules.append(rule)
    return RuleSet(version=version, sha256=hashlib.sha256(data).hexdigest(), rules=tuple(rules))


def _rule(file: str, number: int, table: Any) -> Rule:
    if not isinstance(table, dict):
        raise ValueError(f"{file}: rule #{number} is not a table")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{file}: rule #{number}, key 'name': must be a non-empty string")

    def refuse(key: str, message: str) -> ValueError:
        return ValueError(f"{file}: rule {name!r}, key {key!r}: {message}")

    pass_name = table.get("pass")
    if pass_name not in _PASS_KEYS:
        raise refuse("pass", f"unknown pass {pass_name!r} (known: {', '.join(PASSES)})")
    required, optional = _PASS_KEYS[pass_name]
    for key in sorted(table):
        if key not in _ALWAYS | required | optional:
            raise refuse(key, f"unknown key for pass {pass_name!r}")
    for key in sorted(required):
        if key not in table:
            raise refuse(key, "missing")
    return Rule(
        name=name,
        pass_name=pass_name,
        window_days=_window(table, refuse),
        tolerance=_tolerance(table, refuse),
        kinds=_words(table, "kinds", LEDGER_KINDS, refuse),
        accounts=_words(table, "accounts", None, refuse, may_be_empty=True),
        types=_words(table, "types", PROCESSOR_TYPES, refuse),
        reason=_reason(table, refuse),
    )


def _window(table: dict[str, Any], refuse: _Refuse) -> int:
    value = table.get("window_days", 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise refuse("window_days", f"must be a whole number of days, not {value!r}")
    if value < 0:
        raise refuse("window_days", f"must not be negative ({value})")
    return value


def _tolerance(table: dict[str, Any], refuse: _Refuse) -> Decimal | None:
    if "tolerance" not in table:
        return None
    value = table["tolerance"]
    if not isinstance(value, str):
        raise refuse("tolerance", f"must be a decimal string such as \"0.01\", not {value!r}")
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        raise refuse("tolerance", f"not a decimal: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise refuse("tolerance", f"must be a finite amount of zero or more, not {value!r}")
    return amount


def _words(table: dict[str, Any], key: str, allowed: tuple[str, ...] | None, refuse: _Refuse,
           may_be_empty: bool = False) -> tuple[str, ...]:
    if key not in table:
        return ()
    value = table[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise refuse(key, "must be a list of non-empty strings")
    if not value and not may_be_empty:
        raise refuse(key, "must not be empty")
    if len(set(value)) != len(value):
        raise refuse(key, "lists a value twice")
    for word in value:
        if allowed is not None and word not in allowed:
            raise refuse(key, f"unknown value {word!r} (known: {', '.join(allowed)})")
    return tuple(value)


def _reason(table: dict[str, Any], refuse: _Refuse) -> str:
    if "reason" not in table:
        return ""
    value = table["reason"]
    if not isinstance(value, str) or not value.strip():
        raise refuse("reason", "must be a non-empty string")
    return value
