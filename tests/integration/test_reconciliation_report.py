"""The run report as a person sees it: rendered by headless Chromium, its text read back.

Chromium prints the page to PDF and ``pdftotext`` reads what was drawn, so a
figure hidden by the page (or never rendered) fails the test. Debian's
``chromium`` and ``poppler-utils``; ``.ci/run`` installs them and sets
``LEDGER_REQUIRE_CHROMIUM=1`` so CI fails rather than skips without them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from ledger.application import EscrowLedger
from ledger.clock import FakeClock
from ledger.commands.reconciliation_runs import break_json, run_summary_json
from projections.runner import ProjectionRunner
from reconciliation import report, runs
from reconciliation.derived_statements import processor_rows, trust_days
from reconciliation.statements.bai2_statement import write_bai2_days
from reconciliation.statements.processor_csv import write_processor_csv
from tests.integration.reconciliation_support import simulate_month


def browser() -> tuple[str, str]:
    chromium, pdftotext = shutil.which("chromium"), shutil.which("pdftotext")
    if chromium and pdftotext:
        return chromium, pdftotext
    if os.environ.get("LEDGER_REQUIRE_CHROMIUM") == "1":
        pytest.fail("chromium and pdftotext are required (LEDGER_REQUIRE_CHROMIUM=1)")
    pytest.skip("SKIPPED LOUDLY: no chromium/pdftotext here; install Debian's chromium and "
                "poppler-utils to check the report as rendered")


def rendered_text(html: Path, tmp: Path) -> str:
    chromium, pdftotext = browser()
    pdf = tmp / "report.pdf"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                    "--no-pdf-header-footer", f"--user-data-dir={tmp / 'profile'}",
                    f"--print-to-pdf={pdf}", html.as_uri()],
                   check=True, capture_output=True, timeout=120)
    out = subprocess.run([pdftotext, "-layout", str(pdf), "-"], check=True,
                         capture_output=True, text=True, timeout=60)
    return " ".join(out.stdout.split())


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_person_sees_the_breaks_their_evidence_and_the_shortfall(
        app: EscrowLedger, clock: FakeClock, projector: ProjectionRunner,
        tmp_path: Path) -> None:
    browser()
    simulate_month(app, clock, projector)
    rows, _created = processor_rows(app)
    stranger = rows[0].__class__(**{**rows[0].__dict__, "external_id": "txn_stranger",
                                    "reference": "pay_" + "0" * 32 + "_1"})
    days = trust_days([*rows, stranger], min(r.booked for r in rows),
                      max(r.value_date for r in rows if r.value_date),
                      opening=Decimal("-130.00"))
    files = [("processor-2026-03.csv", write_processor_csv([*rows, stranger])),
             ("trust-2026-03.bai2", write_bai2_days(days))]
    recorded = runs.record(app, runs.prepare_external(app, projector.queries,
                                                      runs.parse_all(files)), actor="finance")
    run = app.reconciliation_run(recorded.response["run_id"])
    page = tmp_path / "report.html"
    page.write_text(report.render(run_summary_json(run),
                                  [break_json(run, b) for b in run.breaks]), encoding="utf-8")

    text = rendered_text(page, tmp_path)
    assert f"Reconciliation run {run.run_id}" in text
    assert "2 break(s), 2 open." in text
    assert "processor-2026-03.csv" in text
    assert "trust-2026-03.bai2" in text
    assert "ledger_processor_reference 40 40 40 5154.20 USD" in text
    assert "missing in ledger (1)" in text
    assert "processor-2026-03.csv line 43" in text  # the stranger, after 41 rows and a header
    assert "safeguarding shortfall (1)" in text
    # owed 90.00 on 2 March; held -130.00 + 212.92 in transit (the stranger's 106.46 too)
    shortfall = text.split("safeguarding shortfall (1)")[1].split("Safeguarding")[0]
    assert "7.08" in shortfall
    assert "day: 2026-03-02" in shortfall
    assert "2026-03-02 USD 90.00 -130.00 212.92 82.92 -7.08" in text
    assert "Red: held below owed." in text
