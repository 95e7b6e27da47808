"""A reconciliation run as one HTML page a person reads: what matched, what broke, and why.

Why a static page: finance opens it from the API or a file, prints it, attaches
it to a close; it needs no script, no network and no style sheet beyond what it
carries. Every value is escaped. The daily safeguarding chart is inline SVG:
two bars a day, what the ledger owes users and what is held for them, the
held bar red on a day with a shortfall.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from html import escape
from typing import Any

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em; color: #1b1b1b; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #c8c8c8; padding: .25em .6em; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #116b2a; font-weight: 600; } .bad { color: #a4161a; font-weight: 600; }
.muted { color: #666; } code { font-size: .92em; }
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value))


def _table(header: Sequence[str], rows: Iterable[Sequence[object]],
           numeric: frozenset[int] = frozenset()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _evidence(b: dict[str, Any]) -> str:
    """The lines and ledger items behind a break, one short phrase each."""
    ev = b.get("evidence") or {}
    parts = []
    for line in ev.get("lines", []) or []:
        parts.append(f"{line.get('file')} line {line.get('line')} "
                     f"({line.get('kind')} {line.get('amount')} {line.get('currency')}, "
                     f"id {line.get('external_id')}, ref {line.get('reference') or '-'})")
    for item in ev.get("items", []) or []:
        parts.append(f"ledger position {item.get('position')} "
                     f"({item.get('kind')} {item.get('amount')} {item.get('currency')}, "
                     f"ref {item.get('reference')}, {item.get('effective')})")
    for key in ("reason", "expected", "found", "account", "replayed", "live", "day",
                "owed_total", "held", "trust_closing", "in_transit", "missing_from"):
        if key in ev and not isinstance(ev[key], dict | list):
            parts.append(f"{key.replace('_', ' ')}: {ev[key]}")
    return "; ".join(parts)


def _chart(days: Sequence[dict[str, Any]]) -> str:
    if not days:
        return '<p class="muted">No trust-account balance in this run: no safeguarding chart.</p>'
    top = max([Decimal(d["owed_total"]) for d in days] + [Decimal(d["held"]) for d in days]
              + [Decimal(1)])
    width, height, bar = 40 * len(days) + 60, 220, 14
    parts = [f'<svg role="img" aria-label="Daily safeguarding: owed against held" '
             f'width="{width}" height="{height + 40}" xmlns="http://www.w3.org/2000/svg">']
    for i, d in enumerate(days):
        x = 50 + 40 * i
        for j, (value, colour) in enumerate((
                (Decimal(d["owed_total"]), "#5470c6"),
                (Decimal(d["held"]), "#c23531" if d["shortfall"] else "#3ba272"))):
            h = int(height * value / top) if value > 0 else 0
            parts.append(f'<rect x="{x + j * bar}" y="{height - h}" width="{bar - 2}" '
                         f'height="{h}" fill="{colour}"><title>{_e(d["day"])} '
                         f'{"owed" if j == 0 else "held"} {_e(value)}</title></rect>')
        parts.append(f'<text x="{x}" y="{height + 15}" font-size="10">{_e(d["day"][5:])}</text>')
    parts.append(f'<text x="0" y="12" font-size="10">{_e(top)}</text></svg>')
    legend = ('<p class="muted">Blue: owed to users. Green: held (trust account closing + '
              'in transit from the processor). Red: held below owed.</p>')
    return "".join(parts) + legend


def render(run: dict[str, Any], breaks: Sequence[dict[str, Any]]) -> str:
    """The page for ``run`` (``run_summary_json``) with all of its ``breaks`` (``break_json``)."""
    summary = run.get("summary") or {}
    open_count = run.get("breaks_open", 0)
    verdict = ('<p class="ok">Clean: no break.</p>' if not breaks else
               f'<p class="bad">{len(breaks)} break(s), {open_count} open.</p>')
    inputs = _table(["file", "format", "lines", "SHA-256"],
                    [(i["name"], i["format"], i["lines"], i["sha256"]) for i in run["inputs"]],
                    frozenset({2}))
    passes = _table(
        ["rule", "matches", "ledger items", "statement lines", "amount matched"],
        [(p["rule"], p["matches"], p["items"], p["lines"],
          ", ".join(f"{a} {c}" for c, a in sorted(p["amounts"].items())) or "0")
         for p in summary.get("passes", [])], frozenset({1, 2, 3, 4}))
    excluded = _table(["rule", "type", "count", "amount", "net", "why"],
                      [(x["rule"], x["type"], x["count"], f"{x['amount']} {x['currency']}",
                        f"{x['net']} {x['currency']}", x["reason"])
                       for x in summary.get("excluded", [])], frozenset({2, 3, 4}))
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for b in breaks:
        by_kind.setdefault(b["kind"], []).append(b)
    sections = []
    for kind, found in sorted(by_kind.items()):
        rows = [(b["break_id"], f"{b['amount']} {b['currency']}", b["status"],
                 _evidence(b), (b.get("resolution") or {}).get("reason", ""))
                for b in found]
        sections.append(f"<h3>{_e(kind.replace('_', ' '))} ({len(found)})</h3>"
                        + _table(["break", "amount", "status", "evidence", "resolution"],
                                 rows, frozenset({1})))
    safeguarding = run.get("safeguarding") or []
    days = _table(["day", "currency", "owed", "trust closing", "in transit", "held",
                   "surplus"],
                  [(d["day"], d["currency"], d["owed_total"], d["trust_closing"],
                    d["in_transit"], d["held"], d["surplus"]) for d in safeguarding],
                  frozenset({2, 3, 4, 5, 6}))
    period = summary.get("period")
    return "".join([
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>Reconciliation {_e(run['run_id'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>Reconciliation run {_e(run['run_id'])}</h1>",
        f"<p>{_e(run['kind'])} run recorded {_e(run['recorded_at'])} by "
        f"{_e(run['recorded_by'])}; rules version {_e(run['rules']['version'])} "
        f"(<code>{_e(run['rules']['sha256'][:16])}</code>)"
        + (f"; period {_e(period[0])} to {_e(period[1])}" if period else "")
        + (f"; as of {_e(run['as_of'])}" if run.get("as_of") else "") + ".</p>",
        verdict, "<h2>Inputs</h2>", inputs if run["inputs"] else
        '<p class="muted">The ledger against itself: no file.</p>',
        "<h2>Matched</h2>", passes if summary.get("passes") else
        '<p class="muted">No matching in this run.</p>',
        "<h2>Excluded by rule</h2>", excluded if summary.get("excluded") else
        '<p class="muted">Nothing excluded.</p>',
        "<h2>Breaks</h2>", "".join(sections) or '<p class="ok">None.</p>',
        "<h2>Safeguarding</h2>", _chart(safeguarding), days if safeguarding else "",
        "</body></html>",
    ])
