"""``ledger reconcile processor|bank|internal``: a run from the command line, recorded like any.

Each verb parses its files completely first (a malformed file exits 2 naming
the file, line and field, with nothing recorded), reads the log with a progress
bar, records the run as events, prints a summary table and the open breaks,
writes the HTML report when asked (``--report FILE``), and exits 1 while the
run has open breaks.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ledger.application import EscrowLedger
from ledger.commands.reconciliation_runs import break_json, run_summary_json
from projections.runner import ProjectionRunner
from reconciliation import report, runs
from reconciliation.model import FileFormat, StatementError


def _files(paths: list[str]) -> list[tuple[str, bytes]]:
    return [(Path(p).name, Path(p).read_bytes()) for p in paths]


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}"),
                    TimeElapsedColumn(), transient=True, disable=not sys.stderr.isatty())


def run_reconcile(app: EscrowLedger, args: argparse.Namespace) -> int:
    console = Console(soft_wrap=True)
    if args.verb == "samples":
        from reconciliation.derived_statements import write_samples

        try:
            paths = write_samples(app, Path(args.directory))
        except ValueError as e:
            print(e, file=sys.stderr)
            return 2
        for path in paths:
            console.print(f"wrote {path}")
        return 0
    runner = ProjectionRunner(app)
    runner.catch_up()
    actor = args.actor or f"cli:{getpass.getuser()}"
    try:
        if args.verb == "internal":
            as_of = None if args.as_of is None else _as_of(args.as_of)
            with _progress() as bar:
                task = bar.add_task("replaying the log", total=None)
                prepared = runs.prepare_internal(
                    app, runner.queries, as_of,
                    progress=lambda done, total: bar.update(task, completed=done, total=total))
        else:
            statements = [args.file] if args.verb == "processor" else list(args.file)
            parsed = runs.parse_all(_files(statements))
            want_processor = args.verb == "processor"
            wrong = [p.name for p in parsed
                     if (p.format is FileFormat.PROCESSOR_CSV) != want_processor]
            if getattr(args, "processor", None):
                report_file = runs.parse_all(_files([args.processor]))
                wrong += [p.name for p in report_file
                          if p.format is not FileFormat.PROCESSOR_CSV]
                parsed += report_file
            if wrong:
                print(f"refused: {', '.join(wrong)}: not a {args.verb} file (--processor "
                      "takes the processor's CSV); nothing was recorded", file=sys.stderr)
                return 2
            with _progress() as bar:
                task = bar.add_task("reading the log", total=None)
                prepared = runs.prepare_external(
                    app, runner.queries, parsed, trust_accounts=args.trust_account or (),
                    progress=lambda done: bar.update(task, completed=done))
    except (StatementError, ValueError) as e:
        print(f"refused: {e}; nothing was recorded", file=sys.stderr)
        return 2
    result = runs.record(app, prepared, actor=actor)
    run = app.reconciliation_run(result.response["run_id"])
    summary = run_summary_json(run)
    breaks = [break_json(run, b) for b in run.breaks]
    print_summary(console, summary, breaks)
    if args.report:
        Path(args.report).write_text(report.render(summary, breaks), encoding="utf-8")
        console.print(f"report written to {args.report}")
    return 1 if summary["breaks_open"] else 0


def _as_of(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"--as-of {text!r} has no time zone: add Z or +00:00")
    return moment


def print_summary(console: Console, summary: dict[str, object],
                  breaks: list[dict[str, object]]) -> None:
    console.print(f"run {summary['run_id']} ({summary['kind']}), rules version "
                  f"{summary['rules']['version']}")  # type: ignore[index]
    inputs = Table("file", "format", "lines", "sha256")
    for i in summary["inputs"]:  # type: ignore[attr-defined]
        inputs.add_row(i["name"], i["format"], str(i["lines"]), i["sha256"][:16] + "…")
    if summary["inputs"]:
        console.print(inputs)
    passes = Table("rule", "matches", "items", "lines", "amount")
    inner = summary["summary"]
    for p in inner.get("passes", []):  # type: ignore[attr-defined]
        passes.add_row(p["rule"], str(p["matches"]), str(p["items"]), str(p["lines"]),
                       ", ".join(f"{a} {c}" for c, a in sorted(p["amounts"].items())))
    if inner.get("passes"):  # type: ignore[attr-defined]
        console.print(passes)
    table = Table("break", "kind", "amount", "rule")
    for b in breaks:
        if b["status"] == "open":
            table.add_row(str(b["break_id"]), str(b["kind"]),
                          f"{b['amount']} {b['currency']}", str(b["rule"]))
    if summary["breaks_open"]:
        console.print(table)
    console.print(f"{summary['breaks_total']} break(s), {summary['breaks_open']} open; by kind: "
                  f"{summary['breaks_by_kind'] or 'none'}")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser],
               func: Callable[[argparse.Namespace], int]) -> None:
    reconcile = sub.add_parser("reconcile", help="the ledger against the processor, the "
                               "bank, and itself; exit 1 while breaks remain open")
    verbs = reconcile.add_subparsers(dest="verb", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--report", metavar="FILE.html", help="also write the HTML report")
    common.add_argument("--actor", help="who runs it (default cli:<user>)")
    processor = verbs.add_parser("processor", parents=[common],
                                 help="the processor's settlement CSV against the ledger")
    processor.add_argument("file")
    bank = verbs.add_parser("bank", parents=[common], help="bank statements (BAI2, camt.053) "
                            "against the processor's transfers and safeguarding")
    bank.add_argument("file", nargs="+")
    bank.add_argument("--processor", metavar="CSV",
                      help="the processor report whose daily transfers the bank lines are")
    bank.add_argument("--trust-account", action="append",
                      help="the escrow trust account (repeat for several)")
    processor.set_defaults(trust_account=None)
    internal = verbs.add_parser("internal", parents=[common],
                                help="trial balance and projections against a replay")
    internal.add_argument("--as-of", help="ISO 8601 with a time zone (default now)")
    samples = verbs.add_parser("samples", help="write the processor report and trust-account "
                               "statements (BAI2, camt.053) this ledger's history implies")
    samples.add_argument("directory")
    for verb in (processor, bank, internal, samples):
        verb.set_defaults(func=func)
