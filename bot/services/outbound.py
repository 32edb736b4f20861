"""Telegram messages the bot owes a chat: stored first, sent by the delivery sender.

A row here survives a crash; the sender sends a chat's rows in id order, so the order in
which they were queued is the order in which the chat sees them. Payloads:
- `{"type": "text", "text": html}`: a notice as markup (`queue_text` escapes a plain `str`,
  keeps a `Markup`), under 4096 characters once parsed;
- `{"type": "text", "header": h, "body": plain}`: a relayed text; the sender escapes it,
  puts the header in bold on top and splits it at line or word boundaries past 4096;
- `{"type": "copy", "from_chat_id", "message_id", "header"?, "caption"?}`: a media
  message copied with copyMessage, the header in bold at the start of the caption;
- `{"type": "edit", "of": row id}`: the copy that row delivered is edited to its message's
  text now, marked `(edited)` (a long text's copy is sent again instead);
- `{"type": "topic"}`: the ticket's forum topic in that chat is renamed (and, in the team
  chat, closed or reopened) to show the ticket's state (bot/topics.py).

In a chat where the ticket has a forum topic, its rows go into the topic without the header.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from storage.models import Delivery, TicketTopic

Buttons = list[list[tuple[str, str]]]

# Rows not delivered yet: pending, or (before holding existed) given up on a 403.
UNSENT = ("pending", "blocked")
# A 403 (the person blocked the bot) postpones their chat's oldest row to this time: the chat
# is held, its later rows wait behind it, until `release_held` (they unblocked or wrote).
HELD_UNTIL = datetime(3000, 1, 1, tzinfo=UTC)


async def queue_text(
    session: AsyncSession,
    *,
    chat_id: int,
    text: str | Markup,
    ticket_id: int | None = None,
    buttons: Buttons | None = None,
) -> None:
    """Queue a notice for a chat (a plain `str` is escaped now, a `Markup` kept as it is);
    `buttons` rows of (label, data)."""
    payload: dict[str, Any] = {"type": "text", "text": str(escape(text))}
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
    reply_to: int | None = None,
    quote: str | None = None,
    not_before: datetime | None = None,
) -> None:
    """Queue a plain text under a bold header line such as `#5 · Alice` (split if long);
    `reply_to`: a message of that chat it answers, quoting `quote` of it; `not_before`: a
    paced message (bot/services/flood.py) is not sent before then."""
    payload: dict[str, Any] = {"type": "text", "header": header, "body": body}
    _answering(payload, reply_to, quote)
    return await _queue(session, chat_id, payload, ticket_id, message_id, not_before)


def _answering(payload: dict[str, Any], reply_to: int | None, quote: str | None) -> None:
    if reply_to is not None:
        payload["reply_to"] = reply_to
        if quote:
            payload["quote"] = quote


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
    reply_to: int | None = None,
    quote: str | None = None,
    album: str | None = None,
    not_before: datetime | None = None,
) -> None:
    """Queue a copy of a media message; the header (if any) starts its caption. The copies
    of one `album` (its media_group_id) go out together, as one album."""
    payload: dict[str, Any] = {
        "type": "copy",
        "from_chat_id": from_chat_id,
        "message_id": source_message_id,
        "caption": caption,
    }
    if header is not None:
        payload["header"] = header
    if album is not None:
        payload["album"] = album
    _answering(payload, reply_to, quote)
    return await _queue(session, chat_id, payload, ticket_id, message_id, not_before)


async def queue_edit(
    session: AsyncSession, *, chat_id: int, of: int, ticket_id: int | None
) -> None:
    """The relayed copy delivered by row `of` shows its message's text as edited now."""
    await _queue(session, chat_id, {"type": "edit", "of": of}, ticket_id, None, None)


async def queue_topic_sync(session: AsyncSession, *, ticket_id: int) -> None:
    """Every chat with a topic of this ticket: make the topic show the ticket's state now
    (its name, and closed or open in the team chat), in order with the chat's messages."""
    chats = await session.scalars(
        select(TicketTopic.chat_id).where(
            TicketTopic.ticket_id == ticket_id, TicketTopic.thread_id.is_not(None)
        )
    )
    for chat_id in list(chats):
        await _queue(session, chat_id, {"type": "topic"}, ticket_id, None, None)


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


async def release_held(session: AsyncSession, *, chat_id: int) -> None:
    """The person can receive messages again: what was held for their chat is due now.

    The sender is woken for the chat after the commit (`queued_chats`) and sends the rows in
    the order they were queued. Rows postponed for another reason (429, network) keep their
    time.
    """
    await session.execute(
        update(Delivery)
        .where(
            Delivery.chat_id == chat_id,
            Delivery.status.in_(UNSENT),
            or_(Delivery.status == "blocked", Delivery.next_try_at >= HELD_UNTIL),
        )
        .values(status="pending", next_try_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.info.setdefault(_QUEUED_CHATS, set()).add(chat_id)


def withdrawn(session: AsyncSession, chat_id: int) -> None:
    """Note that rows of this chat were deleted in this transaction (see `withdrawn_chats`)."""
    session.info.setdefault(_WITHDRAWN_CHATS, set()).add(chat_id)


def withdrawn_chats(session: AsyncSession) -> set[int]:
    """The chats whose rows this session deleted since the last call: a worker sending to one
    of them must not send what it read before (the sender's `withdrawn`)."""
    return session.info.pop(_WITHDRAWN_CHATS, set())


def queued_chats(session: AsyncSession) -> set[int]:
    """The chats this session queued rows for since the last call (the sender's wake-up list)."""
    return session.info.pop(_QUEUED_CHATS, set())


_QUEUED_CHATS = "outbound.queued_chats"
_WITHDRAWN_CHATS = "outbound.withdrawn_chats"


_INSERT = insert(Delivery.__table__)  # built once: the relay queues one row per message
