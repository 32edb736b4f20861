"""`import-activities`: stream a Freshdesk export into the database, one transaction per file."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import IO, Any

import ijson
from sqlalchemy import column, func, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.reports import bulk
from bot.reports.freshdesk import (
    FRESHDESK,
    RecordError,
    dumps,
    import_key,
    parse_date,
    parse_record,
)
from storage.db import SessionFactory
from storage.models import Activity, ActivityImport
from storage.types import from_micros

BATCH = 5000
# Deeper JSON is refused before it is parsed with paths: ijson builds each event's path (as long as
# the depth), so memory and time grow with the square of the depth. Records nest about 4 deep.
MAX_DEPTH = 64
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_STRUCTURE = bytes(set(range(256)) - set(b'"[]{}'))
_STRING = re.compile(rb'"[^"]*"')
_STEP = {ord("["): 1, ord("]"): -1}
SQLITE_CACHE_KB = 131_072
ROW_FIELDS = (
    "source",
    "ticket_id",
    "performed_at",
    "performer_type",
    "performer_id",
    "activity",
    "import_key",
)

_activities = table(
    "activities",
    column("source"),
    column("ticket_id"),
    column("performed_at"),
    column("performer_type"),
    column("performer_id"),
    column("activity"),
    column("import_key"),
)


class ImportFailed(Exception):
    """Bad input, explained in one line (the command exits with status 2)."""


@dataclass
class ImportResult:
    records: int = 0
    added: int = 0
    tickets: int = 0
    skipped: list[int] = field(default_factory=list)
    end_at: int | None = None


def _insert_ignoring_duplicates(dialect: str):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(_activities).on_conflict_do_nothing(index_elements=["import_key"])


def _malformed(path: Path, exc: Exception) -> ImportFailed:
    detail = exc.args[0] if exc.args else ""
    if isinstance(detail, bytes):  # the C backend's messages come as bytes
        detail = detail.decode("utf-8", "replace")
    lines = str(detail).strip().splitlines()
    return ImportFailed(f"{path}: malformed JSON: {lines[0] if lines else type(exc).__name__}")


def check_depth(path: Path, limit: int = MAX_DEPTH) -> None:
    """Refuse a file nested deeper than `limit` before any parse with paths reads it."""
    with path.open("rb") as f:
        if nested_deeper_than(f, limit):
            raise ImportFailed(f"{path}: malformed JSON: nested deeper than {limit} levels")


def nested_deeper_than(f: IO[bytes], limit: int, chunk_size: int = 1 << 20) -> bool:
    """Whether the JSON in `f` nests deeper than `limit`.

    A scan with bytes methods only, about 5x faster than the C parser's events: escapes are
    dropped, then all but quotes and brackets, then strings (quotes alternate once escapes are
    gone); removing innermost `[]` pairs round by round then bounds the nesting, and only a
    chunk that may be too deep is counted bracket by bracket. Exact on JSON the parser accepts.
    """
    depth = 0
    in_string = False
    carry = b""
    while True:
        chunk = f.read(chunk_size)
        data = carry + chunk
        kept = data.rstrip(b"\\") if chunk else data  # an escape may go on in the next chunk
        carry, data = data[len(kept) :], kept
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(_BRACKETS, _NOT_STRUCTURE)
        if in_string:
            data = b'"' + data
        # Two adjacent quotes close a string and open the next (or are an empty string): no
        # bracket between them is outside a string, so they go first, cheaply.
        data = _STRING.sub(b"", data.replace(b'""', b""))
        quote = data.find(b'"')
        in_string = quote >= 0  # a string goes on in the next chunk
        if in_string:
            data = data[:quote]
        brackets, nesting = data, 0
        while b"[]" in data:
            nesting += 1
            if nesting > limit:  # pairs nested that deep: the depth is at least that
                return True
            data = data.replace(b"[]", b"")
        closes = len(data) - len(data.lstrip(b"]"))  # what is left: closes, then opens
        opens = len(data) - closes
        maybe = depth + max(opens - closes, 0) + nesting > limit  # then count exactly
        if maybe and max(accumulate(map(_STEP.__getitem__, brackets), initial=depth)) > limit:
            return True
        depth += opens - closes
        if not chunk:
            return False


def read_metadata(path: Path) -> dict[str, Any]:
    """The file's `metadata` object (empty if it has none); stops reading once found."""
    try:
        with path.open("rb") as f:
            for item in ijson.items(f, "metadata", use_float=True):
                if not isinstance(item, dict):
                    raise ImportFailed(f"{path}: metadata: expected an object")
                return item
    except ijson.JSONError as exc:
        raise _malformed(path, exc) from None
    return {}


def _has_activities_array(path: Path) -> bool:
    with path.open("rb") as f:
        for prefix, event, _ in ijson.parse(f):
            if prefix == "activities_data" and event == "start_array":
                return True
    return False


class _Progress:
    """A one-line progress bar on stderr when it is a terminal."""

    def __init__(self, f: IO[bytes], size: int, stream: IO[str] | None) -> None:
        self.f, self.size = f, max(size, 1)
        self.stream = stream if stream is not None and stream.isatty() else None

    def update(self, records: int) -> None:
        if self.stream:
            share = min(self.f.tell() / self.size, 1.0)
            bar = "#" * int(share * 30)
            self.stream.write(f"\rimporting [{bar:<30}] {share:4.0%} {records:,} records")
            self.stream.flush()

    def done(self) -> None:
        if self.stream:
            self.stream.write("\n")
            self.stream.flush()


async def import_file(
    session_factory: SessionFactory,
    path: str | Path,
    *,
    skip_invalid: bool = False,
    batch_size: int = BATCH,
    progress: IO[str] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> ImportResult:
    """Load one export in one transaction; raises ImportFailed (nothing written) on bad input."""
    path = Path(path)
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file")
    check_depth(path)
    metadata = read_metadata(path)
    end_at = None
    start_at = None
    try:
        if metadata.get("end_at") is not None:
            end_at = parse_date(metadata["end_at"], "metadata.end_at")
        if metadata.get("start_at") is not None:
            start_at = parse_date(metadata["start_at"], "metadata.start_at")
    except RecordError as exc:
        raise ImportFailed(f"{path}: {exc}") from None

    result = ImportResult()
    async with session_factory() as session, session.begin():
        sqlite = session.bind.dialect.name == "sqlite"
        if sqlite:  # room for the import_key index and the window sorts (default: 2 MB)
            await session.execute(text(f"PRAGMA cache_size=-{SQLITE_CACHE_KB}"))
        before = await _count(session)
        try:
            tickets = await _load(
                session, path, result, skip_invalid, batch_size, progress, on_batch
            )
        finally:
            if sqlite:
                await session.execute(text("PRAGMA cache_size=-2000"))
        if result.records == 0 and not _has_activities_array(path):
            raise ImportFailed(f"{path}: activities_data: missing (expected an array of records)")
        if end_at is None and result.end_at is not None:
            end_at = result.end_at  # no metadata.end_at: the file ends at its last activity
        result.end_at = end_at
        await bulk.open_scope(session)
        rows = [{"source": FRESHDESK, "ticket_id": t, "end_at": end_at} for t in sorted(tickets)]
        for i in range(0, len(rows), batch_size):
            await bulk.add_to_scope(session, rows[i : i + batch_size])
        await bulk.recompute_scope(session)
        result.tickets = len(tickets)
        result.added = await _count(session) - before
        session.add(
            ActivityImport(
                source=FRESHDESK,
                file_name=str(path),
                start_at=None if start_at is None else from_micros(start_at),
                end_at=None if end_at is None else from_micros(end_at),
                records=result.records,
                added=result.added,
                skipped=len(result.skipped),
                tickets=result.tickets,
            )
        )
    return result


async def _count(session: AsyncSession) -> int:
    query = select(func.count()).select_from(Activity).where(Activity.source == FRESHDESK)
    return (await session.execute(query)).scalar_one()


async def _load(
    session: AsyncSession,
    path: Path,
    result: ImportResult,
    skip_invalid: bool,
    batch_size: int,
    progress: IO[str] | None,
    on_batch: Callable[[int], None] | None,
) -> set[int]:
    dialect = session.bind.dialect
    compiled = _insert_ignoring_duplicates(dialect.name).compile(dialect=dialect)
    # rows go to the driver as tuples: SQLAlchemy's per-row handling would triple the time
    sql, order = compiled.string, [ROW_FIELDS.index(name) for name in compiled.positiontup]
    connection = await session.connection()
    tickets: set[int] = set()
    with path.open("rb") as f:
        bar = _Progress(f, os.fstat(f.fileno()).st_size, progress)
        records = ijson.items(f, "activities_data.item", use_float=True)
        pending: asyncio.Task | None = None

        async def send(rows: list[tuple]) -> None:
            """Insert a batch while the next one is parsed (one statement in flight)."""
            nonlocal pending
            if pending is not None:
                await pending
            values = (
                rows
                if order == list(range(len(ROW_FIELDS)))
                else [tuple(row[i] for i in order) for row in rows]
            )
            pending = asyncio.ensure_future(connection.exec_driver_sql(sql, values))
            await asyncio.sleep(0)

        try:
            await _read(
                records, path, result, skip_invalid, batch_size, tickets, send, bar, on_batch
            )
        finally:
            if pending is not None:
                with contextlib.suppress(Exception):
                    await pending
        bar.done()
        if pending is not None:
            await pending  # re-raise a failed insert
    return tickets


async def _read(records, path, result, skip_invalid, batch_size, tickets, send, bar, on_batch):
    """Parse the records into batches for `send`; strict or skipping invalid ones."""
    batch: list[tuple] = []
    last_at = result.end_at
    position = -1
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except ijson.JSONError as exc:
            raise _malformed(path, exc) from None
        position += 1
        try:
            ticket_id, at, performer_type, performer_id, activity = parse_record(record)
        except RecordError as exc:
            if not skip_invalid:
                raise ImportFailed(f"{path}: activities_data[{position}]: {exc}") from None
            result.skipped.append(position)
            continue
        doc = dumps(activity)
        key = import_key(FRESHDESK, ticket_id, at, performer_type, performer_id, doc)
        batch.append((FRESHDESK, ticket_id, at, performer_type, performer_id, doc, key))
        tickets.add(ticket_id)
        last_at = at if last_at is None or at > last_at else last_at
        result.records += 1
        if len(batch) >= batch_size:
            await send(batch)
            batch = []
            bar.update(result.records)
            if on_batch:
                on_batch(result.records)
    if batch:
        await send(batch)
    result.end_at = last_at


def print_skipped(result: ImportResult, stream: IO[str] | None = None) -> None:
    stream = stream or sys.stderr
    if result.skipped:
        positions = ", ".join(str(p) for p in result.skipped)
        stream.write(f"skipped {len(result.skipped)} invalid records at positions: {positions}\n")
