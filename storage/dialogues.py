"""Dialogue state kept in the database (a repository), so a dialogue survives a crash.

The state, what the user typed so far and the update id are written in the same transaction
as the step's own changes, before the next question is sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from storage.models import Dialogue


async def load(session: AsyncSession, *, name: str, chat_id: int, user_id: int) -> Dialogue | None:
    return await session.scalar(
        select(Dialogue).where(
            Dialogue.name == name, Dialogue.chat_id == chat_id, Dialogue.user_id == user_id
        )
    )


async def save(
    session: AsyncSession,
    *,
    name: str,
    chat_id: int,
    user_id: int,
    state: str,
    data: dict[str, Any],
    update_id: int,
    prompt: dict[str, Any] | None,
) -> None:
    row = await load(session, name=name, chat_id=chat_id, user_id=user_id)
    if row is None:
        row = Dialogue(name=name, chat_id=chat_id, user_id=user_id)
        session.add(row)
    row.state = state
    row.data = dict(data)
    row.last_update_id = max(update_id, row.last_update_id or 0)
    row.prompt = prompt
    row.updated_at = utcnow()
    await session.flush()


async def end(session: AsyncSession, *, name: str, chat_id: int, user_id: int) -> None:
    await session.execute(
        delete(Dialogue).where(
            Dialogue.name == name, Dialogue.chat_id == chat_id, Dialogue.user_id == user_id
        )
    )


async def active(
    session: AsyncSession, *, name: str, max_idle: timedelta
) -> dict[tuple[int, int], str]:
    """Every dialogue of `name` active within `max_idle`, keyed as PTB keys conversations."""
    since: datetime = utcnow() - max_idle
    rows = await session.execute(
        select(Dialogue.chat_id, Dialogue.user_id, Dialogue.state).where(
            Dialogue.name == name, Dialogue.updated_at >= since
        )
    )
    return {(chat_id, user_id): state for chat_id, user_id, state in rows}


async def set_state(
    session: AsyncSession, *, name: str, chat_id: int, user_id: int, state: str | None
) -> None:
    """What PTB's persistence reports later; the step already wrote it, so only ends matter."""
    if state is None:
        await end(session, name=name, chat_id=chat_id, user_id=user_id)
