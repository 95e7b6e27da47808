"""``ledger reconcile``: samples, processor, bank and internal runs, exit codes, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoints.cli import main
from ledger.application import EscrowLedger
from ledger.settings import store_from_url


def log_position(url: str) -> int:
    app = EscrowLedger(store_from_url(url).env)
    try:
        return app.position()
    finally:
        app.close()


def test_samples_reconcile_clean_and_an_edited_line_exits_1_until_resolved(
        database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    assert main(["reconcile", "samples", str(tmp_path / "none")]) == 2  # nothing charged yet
    assert main(["seed-demo"]) == 0
    assert main(["reconcile", "samples", str(tmp_path)]) == 0
    csv, bai2, camt = (tmp_path / n for n in ("processor.csv", "trust.bai2",
                                               "trust.camt053.xml"))
    capsys.readouterr()

    assert main(["reconcile", "processor", str(csv)]) == 0
    assert "0 break(s), 0 open" in capsys.readouterr().out
    report = tmp_path / "bank.html"
    assert main(["reconcile", "bank", str(bai2), "--processor", str(csv),
                 "--report", str(report)]) == 0
    assert "Clean: no break." in report.read_text()
    assert main(["reconcile", "bank", str(camt), "--processor", str(csv)]) == 0
    assert main(["reconcile", "internal", "--as-of", "2100-01-01T00:00:00Z"]) == 0
    assert "0 break(s), 0 open" in capsys.readouterr().out

    lines = csv.read_text().splitlines()
    lines[1] = lines[1].replace(",usd,", ",eur,")
    csv.write_text("\n".join(lines) + "\n")
    assert main(["reconcile", "processor", str(csv)]) == 1
    out = capsys.readouterr().out
    assert "currency_mismatch" in out
    assert "1 break(s), 1 open" in out


def test_a_refused_file_exits_2_naming_the_line_and_records_nothing(
        database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    assert main(["seed-demo"]) == 0
    assert main(["reconcile", "samples", str(tmp_path)]) == 0
    csv = tmp_path / "processor.csv"
    csv.write_text(csv.read_text().replace(",usd,", ",usd,x", 1))
    before = log_position(database_url)
    capsys.readouterr()
    assert main(["reconcile", "processor", str(csv)]) == 2
    err = capsys.readouterr().err
    assert "processor.csv, line 2" in err
    assert "nothing was recorded" in err
    assert main(["reconcile", "processor", str(tmp_path / "trust.bai2")]) == 2
    assert "not a processor file" in capsys.readouterr().err
    assert main(["reconcile", "internal", "--as-of", "2026-03-05"]) == 2
    assert log_position(database_url) == before
