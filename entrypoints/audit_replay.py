"""``ledger audit replay --as-of TIME``: the books as of a moment, from the raw log alone.

Rebuilds every balance into a scratch SQLite file (``reconciliation.as_of``),
compares it with the live journal view account by account, prints every
difference and the replay's trial balance, and exits 1 when anything differs
or the replayed books do not balance. ``--keep FILE`` keeps the scratch store
for the auditor to query (``sqlite3 FILE 'SELECT * FROM account_balances'``);
otherwise it is deleted.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ledger.application import EscrowLedger
from projections.runner import ProjectionRunner
from reconciliation.as_of import AsOfReplay, replay_as_of


def parse_as_of(text: str) -> datetime:
    """ISO 8601 with a time zone (``2026-03-05T12:00:00Z``); a time without one is refused
    rather than guessed."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--as-of {text!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise ValueError(f"--as-of {text!r} has no time zone: add Z or +00:00")
    return moment


def run_replay(app: EscrowLedger, as_of: datetime | None, keep: Path | None) -> int:
    runner = ProjectionRunner(app)
    runner.catch_up()
    with tempfile.TemporaryDirectory(prefix="ledger-replay-") as tmp:
        scratch = keep if keep is not None else Path(tmp) / "scratch.sqlite"
        with Progress(TextColumn("replaying the log"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), transient=True,
                      disable=not sys.stderr.isatty()) as bar:
            task = bar.add_task("replay", total=None)
            report = replay_as_of(app, runner.queries, as_of, scratch,
                                  progress=lambda done, total: bar.update(
                                      task, completed=done, total=total))
        print_report(report, kept=keep is not None)
    return 0 if report.ok else 1


def print_report(report: AsOfReplay, *, kept: bool) -> None:
    console = Console(soft_wrap=True)
    moment = "now" if report.as_of is None else report.as_of.isoformat()
    console.print(f"replayed {report.events} event(s) up to position {report.position} as of "
                  f"{moment}: {report.postings} posting(s), {report.accounts} account(s)"
                  + (f"; scratch store kept at {report.scratch}" if kept else ""))
    if report.differences:
        table = Table("account", "currency", "replayed", "live projection", "difference")
        for d in report.differences:
            table.add_row(d.account, d.currency, str(d.replayed), str(d.live),
                          str(d.live - d.replayed))
        console.print(table)
    console.print(f"{len(report.differences)} difference(s) against the live projection; "
                  "replayed trial balance (debits - credits): "
                  + (", ".join(f"{c} {v}" for c, v in sorted(report.trial_balance.items()))
                     or "nothing posted"))
