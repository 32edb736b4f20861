"""`report`: one row per ticket from its summary row, in table, CSV or JSON, streamed out."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    case,
    column,
    func,
    literal,
    null,
    select,
    table,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.reports import spreadsheet
from bot.reports.metrics import COLUMNS, SOLVED, STATUSES, TIMED, iso
from bot.services.activities import TELEGRAM
from storage.models import TicketTag
from storage.types import MICROSECONDS, to_micros

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


# metrics.md's columns, then the ticket's tags (`a;b`; the bot's own tickets only).
REPORT_COLUMNS = (*COLUMNS, "tags")

# A report row's cells computed by the query itself (integer arithmetic, the same on SQLite and
# PostgreSQL), so that Python only names the status and formats created_at. Statuses come back
# as small codes (cheap to fetch): 0 for none or one outside STATUSES, given then in full.
_STATUS_CODES = {status: code for code, status in enumerate(STATUSES, 1)}
_STATUS_OF_CODE = (None, *STATUSES)
_OPEN_OF_CODE = (None, *(TIMED[s][1] if s in TIMED else None for s in STATUSES))


def _report_select(end: Any, with_rating: bool):
    """The summaries' report cells, one source's in ticket order: ticket_id, created_at (µs),
    status code, status text (only for code 0), priority, agent_id, the seven times in seconds,
    reopens (and the rating). `end` ends the unfinished interval."""
    s = _summaries.c
    us = MICROSECONDS
    unfinished = case((end > s.status_since, end - s.status_since), else_=0)

    def in_status(status: str):
        attr = TIMED[status][0]
        return (s[attr] + case((s.status == status, unfinished), else_=0)) // us

    columns = [
        s.ticket_id,
        s.created_at,
        case(_STATUS_CODES, value=s.status, else_=0),
        case((s.status.in_(STATUSES), null()), else_=s.status),
        s.priority,
        s.agent_id,
        *(in_status(status) for status in TIMED),
        (s.first_response_at - s.created_at) // us,
        (s.first_resolution_at - s.created_at) // us,
        case((s.status.in_(sorted(SOLVED)), (s.full_resolution_at - s.created_at) // us)),
        s.reopens,
    ]
    if with_rating:
        columns.append(s.rating)
    return select(*columns).order_by(s.ticket_id)


async def _driver_batches(
    session: AsyncSession, query: Any, batch: int
) -> AsyncIterator[list[tuple[Any, ...]]]:
    """The query's rows as the driver gives them (plain tuples), `batch` at a time through a
    server-side cursor: no Row objects, one trip to the driver per batch."""
    connection = await session.connection()
    compiled = query.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    params: Any = compiled.params
    if compiled.positional:
        params = tuple(compiled.params[name] for name in compiled.positiontup or ())

    def open_cursor(sync: Any) -> Any:
        dbapi = sync.connection.dbapi_connection
        try:
            cursor = dbapi.cursor(server_side=True)
        except TypeError:  # a driver without the asyncio adapters' server_side flag
            cursor = dbapi.cursor()
        cursor.execute(compiled.string, params)
        return cursor

    def fetch() -> asyncio.Future:
        """The next batch, fetched by the driver while the caller works on this one."""
        return asyncio.ensure_future(connection.run_sync(lambda _: cursor.fetchmany(batch)))

    cursor = await connection.run_sync(open_cursor)
    pending: asyncio.Future | None = fetch()
    try:
        while pending is not None:
            rows = await pending
            pending = None
            if not rows:
                break
            pending = fetch()
            await asyncio.sleep(0)  # let the fetch start
            yield rows
    finally:
        if pending is not None:
            with contextlib.suppress(Exception):
                await pending
        await connection.run_sync(lambda _: cursor.close())


async def iter_row_batches(
    session: AsyncSession,
    *,
    as_of: datetime | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    with_rating: bool = False,
    batch: int = 20_000,
) -> AsyncIterator[list[tuple[Any, ...]]]:
    """Report rows in REPORT_COLUMNS' order (plus the rating last when `with_rating`), sorted by
    source and ticket id, in lists as the summary rows stream in (one summary row per ticket).

    The unfinished interval ends at `as_of`; without it, at the file's end_at for imported
    tickets and now for the bot's own. The cells are those of metrics.row_of_summary.
    """
    s = _summaries.c
    if as_of is not None:
        end: Any = literal(to_micros(as_of), BigInteger)
    else:
        end = func.coalesce(s.end_at, literal(to_micros(utcnow()), BigInteger))
    query = _report_select(end, with_rating)
    if since is not None:
        query = query.where(s.created_at >= to_micros(since))
    if until is not None:
        query = query.where(s.created_at <= to_micros(until))
    sources = (
        (await session.execute(select(s.source).distinct().order_by(s.source))).scalars().all()
    )
    names, opened, iso_ = _STATUS_OF_CODE, _OPEN_OF_CODE, iso
    for source in sources:
        # The bot's own tickets have tags; few are tagged, so they come as one map, not a join.
        tagged = await _tags(session) if source == TELEGRAM else {}
        async for part in _driver_batches(session, query.where(s.source == source), batch):
            if with_rating:
                yield [
                    (source, t, iso_(c), names[k] or x, p, a, o, e, w, h, f, r, u, n, opened[k],
                     tagged.get(t), g)
                    for t, c, k, x, p, a, o, e, w, h, f, r, u, n, g in part
                ]  # fmt: skip
            else:
                yield [
                    (source, t, iso_(c), names[k] or x, p, a, o, e, w, h, f, r, u, n, opened[k],
                     tagged.get(t))
                    for t, c, k, x, p, a, o, e, w, h, f, r, u, n in part
                ]  # fmt: skip


async def _tags(session: AsyncSession) -> dict[int, str]:
    """Every tagged ticket's tags, `a;b` (the report's `tags` cell)."""
    found: dict[int, list[str]] = {}
    rows = await session.execute(
        select(TicketTag.ticket_id, TicketTag.tag).order_by(TicketTag.ticket_id, TicketTag.tag)
    )
    for number, tag in rows:
        found.setdefault(number, []).append(tag)
    return {number: ";".join(tags) for number, tags in found.items()}


async def iter_rows(session: AsyncSession, **options: Any) -> AsyncIterator[tuple[Any, ...]]:
    """The rows of iter_row_batches one by one."""
    async for rows in iter_row_batches(session, **options):
        for row in rows:
            yield row


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


class Writer:
    """Writes rows in one of the formats as they come (nothing is held back)."""

    WIDTHS = (9, 10, 20, 23, 8, 12, 9, 12, 24, 27, 14, 16, 15, 7, 16, 0)

    def __init__(self, out: IO[str], fmt: str) -> None:
        self.out, self.fmt, self.count = out, fmt, 0
        if fmt == "csv":
            self.csv = spreadsheet.Writer(out)
            self.csv.writerow(REPORT_COLUMNS)
        elif fmt == "json":
            out.write("[")
        elif fmt == "table":
            self._table_line(REPORT_COLUMNS)
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
            self.csv.writerow(row)
        elif self.fmt == "json":
            self.out.write(",\n" if self.count else "\n")
            self.out.write(json.dumps(dict(zip(REPORT_COLUMNS, row, strict=True))))
        else:
            self._table_line(row)
        self.count += 1

    def close(self) -> None:
        if self.fmt == "json":
            self.out.write("\n]\n" if self.count else "]\n")


def period(days: int, as_of: datetime) -> tuple[datetime, datetime]:
    return as_of - timedelta(days=days), as_of
