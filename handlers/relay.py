"""Messages outside dialogues: customers to their agent, agents back to the customer."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from telegram import Message, Update
from telegram.ext import ApplicationHandlerStop, CallbackQueryHandler, MessageHandler, filters

from bot.clock import utcnow
from bot.services import flood, relay, validation
from bot.services.errors import ServiceError
from bot.services.relay import Incoming, Outcome
from handlers.context import HelpdeskContext
from handlers.framework import Answer, Edit, Output, Reply, Result, action

log = logging.getLogger(__name__)

MEDIA = (
    filters.PHOTO
    | filters.Document.ALL
    | filters.VOICE
    | filters.VIDEO
    | filters.Sticker.ALL
    | filters.AUDIO
    | filters.ANIMATION
    | filters.VIDEO_NOTE
)
RELAYABLE = filters.ChatType.PRIVATE & ~filters.COMMAND & (filters.TEXT | MEDIA)
TEAM_RELAYABLE = filters.ChatType.SUPERGROUP & ~filters.COMMAND & (filters.TEXT | MEDIA)


def incoming_of(update: Update, message: Message) -> Incoming:
    """The parts of a Telegram message the relay stores."""
    media_kind = file_id = None
    for kind in (
        "photo",
        "document",
        "voice",
        "video",
        "sticker",
        "audio",
        "animation",
        "video_note",
    ):
        attachment = getattr(message, kind, None)
        if attachment:
            media_kind = kind
            file_id = (attachment[-1] if isinstance(attachment, tuple) else attachment).file_id
            break
    replied = message.reply_to_message
    return Incoming(
        update_id=update.update_id,
        chat_id=message.chat_id,
        message_id=message.message_id,
        text=message.text if media_kind is None else message.caption,
        media_kind=media_kind,
        file_id=file_id,
        reply_to=replied.message_id if replied else None,
        reply_header=_header_of(replied) if replied else None,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        quote=message.quote.text if message.quote else None,
        media_group_id=message.media_group_id,
    )


def _header_of(message: Message) -> str | None:
    """The first line of a message the bot wrote (a relayed message's `#N · name`), or the
    name of the topic it created (`#N · subject`, ✅ or ↪ first): either names the ticket
    while its stored reference (or the topic's id) is not committed yet."""
    if message.from_user is None or not message.from_user.is_bot:
        return None
    if message.forum_topic_created is not None:
        return message.forum_topic_created.name.lstrip("✅↪ ")
    body = message.text or message.caption
    return body.split("\n", 1)[0] if body else None


def paced(context: HelpdeskContext) -> tuple[datetime | None, list[Output]]:
    """Count a message to be relayed against its sender's flood limit (bot/services/flood.py):
    when it may be sent (None: at once), and the notice to say the first time it is paced."""
    actor = context.actor
    pace = context.bot_data.flood.pace(actor.telegram_id, staff=actor.is_staff)
    if not pace.delay:
        return None, []
    notice = [Reply(flood.PACING)] if pace.notice else []
    return utcnow() + timedelta(seconds=pace.delay), notice


@action
async def relay_message(update: Update, context: HelpdeskContext) -> Result:
    actor = context.actor
    if not actor.registered:
        return Reply("Welcome! Please register first: send /start.")
    incoming = incoming_of(update, update.message)
    not_before, notice = paced(context)
    team_chat_id = context.resources.settings.team_chat_id
    if actor.is_staff:
        await relay.staff_message(
            context.session,
            actor=actor,
            incoming=incoming,
            not_before=not_before,
            team_chat_id=team_chat_id,
        )
        return notice
    result = await relay.customer_message(
        context.session,
        actor=actor,
        incoming=incoming,
        not_before=not_before,
        team_chat_id=team_chat_id,
    )
    answer = _customer_answer(result)
    return [*notice, answer] if answer is not None else notice


@action
async def team_message(update: Update, context: HelpdeskContext) -> Result:
    """An agent writes in the team chat: into a ticket's topic, it reaches the customer. Nothing
    is said in the group (a refusal there would land in its General topic): it is logged."""
    incoming = incoming_of(update, update.message)
    try:
        await relay.team_message(
            context.session,
            actor=context.actor,
            incoming=incoming,
            team_chat_id=context.resources.settings.team_chat_id,
        )
    except ServiceError as error:
        log.info("team chat message %s not relayed: %s", update.update_id, type(error).__name__)
    return None


def _customer_answer(result: relay.Result) -> Result:
    if result.outcome is Outcome.NO_TICKET:
        return Reply("You have no open ticket. Send /new to open one.")
    if result.outcome is Outcome.CHOOSE:
        buttons = [
            [(f"#{number} {subject[:40]}", f"pick:{result.message_id}:{number}")]
            for number, subject in result.choices
        ]
        return Reply("Which ticket is this about?", buttons=buttons)
    if result.outcome is Outcome.WAITING:
        return Reply(
            f"Added to ticket #{result.number}. It reaches an agent as soon as one is assigned."
        )
    if result.outcome is Outcome.REOPENED:
        return Reply(f"Ticket #{result.number} is open again; your message is on its way.")
    return None


@action
async def pick_ticket(update: Update, context: HelpdeskContext) -> Result:
    try:
        _, message_id, number = update.callback_query.data.split(":")
        message_id, number = validation.small_number(message_id), validation.small_number(number)
    except ValueError:
        return Answer("This button is not valid.", alert=True)
    result = await relay.pick(
        context.session,
        actor=context.actor,
        message_id=message_id,
        number=number,
        team_chat_id=context.resources.settings.team_chat_id,
    )
    answer = _customer_answer(result)
    return [Answer(f"Added to #{number}."), Edit(f"Added to ticket #{number}.")] + (
        [answer] if answer else []
    )


@action
async def _carry_edit(update: Update, context: HelpdeskContext) -> Result:
    if context.actor.registered:
        incoming = incoming_of(update, update.edited_message)
        await relay.edited(context.session, actor=context.actor, incoming=incoming)
    return None


async def edited_message(update: Update, context: HelpdeskContext) -> None:
    """An edited message: carried to the other side if the relay carried it; nothing else
    (a dialogue, a command) reacts to edits."""
    await _carry_edit(update, context)
    raise ApplicationHandlerStop


EDITED = filters.UpdateType.EDITED_MESSAGE & filters.ChatType.PRIVATE


def handlers(team_chat_id: int | None = None) -> list:
    team = (
        [MessageHandler(filters.Chat(team_chat_id) & TEAM_RELAYABLE, team_message)]
        if team_chat_id is not None
        else []
    )
    return [
        *team,
        MessageHandler(RELAYABLE, relay_message),
        CallbackQueryHandler(pick_ticket, pattern=r"^pick:"),
    ]
