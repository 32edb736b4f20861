"""`export-activities`: the activity history in Freshdesk's export layout, streamed to a file."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from sqlalchemy import BigInteger, String, column, func, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.reports.freshdesk import FRESHDESK, export_record, format_date
from storage.models import Activity
from storage.types import to_micros

_activities = table(
    "activities",
    column("id", BigInteger),
    column("source", String),
    column("ticket_id", BigInteger),
    column("performed_at", BigInteger),
    column("performer_type", String),
    column("performer_id", BigInteger),
    column("activity", Activity.__table__.c.activity.type),
)
SOURCE_KEY = "source"  # added to records of tickets that are not Freshdesk's own


def _filters(since: datetime | None, until: datetime | None, source: str | None) -> list:
    a = _activities.c
    where = []
    if since is not None:
        where.append(a.performed_at >= to_micros(since))
    if until is not None:
        where.append(a.performed_at <= to_micros(until))
    if source is not None:
        where.append(a.source == source)
    return where


async def export_file(
    session: AsyncSession,
    path: str | Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    source: str | None = None,
    batch: int = 5000,
) -> int:
    """Write the activities (optionally of one source, between two times) and return how many.

    The file appears whole or not at all (written beside it, then renamed)."""
    a = _activities.c
    where = _filters(since, until, source)
    count, first = (
        await session.execute(select(func.count(), func.min(a.performed_at)).where(*where))
    ).one()
    start = to_micros(since) if since is not None else first
    end = to_micros(until) if until is not None else to_micros(utcnow())
    metadata = {
        "start_at": format_date(start if start is not None else end),
        "end_at": format_date(end),
        "activities_count": count,
    }
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    query = (
        select(*_activities.columns)
        .where(*where)
        .order_by(a.performed_at, a.source, a.ticket_id, a.id)
        .execution_options(yield_per=batch)
    )
    try:
        with partial.open("w", encoding="utf-8") as out:
            out.write('{"metadata": ' + json.dumps(metadata) + ', "activities_data": [')
            written = 0
            result = await session.stream(query)
            async for part in result.partitions(batch):
                lines = []
                for _, src, ticket_id, at, ptype, pid, activity in part:
                    record = export_record(ticket_id, at, ptype, pid, activity or {})
                    if src != FRESHDESK:
                        record.setdefault(SOURCE_KEY, src)
                    lines.append(json.dumps(record, ensure_ascii=False))
                out.write(("," if written else "") + "\n" + ",\n".join(lines))
                written += len(lines)
            out.write("\n]}\n")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return written
