"""`report`: one row per ticket from its summary row, in table, CSV or JSON, streamed out."""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any

from sqlalchemy import BigInteger, Integer, String, column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.reports.metrics import COLUMNS, SUMMARY_FIELDS, row_of_summary
from storage.types import to_micros

# The summary table with plain column types: the report reads raw microseconds, no conversion.
_summaries = table(
    "ticket_summaries",
    column("source", String),
    column("ticket_id", BigInteger),
    column("created_at", BigInteger),
    column("status", String),
    column("status_since", BigInteger),
    column("open_us", BigInteger),
    column("pending_us", BigInteger),
    column("waiting_customer_us", BigInteger),
    column("waiting_third_party_us", BigInteger),
    column("first_response_at", BigInteger),
    column("first_resolution_at", BigInteger),
    column("full_resolution_at", BigInteger),
    column("reopens", Integer),
    column("priority", Integer),
    column("agent_id", BigInteger),
    column("rating", Integer),
    column("end_at", BigInteger),
)


def parse_when(text: str, *, end_of_day: bool = False) -> datetime:
    """`YYYY-MM-DD` (a whole day: its start, or its end with end_of_day) or ISO 8601 date-time
    (`Z` or an offset; none means UTC)."""
    text = text.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        value = datetime.fromisoformat(text.replace("z", "Z"))
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if end_of_day:
        return datetime.combine(day, time.max, UTC)
    return datetime.combine(day, time.min, UTC)


_SELECTED = [_summaries.c[name] for name in (*SUMMARY_FIELDS, "rating", "end_at")]


async def iter_row_batches(
    session: AsyncSession,
    *,
    as_of: datetime | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    with_rating: bool = False,
    batch: int = 10_000,
) -> AsyncIterator[list[tuple[Any, ...]]]:
    """Report rows in COLUMNS' order (plus the rating last when `with_rating`), sorted by source
    and ticket id, in lists as the summary rows stream in (one summary row per ticket).

    The unfinished interval ends at `as_of`; without it, at the file's end_at for imported
    tickets and now for the bot's own.
    """
    fixed = None if as_of is None else to_micros(as_of)
    now = to_micros(utcnow())
    s = _summaries.c
    query = select(*_SELECTED).order_by(s.source, s.ticket_id)
    if since is not None:
        query = query.where(s.created_at >= to_micros(since))
    if until is not None:
        query = query.where(s.created_at <= to_micros(until))
    result = await session.stream(query.execution_options(yield_per=batch))
    async for part in result.partitions(batch):
        if fixed is not None and not with_rating:
            yield [row_of_summary(values, fixed) for values in part]
            continue
        rows = []
        for values in part:
            end = fixed if fixed is not None else (now if values[16] is None else values[16])
            row = row_of_summary(values, end)
            rows.append((*row, values[15]) if with_rating else row)
        yield rows


async def iter_rows(session: AsyncSession, **options: Any) -> AsyncIterator[tuple[Any, ...]]:
    """The rows of iter_row_batches one by one."""
    async for rows in iter_row_batches(session, **options):
        for row in rows:
            yield row


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


class Writer:
    """Writes rows in one of the formats as they come (nothing is held back)."""

    WIDTHS = (9, 10, 20, 23, 8, 12, 9, 12, 24, 27, 14, 16, 15, 7, 0)

    def __init__(self, out: IO[str], fmt: str) -> None:
        self.out, self.fmt, self.count = out, fmt, 0
        if fmt == "csv":
            self.csv = csv.writer(out, lineterminator="\n")
            self.csv.writerow(COLUMNS)
        elif fmt == "json":
            out.write("[")
        elif fmt == "table":
            self._table_line(COLUMNS)
        else:
            raise ValueError(f"unknown format {fmt!r}")

    def _table_line(self, cells: Iterable[Any]) -> None:
        parts = [
            _cell(c).rjust(w) if isinstance(c, int) else _cell(c).ljust(w)
            for c, w in zip(cells, self.WIDTHS, strict=True)
        ]
        self.out.write("  ".join(parts).rstrip() + "\n")

    def write(self, row: tuple[Any, ...]) -> None:
        if self.fmt == "csv":
            self.csv.writerow(["" if v is None else v for v in row])
        elif self.fmt == "json":
            self.out.write(",\n" if self.count else "\n")
            self.out.write(json.dumps(dict(zip(COLUMNS, row, strict=True))))
        else:
            self._table_line(row)
        self.count += 1

    def close(self) -> None:
        if self.fmt == "json":
            self.out.write("\n]\n" if self.count else "]\n")


def period(days: int, as_of: datetime) -> tuple[datetime, datetime]:
    return as_of - timedelta(days=days), as_of
