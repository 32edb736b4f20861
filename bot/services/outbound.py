"""Telegram messages the bot owes a chat: stored first, sent by the delivery sender.

A row here survives a crash; the sender sends a chat's rows in id order, so the order in
which they were queued is the order in which the chat sees them. Payloads:
- `{"type": "text", "text": html}`: a notice, already escaped, under 4096 characters;
- `{"type": "text", "header": h, "body": plain}`: a relayed text; the sender escapes it,
  puts the header in bold on top and splits it at line or word boundaries past 4096;
- `{"type": "copy", "from_chat_id", "message_id", "header"?, "caption"?}`: a media
  message copied with copyMessage, the header in bold at the start of the caption.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Delivery

Buttons = list[list[tuple[str, str]]]


async def queue_text(
    session: AsyncSession,
    *,
    chat_id: int,
    text: str,
    ticket_id: int | None = None,
    buttons: Buttons | None = None,
) -> None:
    """Queue an HTML notice (already escaped) for a chat; `buttons` rows of (label, data)."""
    payload: dict[str, Any] = {"type": "text", "text": text}
    if buttons:
        payload["buttons"] = [[list(button) for button in row] for row in buttons]
    return await _queue(session, chat_id, payload, ticket_id, None, None)


async def queue_relay_text(
    session: AsyncSession,
    *,
    chat_id: int,
    header: str,
    body: str,
    ticket_id: int | None,
    message_id: int | None,
    not_before: datetime | None = None,
) -> None:
    """Queue a plain text under a bold header line such as `#5 · Alice` (split if long).

    `not_before`: a paced message (bot/services/flood.py) is not sent before then."""
    payload = {"type": "text", "header": header, "body": body}
    return await _queue(session, chat_id, payload, ticket_id, message_id, not_before)


async def queue_relay_copy(
    session: AsyncSession,
    *,
    chat_id: int,
    from_chat_id: int,
    source_message_id: int,
    header: str | None,
    caption: str | None,
    ticket_id: int,
    message_id: int,
    not_before: datetime | None = None,
) -> None:
    """Queue a copy of a media message; the header (if any) starts its caption."""
    payload: dict[str, Any] = {
        "type": "copy",
        "from_chat_id": from_chat_id,
        "message_id": source_message_id,
        "caption": caption,
    }
    if header is not None:
        payload["header"] = header
    return await _queue(session, chat_id, payload, ticket_id, message_id, not_before)


async def _queue(
    session: AsyncSession,
    chat_id: int,
    payload: dict[str, Any],
    ticket_id: int | None,
    message_id: int | None,
    not_before: datetime | None,
) -> None:
    # Core, not the ORM: nothing reads the row back in this transaction (the sender selects it).
    await session.execute(
        _INSERT,
        {
            "chat_id": chat_id,
            "payload": payload,
            "ticket_id": ticket_id,
            "message_id": message_id,
            "not_before": not_before,
        },
    )
    session.info.setdefault(_QUEUED_CHATS, set()).add(chat_id)


def queued_chats(session: AsyncSession) -> set[int]:
    """The chats this session queued rows for since the last call (the sender's wake-up list)."""
    return session.info.pop(_QUEUED_CHATS, set())


_QUEUED_CHATS = "outbound.queued_chats"


_INSERT = insert(Delivery.__table__)  # built once: the relay queues one row per message
