"""The weekly digest run on another ticket system's status report (CSV or XLSX).

Columns: ticket id, customer name, customer email, status, date of last change (day first),
subject. Tickets are grouped by email (case-insensitive), never by name. The window is in days:
from the day of the previous successful report run, inclusive (a ticket closed later that day is
not skipped), to today; `digest_notices` remembers what each ticket was last notified for, so a
ticket reported solved again with the same date of last change is not mailed twice.
"""

from __future__ import annotations

import csv
import itertools
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.email import mails, templates
from bot.jobs import runs
from bot.jobs.digest import FIRST_WINDOW, DigestResult, Recipient, queue_digests
from storage.db import SessionFactory
from storage.models import DigestNotice, Status

JOB = "weekly-digest-report"
SOURCE = "report"
SOLVED = {"resolved": Status.RESOLVED.value, "closed": Status.CLOSED.value}

COLUMNS = {
    "ticket": ("ticket id", "ticket", "id", "ticket number", "ticket no"),
    "name": ("customer name", "name", "customer", "requester", "requester name"),
    "email": ("customer email", "email", "e-mail", "customer e-mail", "requester email"),
    "status": ("status",),
    "changed": (
        "date of last change",
        "last change",
        "last changed",
        "last change date",
        "last updated",
        "updated",
        "date",
    ),
    "subject": ("subject", "title"),
}

DAY_FIRST = re.compile(
    r"^(\d{1,2})[./-](\d{1,2})[./-](\d{2}|\d{4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
)
ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


# Bounds for files from elsewhere, so that a hostile one is refused in seconds and little memory.
MAX_ROWS = 100_000  # rows after the header, empty ones included
MAX_COLUMNS = 64  # columns read from a spreadsheet row (the report's six come first)
MAX_LINE = 1 << 20  # characters in one line of a CSV file (csv limits a field to 128 KB)
MAX_PART_BYTES = 32 << 20  # an XLSX part unpacked (the shared strings are read whole)
MAX_SHEET_BYTES = 256 << 20  # a worksheet unpacked (read row by row)
MAX_TAGS_PER_ROW = 20_000  # XML tags in one worksheet row (openpyxl reads a row whole)
MAX_SHEET_TAGS = 5_000_000  # XML tags in a worksheet, about 1,000,000 cells
MAX_UNSIZED_SHEET_TAGS = 1_000_000  # the same for a sheet that does not declare its size
_ROW_START = re.compile(rb"<(?:\w+:)?row[\s>/]")
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension[\s>/]")


class ReportError(Exception):
    """The report cannot be read: one line naming the file, row and field."""


@dataclass(frozen=True)
class ReportRow:
    line: int
    ticket: str
    name: str
    email: str
    status: str
    changed_on: date
    changed_at: datetime | None  # when the report gives a time of day
    subject: str


def _header_key(value: object) -> str:
    return re.sub(r"[\s_]+", " ", str(value or "").strip().lower())


def _column_map(header: list[object], path: Path) -> dict[str, int]:
    names = [_header_key(cell) for cell in header]
    found: dict[str, int] = {}
    for field, aliases in COLUMNS.items():
        for alias in aliases:
            if alias in names:
                found[field] = names.index(alias)
                break
        else:
            raise ReportError(f"{path.name}: no column {aliases[0]!r} in the header")
    return found


def parse_day_first(value: object) -> tuple[date, datetime | None]:
    """A day-first date (DD/MM/YYYY, DD.MM.YY, ... optionally with HH:MM[:SS]) or ISO date."""
    if isinstance(value, datetime):
        has_time = value.time() != time(0)
        return value.date(), value.replace(tzinfo=None) if has_time else None
    if isinstance(value, date):
        return value, None
    text = str(value or "").strip()
    match = ISO.match(text)
    if match:
        year, month, day = int(match[1]), int(match[2]), int(match[3])
    else:
        match = DAY_FIRST.match(text)
        if not match:
            raise ValueError(f"not a day-first date: {text!r}")
        day, month, year = int(match[1]), int(match[2]), int(match[3])
        if year < 100:
            year += 2000
    parsed = date(year, month, day)
    if match[4] is None:
        return parsed, None
    moment = datetime.combine(parsed, time(int(match[4]), int(match[5]), int(match[6] or 0)))
    return parsed, moment


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _rows(path: Path) -> Iterator[Sequence[object]]:
    """The file's rows, streamed; a file that cannot be read raises ReportError."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx_rows(path)
    if suffix in (".csv", ".txt"):
        return _csv_rows(path)
    raise ReportError(f"{path.name}: a report must be .csv or .xlsx")


def _xlsx_rows(path: Path) -> Iterator[Sequence[object]]:
    from openpyxl import load_workbook

    checked = _check_parts(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise ReportError(f"{path.name}: not a readable XLSX file ({_first_line(exc)})") from None
    try:
        sheet = workbook.worksheets[0]
        if sheet._worksheet_path.lstrip("/") not in checked:  # a sheet stored elsewhere
            _check_sheet(path, sheet._worksheet_path.lstrip("/"))
        if (sheet.max_row or 0) > MAX_ROWS + 1:
            raise ReportError(
                f"{path.name}: the sheet declares {sheet.max_row:,} rows "
                f"({sheet.calculate_dimension()}), more than {MAX_ROWS:,}"
            )
        # Beyond that the declared size is not trusted: rows as they are in the file, each cut
        # to MAX_COLUMNS (openpyxl would pad every row to the declared width).
        sheet.reset_dimensions()
        yield from sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
    except ReportError:
        raise
    except Exception as exc:
        raise ReportError(f"{path.name}: not a readable XLSX file ({_first_line(exc)})") from None
    finally:
        workbook.close()


def _check_parts(path: Path) -> set[str]:
    """Check the parts before openpyxl reads them: their unpacked sizes (it reads the shared
    strings whole) and each worksheet's rows (it reads every sheet's size at once); returns
    the worksheets checked.

    The sizes are those the zip declares: reading stops there (and then fails its checksum).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ReportError(f"{path.name}: not a readable XLSX file ({_first_line(exc)})") from None
    sheets = {p.filename for p in parts if p.filename.startswith("xl/worksheets/")}
    for part in parts:
        limit = MAX_SHEET_BYTES if part.filename in sheets else MAX_PART_BYTES
        if part.file_size > limit:
            raise ReportError(f"{path.name}: {part.filename} unpacks to more than {limit >> 20} MB")
    for sheet in sheets:
        _check_sheet(path, sheet)
    return sheets


def _check_sheet(path: Path, part: str) -> None:
    """Refuse a sheet with a row of over MAX_TAGS_PER_ROW tags, or too many tags in all.

    Counted on the bytes. openpyxl reads each row whole, and the whole of a sheet that does not
    declare its size (keeping a shell of every element), so such a sheet is allowed fewer tags.
    """
    tags = row_tags = 0
    limit = MAX_SHEET_TAGS
    try:
        with zipfile.ZipFile(path) as archive, archive.open(part) as stream:
            head = True
            while chunk := stream.read(1 << 20):
                if head:  # the dimension comes before the rows
                    rows_at = _ROW_START.search(chunk)
                    if not _DIMENSION.search(chunk, 0, rows_at.start() if rows_at else len(chunk)):
                        limit = MAX_UNSIZED_SHEET_TAGS
                    head = False
                # A row start cut by the chunk's end joins two rows: counted as one, too many.
                first, *rows = _ROW_START.split(chunk)
                row_tags += first.count(b"<")
                for row in rows:
                    if row_tags > MAX_TAGS_PER_ROW:
                        break
                    row_tags = row.count(b"<")
                tags += chunk.count(b"<")
                if row_tags > MAX_TAGS_PER_ROW:
                    raise ReportError(
                        f"{path.name}: a row with more than {MAX_TAGS_PER_ROW:,} cells"
                    )
                if tags > limit:
                    raise ReportError(
                        f"{path.name}: the sheet is too large (over {limit:,} XML elements)"
                    )
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise ReportError(f"{path.name}: not a readable XLSX file ({_first_line(exc)})") from None


def _csv_rows(path: Path) -> Iterator[Sequence[object]]:
    """CSV rows in UTF-8 (a BOM is fine), with `,`, `;` or tab; lines and fields bounded."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            sample = handle.read(4096)
            handle.seek(0)
            try:
                dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
            except csv.Error:
                dialect = csv.excel
            reader = csv.reader(_bounded_lines(handle, path), dialect)
            try:
                yield from reader
            except csv.Error as exc:
                raise ReportError(f"{path.name} line {reader.line_num}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ReportError(
            f"{path.name}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); "
            "save it as CSV UTF-8"
        ) from None


def _bounded_lines(handle: IO[str], path: Path) -> Iterator[str]:
    for number in itertools.count(1):
        line = handle.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) > MAX_LINE:
            raise ReportError(f"{path.name} line {number}: longer than {MAX_LINE:,} characters")
        yield line


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def read_report(path: Path) -> list[ReportRow]:
    """Every row of the report, validated; a bad row raises ReportError naming it."""
    if not path.is_file():
        raise ReportError(f"{path}: no such file")
    rows = iter(_rows(path))
    header = next(rows, None)
    if header is None:
        raise ReportError(f"{path.name}: empty report")
    header = list(header)
    columns = _column_map(header, path)
    result = []
    for number, row in enumerate(rows, start=2):
        if number > MAX_ROWS + 1:
            raise ReportError(f"{path.name}: more than {MAX_ROWS:,} rows")
        if not any(_cell(value) for value in row):
            continue
        padded = list(row) + [None] * (len(header) - len(row))

        def get(field: str, padded: list[object] = padded) -> object:
            return padded[columns[field]]

        ticket = _cell(get("ticket"))
        if not ticket:
            raise ReportError(f"{path.name} row {number}: ticket id: empty")
        try:
            changed_on, changed_at = parse_day_first(get("changed"))
        except ValueError as exc:
            raise ReportError(f"{path.name} row {number}: date of last change: {exc}") from None
        result.append(
            ReportRow(
                line=number,
                ticket=ticket[:64],
                name=_cell(get("name")),
                email=_cell(get("email")),
                status=_cell(get("status")),
                changed_on=changed_on,
                changed_at=changed_at,
                subject=_cell(get("subject")),
            )
        )
    return result


def _moment(row: ReportRow, tz: Any) -> datetime:
    """The change as a UTC instant: its time when given, else the start of its day, in tz."""
    local = row.changed_at or datetime.combine(row.changed_on, time(0))
    return local.replace(tzinfo=tz)


async def run(
    session_factory: SessionFactory, path: Path, *, tz: Any, dry_run: bool = False
) -> DigestResult:
    """One digest run on a report file for the current ISO week in `tz`."""
    try:
        rows = read_report(path)
    except ReportError as exc:
        from bot.jobs import JobError

        raise JobError(str(exc)) from None
    now = utcnow()
    today = now.astimezone(tz).date()
    period = runs.iso_week(now.astimezone(tz))

    if dry_run:
        async with session_factory() as session:
            if await runs.is_done(session, job=JOB, period=period):
                return DigestResult(period, claimed=False)
            start = await runs.last_window_end(session, job=JOB) or now - FIRST_WINDOW
            recipients, _ = await _select(session, rows, start, today, tz)
            return DigestResult(period, True, start, now, recipients)

    async def work(
        session: AsyncSession, start: datetime
    ) -> tuple[tuple[list[Recipient], int], dict[str, Any]]:
        recipients, notices = await _select(session, rows, start, today, tz)
        queued = await queue_digests(session, period, recipients, prefix="digest-report")
        await _remember(session, notices, period)
        detail = {"customers": len(recipients), "queued": queued, "file": path.name}
        return (recipients, queued), detail

    ran = await runs.run_window(
        session_factory, job=JOB, period=period, now=now, first_window=FIRST_WINDOW, work=work
    )
    if ran is None:
        return DigestResult(period, claimed=False)
    start, (recipients, queued) = ran
    return DigestResult(period, True, start, now, recipients, queued)


async def _select(
    session: Any, rows: list[ReportRow], start: datetime, today: date, tz: Any
) -> tuple[list[Recipient], list[dict[str, Any]]]:
    """Recipients (by email) and their tickets solved from start's day to today, not notified."""
    first_day = start.astimezone(tz).date()
    latest: dict[str, ReportRow] = {}  # a ticket listed twice: its latest change counts
    for row in rows:
        if row.status.strip().lower() not in SOLVED or "@" not in row.email:
            continue
        if not first_day <= row.changed_on <= today:
            continue
        seen = latest.get(row.ticket)
        if seen is None or _moment(row, tz) >= _moment(seen, tz):
            latest[row.ticket] = row
    notified: dict[str, datetime] = {}
    refs = list(latest)
    for chunk in range(0, len(refs), 500):
        part = refs[chunk : chunk + 500]
        found = await session.execute(
            select(DigestNotice.ticket_ref, DigestNotice.changed_at).where(
                tuple_(DigestNotice.source, DigestNotice.ticket_ref).in_(
                    [(SOURCE, ref) for ref in part]
                )
            )
        )
        notified.update({ref: at for ref, at in found})

    recipients: dict[str, Recipient] = {}
    notices = []
    for ref in sorted(latest, key=_ticket_sort_key):
        row = latest[ref]
        moment = _moment(row, tz)
        if ref in notified and notified[ref] >= moment:
            continue  # told already about this change
        key = mails.address_key(row.email)
        recipient = recipients.get(key)
        if recipient is None:
            recipient = recipients[key] = Recipient(key, row.email, row.name or None)
        recipient.lines[ref] = templates.DigestLine(
            ref, row.subject, SOLVED[row.status.strip().lower()]
        )
        notices.append(
            {
                "source": SOURCE,
                "ticket_ref": ref,
                "status": SOLVED[row.status.strip().lower()],
                "changed_at": moment,
                "notified_at": utcnow(),
                "period": "",
            }
        )
    return list(recipients.values()), notices


def _ticket_sort_key(ref: str) -> tuple[int, int | str]:
    return (0, int(ref)) if ref.isdigit() else (1, ref)


async def _remember(session: Any, notices: list[dict[str, Any]], period: str) -> None:
    if not notices:
        return
    for notice in notices:
        notice["period"] = period
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(DigestNotice)
    statement = statement.on_conflict_do_update(
        index_elements=["source", "ticket_ref"],
        set_={
            "status": statement.excluded.status,
            "changed_at": statement.excluded.changed_at,
            "notified_at": statement.excluded.notified_at,
            "period": statement.excluded.period,
        },
    )
    connection = await session.connection()
    await connection.execute(statement, notices)
