"""``ledger audit verify``: recompute the whole hash chain from the raw stored rows.

Streams the log (``ledger.audit_chain.verify`` reads 10,000 rows at a time, so
memory stays flat in the log's length), shows a rich progress bar on a
terminal, names the first position that does not match and exits 1; a clean
chain prints its head (keep it as a digest) and exits 0.
"""

from __future__ import annotations

import json
import sys

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ledger import audit_chain
from ledger.application import EscrowLedger


def verify_chain(app: EscrowLedger) -> int:
    with Progress(TextColumn("verifying the chain"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=True, disable=not sys.stderr.isatty(),
                  console=None) as bar:
        task = bar.add_task("verify", total=None)

        def progress(done: int, total_hint: int) -> None:
            bar.update(task, completed=done, total=total_hint)

        report = audit_chain.verify(app, progress=progress)
    if not report.ok:
        print(f"chain broken at position {report.first_bad}: {report.reason} "
              f"({report.checked} event(s) before it verified)")
        return 1
    print(f"chain verified: {report.checked} event(s); head "
          f"{json.dumps(audit_chain.head(app).as_json())}")
    return 0
