"""Fee schedule figures from configuration: JSON-like values into a checked schedule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from decimal import Decimal
from typing import Any

from domain.errors import InvalidFeeSchedule
from domain.fees.methods import parse_withdrawal_method
from domain.fees.parsing import decimal, iso_date
from domain.fees.schedule import (
    _AMOUNT_FIELDS,
    _DATE_FIELDS,
    _METHOD_MAP_FIELDS,
    _RATE_FIELDS,
    _TEXT_FIELDS,
    _TIER_FIELDS,
    FeeSchedule,
    Tiers,
)


def _parse_tiers(raw: object, name: str) -> Tiers:
    if not isinstance(raw, list | tuple):
        raise InvalidFeeSchedule(f"{name} must be a list of [bound, value] pairs")
    parsed: list[tuple[Decimal | None, Decimal]] = []
    for i, pair in enumerate(raw):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise InvalidFeeSchedule(f"{name}[{i}] must be a [bound, value] pair")
        bound, value = pair
        parsed.append((None if bound is None else decimal(bound, f"{name}[{i}] bound"),
                       decimal(value, f"{name}[{i}] value")))
    return tuple(parsed)


def _parse_override(name: str, raw: object, base: FeeSchedule) -> object:
    if name in _TEXT_FIELDS:
        if not isinstance(raw, str):
            raise InvalidFeeSchedule(f"{name} must be a string")
        return raw
    if name in _RATE_FIELDS or name in _AMOUNT_FIELDS:
        return decimal(raw, name)
    if name in _DATE_FIELDS:
        return iso_date(raw, name)
    if name in _TIER_FIELDS:
        return _parse_tiers(raw, name)
    if name in _METHOD_MAP_FIELDS:
        if not isinstance(raw, Mapping):
            raise InvalidFeeSchedule(f"{name} must be an object of method -> amount")
        merged = dict(getattr(base, name))
        for key, value in raw.items():
            merged[parse_withdrawal_method(key)] = decimal(value, f"{name}[{key}]")
        return merged
    raise AssertionError(f"fee schedule field {name} has no parser")  # pragma: no cover


def schedule_from_overrides(cls: type[FeeSchedule], overrides: Mapping[str, Any]) -> FeeSchedule:
    """Builds a schedule from JSON-like config (decimal strings, ISO dates).

    Figures that differ from the defaults need a new ``version``: an event's
    schedule id must never point at two different sets of figures. Mapping
    figures (withdrawal fees, minimums) merge per method; tier lists replace.
    """
    if not isinstance(overrides, Mapping):
        raise InvalidFeeSchedule("fee schedule overrides must be an object")
    known = {f.name for f in fields(cls)}
    unknown = sorted(str(k) for k in overrides if k not in known)
    if unknown:
        raise InvalidFeeSchedule(f"unknown fee schedule keys: {', '.join(unknown)}")
    base = cls()
    kwargs: dict[str, Any] = {
        name: _parse_override(name, raw, base) for name, raw in overrides.items()
    }
    candidate = replace(base, **kwargs)
    changed = sorted(
        f.name for f in fields(cls)
        if f.name != "version" and getattr(candidate, f.name) != getattr(base, f.name)
    )
    if changed and candidate.version == base.version:
        raise InvalidFeeSchedule(
            f"overriding {', '.join(changed)} needs a new 'version' "
            f"(not {base.version!r})"
        )
    return candidate


def schedule_to_dict(schedule: FeeSchedule) -> dict[str, Any]:
    """Every figure, JSON-safe; ``from_overrides`` reads it back unchanged."""
    out: dict[str, Any] = {"version": schedule.version, "currency": schedule.currency}
    for name in _RATE_FIELDS:
        out[name] = str(getattr(schedule, name))
    for name in _AMOUNT_FIELDS:
        out[name] = str(getattr(schedule, name))
    for name in _DATE_FIELDS:
        out[name] = getattr(schedule, name).isoformat()
    for name in _TIER_FIELDS:
        out[name] = [[None if b is None else str(b), str(v)] for b, v in getattr(schedule, name)]
    for name in _METHOD_MAP_FIELDS:
        out[name] = {str(m): str(v) for m, v in getattr(schedule, name).items()}
    return out
