"""The weekly digest on another system's status report (CSV, XLSX): the known faults."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import time_machine
from openpyxl import Workbook

from bot.jobs import run_job
from bot.jobs.digest_from_report import parse_day_first
from tests.jobs.factories import count, job_runs, outbox

# Monday 7 December 2026, 09:00 Berlin: ISO week 2026-W50.
MONDAY = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
HEADER = [
    "Ticket ID",
    "Customer Name",
    "Customer Email",
    "Status",
    "Date of last change",
    "Subject",
]


def write_csv(path, rows):
    lines = [",".join(HEADER)] + [",".join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_xlsx(path, rows):
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


async def run(resources, path, **kwargs) -> tuple[int, str]:
    out = io.StringIO()
    status = await run_job("weekly-digest", resources, from_report=path, out=out, **kwargs)
    return status, out.getvalue()


def test_parse_day_first_reads_day_before_month():
    assert parse_day_first("03/12/2026") == (date(2026, 12, 3), None)
    assert parse_day_first("3.12.26 14:05") == (date(2026, 12, 3), datetime(2026, 12, 3, 14, 5))
    assert parse_day_first("2026-12-03") == (date(2026, 12, 3), None)
    assert parse_day_first(datetime(2026, 12, 3, 0, 0)) == (date(2026, 12, 3), None)


async def test_report_digest_csv_groups_by_email_and_reads_days_first(resources, tmp_path):
    rows = [
        ["101", "Anna Smith", "anna@example.org", "Resolved", "03/12/2026", "Login broken"],
        ["102", "Anna Smith", "anna.smith@example.net", "Closed", "04/12/2026", "Other Anna"],
        ["103", "anna smith", "ANNA@example.org", "Closed", "05/12/2026", "Second of Anna"],
        ["104", "Bob", "bob@example.org", "Open", "05/12/2026", "Not solved"],
        # 12 March if read month-first: outside the window, so it would be lost
        [
            "105",
            "Carl",
            "carl@example.org",
            "Closed",
            "12/03/2026".replace("12/03", "03/12"),
            "Day first",
        ],
        ["106", "Dora", "dora@example.org", "Closed", "11/03/2026", "Months ago (11 March)"],
    ]
    path = write_csv(tmp_path / "report.csv", rows)
    with time_machine.travel(MONDAY, tick=False):
        status, printed = await run(resources, path)
    assert status == 0, printed
    mails = {r.recipient.lower(): r.text for r in await outbox(resources.session_factory)}
    assert set(mails) == {"anna@example.org", "anna.smith@example.net", "carl@example.org"}
    assert "#101 Login broken" in mails["anna@example.org"]
    assert "#103 Second of Anna" in mails["anna@example.org"]
    assert "Other Anna" not in mails["anna@example.org"]
    assert "#102 Other Anna" in mails["anna.smith@example.net"]
    assert "Login broken" not in mails["anna.smith@example.net"]
    assert "#105 Day first" in mails["carl@example.org"]


async def test_report_digest_xlsx_next_week_skips_notified_and_keeps_same_day(resources, tmp_path):
    last_run_day = MONDAY.date()
    first = [
        ("201", "Eve", "eve@example.org", "Closed", "05/12/2026", "Before the run"),
    ]
    with time_machine.travel(MONDAY, tick=False):
        status, _ = await run(resources, write_xlsx(tmp_path / "w50.xlsx", first))
    assert status == 0
    second = [
        *first,  # reported closed again: not mailed twice
        # closed at 17:30 on the day of the last run (after it): must not be skipped
        (
            "202",
            "Fay",
            "fay@example.org",
            "Closed",
            datetime.combine(last_run_day, datetime.min.time()).replace(hour=17, minute=30),
            "Later that Monday",
        ),
        ("203", "Gil", "gil@example.org", "Resolved", "07/12/2026", "Same day, date only"),
    ]
    with time_machine.travel(MONDAY + timedelta(days=7), tick=False):
        status, printed = await run(resources, write_xlsx(tmp_path / "w51.xlsx", second))
    assert status == 0, printed
    recipients = [r.recipient for r in await outbox(resources.session_factory)]
    assert recipients == ["eve@example.org", "fay@example.org", "gil@example.org"]
    with time_machine.travel(MONDAY + timedelta(days=14), tick=False):
        await run(resources, write_xlsx(tmp_path / "w52.xlsx", second))
    assert len(await outbox(resources.session_factory)) == 3  # nothing new to tell
    periods = [r.period for r in await job_runs(resources.session_factory, "weekly-digest-report")]
    assert periods == ["2026-W50", "2026-W51", "2026-W52"]


async def test_report_digest_second_run_same_week_sends_nothing(resources, tmp_path):
    path = write_csv(tmp_path / "r.csv", [["1", "A", "a@example.org", "Closed", "06/12/2026", "S"]])
    with time_machine.travel(MONDAY, tick=False):
        await run(resources, path)
        status, printed = await run(resources, path)
    assert status == 0 and "already done" in printed
    assert len(await outbox(resources.session_factory)) == 1


async def test_report_digest_bad_date_exits_2_and_writes_nothing(resources, tmp_path, capsys):
    path = write_csv(
        tmp_path / "r.csv",
        [
            ["1", "A", "a@example.org", "Closed", "06/12/2026", "S"],
            ["2", "B", "b@example.org", "Closed", "31/02/2026", "S"],
        ],
    )
    with time_machine.travel(MONDAY, tick=False):
        status, _ = await run(resources, path)
    assert status == 2
    err = capsys.readouterr().err
    assert "row 3" in err and "date of last change" in err
    assert await outbox(resources.session_factory) == []
    assert await job_runs(resources.session_factory, "weekly-digest-report") == []


async def test_report_digest_dry_run_changes_nothing(resources, tmp_path):
    from storage.models import DigestNotice

    path = write_csv(
        tmp_path / "r.csv", [["1", "A", "a@example.org", "Closed", "06/12/2026", "Dry"]]
    )
    with time_machine.travel(MONDAY, tick=False):
        status, printed = await run(resources, path, dry_run=True)
    assert status == 0 and "#1 Dry — Closed" in printed
    assert await outbox(resources.session_factory) == []
    assert await count(resources.session_factory, DigestNotice) == 0


async def test_report_digest_missing_column_exits_2(resources, tmp_path, capsys):
    path = tmp_path / "r.csv"
    path.write_text("Ticket ID,Status\n1,Closed\n", encoding="utf-8")
    status, _ = await run(resources, path)
    assert status == 2 and "customer name" in capsys.readouterr().err
