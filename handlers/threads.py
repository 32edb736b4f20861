"""Commands written in a ticket's forum topic take no ticket number: the topic names it."""

from __future__ import annotations

from telegram import Update

from bot.services import relay, validation
from bot.services.errors import Invalid
from handlers.context import HelpdeskContext


async def topic_ticket(update: Update, context: HelpdeskContext) -> int | None:
    """The ticket whose topic the update's message was written in (None: not in one)."""
    message = update.effective_message
    if message is None or not message.is_topic_message:
        return None
    return await relay.ticket_of_topic(
        context.session, chat_id=message.chat_id, thread_id=message.message_thread_id
    )


async def number_and_rest(
    update: Update, context: HelpdeskContext, *, usage: str, rest_required: bool
) -> tuple[int, str]:
    """`/cmd N rest`, or `/cmd rest` in a ticket's topic; the rest exactly as typed."""
    text = update.message.text or ""
    number = await topic_ticket(update, context)
    if number is not None:
        parts = text.split(maxsplit=1)
        rest = parts[1] if len(parts) > 1 else ""
    else:
        parts = text.split(maxsplit=2)
        if len(parts) < 2:
            raise Invalid(usage)
        number = validation.ticket_number(parts[1])
        rest = parts[2] if len(parts) > 2 else ""
    if rest_required and not rest.strip():
        raise Invalid(usage)
    return number, rest
