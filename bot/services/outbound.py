"""Telegram messages the bot owes a chat: stored first, sent by the delivery sender.

A row here survives a crash; the sender sends a chat's rows in id order, so the order in
which they were queued is the order in which the chat sees them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Delivery


async def queue_text(
    session: AsyncSession,
    *,
    chat_id: int,
    text: str,
    ticket_id: int | None = None,
    message_id: int | None = None,
    buttons: list[list[tuple[str, str]]] | None = None,
) -> Delivery:
    """Queue an HTML text (already escaped) for a chat; `buttons` rows of (label, data)."""
    payload: dict[str, Any] = {"type": "text", "text": text}
    if buttons:
        payload["buttons"] = [[list(button) for button in row] for row in buttons]
    return await _queue(session, chat_id, payload, ticket_id, message_id)


async def queue_copy(
    session: AsyncSession,
    *,
    chat_id: int,
    from_chat_id: int,
    source_message_id: int,
    caption: str,
    ticket_id: int | None = None,
    message_id: int | None = None,
) -> Delivery:
    """Queue a copy of a media message with an HTML caption (already escaped)."""
    payload = {
        "type": "copy",
        "from_chat_id": from_chat_id,
        "message_id": source_message_id,
        "caption": caption,
    }
    return await _queue(session, chat_id, payload, ticket_id, message_id)


async def _queue(
    session: AsyncSession,
    chat_id: int,
    payload: dict[str, Any],
    ticket_id: int | None,
    message_id: int | None,
) -> Delivery:
    row = Delivery(chat_id=chat_id, payload=payload, ticket_id=ticket_id, message_id=message_id)
    session.add(row)
    await session.flush()
    return row
