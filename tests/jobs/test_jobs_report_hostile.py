"""Hostile reports for `job weekly-digest --from-report`: one line on stderr, exit 2, nothing
written, within seconds and 200 MB; the command runs as cron runs it (tests/support/bounded.py).
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from bot.jobs.digest_from_report import MAX_ROWS, MAX_TAGS_PER_ROW
from storage.models import DigestNotice, EmailOutbox, JobRun
from tests.support import databases
from tests.support.bounded import environment, run_measured

HEADER = [
    "Ticket ID",
    "Customer Name",
    "Customer Email",
    "Status",
    "Date of last change",
    "Subject",
]
ZONE = "Europe/Berlin"


def today() -> str:
    return datetime.now(ZoneInfo(ZONE)).strftime("%d/%m/%Y")


def xlsx(path: Path, edit_sheet=lambda xml: xml, extra: dict[str, bytes] | None = None) -> Path:
    """A small valid report made by openpyxl, its sheet's XML edited by hand."""
    book = Workbook()
    book.active.append(HEADER)
    book.active.append(["1", "Anna", "anna@example.org", "Resolved", today(), "Printer"])
    made = io.BytesIO()
    book.save(made)
    with zipfile.ZipFile(made) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = edit_sheet(data)
            out.writestr(item, data)
        for name, data in (extra or {}).items():
            out.writestr(name, data)
    return path


def declare(ref: str):
    return lambda xml: re.sub(
        rb'<dimension ref="[^"]*" ?/>', f'<dimension ref="{ref}"/>'.encode(), xml
    )


def without_dimension(xml: bytes) -> bytes:
    return re.sub(rb'<dimension ref="[^"]*" ?/>', b"", xml)


def add_rows(rows: bytes):
    return lambda xml: without_dimension(xml).replace(b"</sheetData>", rows + b"</sheetData>")


def csv_text(*lines: str) -> str:
    return "\n".join([",".join(HEADER), *lines]) + "\n"


def hostile(tmp_path: Path, name: str) -> Path:
    if name == "xlsx-declares-A1:XFD1048576":  # about 5 KB
        return xlsx(tmp_path / "r.xlsx", declare("A1:XFD1048576"))
    if name == "xlsx-last-cell-XFD1048576":  # no dimension, one far cell: 10^6 rows to pad
        far = b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
        return xlsx(tmp_path / "r.xlsx", add_rows(far))
    if name == "xlsx-row-of-3-million-cells":
        return xlsx(
            tmp_path / "r.xlsx", add_rows(b'<row r="3">' + b'<c r="A3"/>' * 3_000_000 + b"</row>")
        )
    if name == "xlsx-shared-strings-of-40-MB":
        strings = b"<sst>" + b"<si><t>ab</t></si>" * (40 << 20 >> 4) + b"</sst>"
        return xlsx(tmp_path / "r.xlsx", extra={"xl/sharedStrings.xml": strings})
    if name == "xlsx-not-a-zip":
        path = tmp_path / "r.xlsx"
        path.write_text(csv_text())
        return path
    path = tmp_path / "r.csv"
    if name == "csv-field-of-200-KB":
        path.write_text(csv_text(f'1,Anna,anna@example.org,Resolved,{today()},"{"x" * 200_000}"'))
    elif name == "csv-in-latin-1":
        path.write_bytes(
            csv_text(f"1,Renée,renee@example.org,Resolved,{today()},Café").encode("latin-1")
        )
    elif name == "csv-line-of-5-million-commas":
        path.write_text(csv_text("," * 5_000_000))
    elif name == "csv-of-too-many-rows":
        path.write_text(
            csv_text(*[f"{n},A,a@example.org,Open,{today()},S" for n in range(MAX_ROWS + 1)])
        )
    return path


EXPECTED = {
    "xlsx-declares-A1:XFD1048576": "declares 1,048,576 rows (A1:XFD1048576)",
    "xlsx-last-cell-XFD1048576": f"more than {MAX_ROWS:,} rows",
    "xlsx-row-of-3-million-cells": f"a row with more than {MAX_TAGS_PER_ROW:,} cells",
    "xlsx-shared-strings-of-40-MB": "xl/sharedStrings.xml unpacks to more than 32 MB",
    "xlsx-not-a-zip": "not a readable XLSX file",
    "csv-field-of-200-KB": "line 2: field larger than field limit",
    "csv-in-latin-1": "not UTF-8 text (byte 0xe9)",
    "csv-line-of-5-million-commas": "line 2: longer than 1,048,576 characters",
    "csv-of-too-many-rows": f"more than {MAX_ROWS:,} rows",
}


def written(url: str) -> tuple[int, int, int]:
    ((runs, mails, notices),) = databases.fetch(
        url,
        select(
            select(func.count()).select_from(JobRun).scalar_subquery(),
            select(func.count()).select_from(EmailOutbox).scalar_subquery(),
            select(func.count()).select_from(DigestNotice).scalar_subquery(),
        ),
    )
    return runs, mails, notices


@pytest.mark.parametrize("name", list(EXPECTED))
def test_hostile_report_exits_2_in_one_line_fast_and_small(name, db_url, tmp_path) -> None:
    path = hostile(tmp_path, name)

    run = run_measured(
        "job",
        "weekly-digest",
        "--from-report",
        str(path),
        env=environment(db_url, TIMEZONE=ZONE),
        cwd=tmp_path,
    )

    assert run.returncode == 2, run.stderr[-2000:]
    [line] = run.stderr.strip().splitlines()
    assert line.startswith(f"job weekly-digest: {path.name}")
    assert EXPECTED[name] in line
    assert run.seconds < 10 and run.max_rss_mb < 200, (run.seconds, run.max_rss_mb)
    assert written(db_url) == (0, 0, 0)


def test_wide_declared_sheet_with_few_rows_is_read(db_url, tmp_path) -> None:
    path = xlsx(tmp_path / "r.xlsx", declare("A1:XFD3"))

    run = run_measured(
        "job",
        "weekly-digest",
        "--dry-run",
        "--from-report",
        str(path),
        env=environment(db_url, TIMEZONE=ZONE),
        cwd=tmp_path,
    )

    assert run.returncode == 0, run.stderr[-2000:]
    assert "would mail 1 customer(s) about 1 ticket(s)" in run.stdout
    assert run.max_rss_mb < 200
