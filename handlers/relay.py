"""Messages outside dialogues: customers to their agent, agents back to the customer."""

from __future__ import annotations

from datetime import datetime, timedelta

from telegram import Message, Update
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from bot.clock import utcnow
from bot.services import flood, relay, validation
from bot.services.relay import Incoming, Outcome
from handlers.context import HelpdeskContext
from handlers.framework import Answer, Edit, Output, Reply, Result, action

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
    )


def _header_of(message: Message) -> str | None:
    """The first line of a message the bot wrote (a relayed message's `#N · name`)."""
    body = message.text or message.caption
    if message.from_user is None or not message.from_user.is_bot or not body:
        return None
    return body.split("\n", 1)[0]


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
    if actor.is_staff:
        await relay.staff_message(
            context.session, actor=actor, incoming=incoming, not_before=not_before
        )
        return notice
    result = await relay.customer_message(
        context.session, actor=actor, incoming=incoming, not_before=not_before
    )
    answer = _customer_answer(result)
    return [*notice, answer] if answer is not None else notice


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
        context.session, actor=context.actor, message_id=message_id, number=number
    )
    answer = _customer_answer(result)
    return [Answer(f"Added to #{number}."), Edit(f"Added to ticket #{number}.")] + (
        [answer] if answer else []
    )


def handlers() -> list:
    return [
        MessageHandler(RELAYABLE, relay_message),
        CallbackQueryHandler(pick_ticket, pattern=r"^pick:"),
    ]
