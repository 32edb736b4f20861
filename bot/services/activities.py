"""The single write path of ticket history, in Freshdesk's activity shape (metrics.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow_seconds
from storage.models import Activity

TELEGRAM = "telegram"
USER = "user"
SYSTEM = "system"


async def record(
    session: AsyncSession,
    *,
    ticket_id: int,
    activity: dict[str, Any],
    performer_id: int | None,
    performer_type: str = USER,
    at: datetime | None = None,
    source: str = TELEGRAM,
) -> Activity:
    """Write one activity of a ticket; `performer_id` is a Telegram user id (None for jobs)."""
    row = Activity(
        source=source,
        ticket_id=ticket_id,
        performed_at=(at or utcnow_seconds()).replace(microsecond=0),
        performer_type=performer_type,
        performer_id=performer_id,
        activity=activity,
    )
    session.add(row)
    await session.flush()
    return row
