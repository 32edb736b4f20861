"""Runs first for every update: who is writing, and may they do this? (one place)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.formatting import esc
from bot.services import access, flood, users
from handlers import menus
from handlers.context import HelpdeskContext

log = logging.getLogger(__name__)

# What an unregistered customer may do before finishing /start.
BEFORE_REGISTRATION = {"start", "help", "cancel", "profile", "skip", "resend", "faq"}


def _command_of(update: Update) -> str | None:
    message = update.message
    if message is None or not message.text or not message.text.startswith("/"):
        return None
    word = message.text.split(maxsplit=1)[0][1:]
    return word.partition("@")[0].lower()


async def guard(update: Update, context: HelpdeskContext) -> None:
    """Identify the user, then stop any update their role may not send."""
    if update.effective_user is None or update.effective_chat is None:
        raise ApplicationHandlerStop  # polls, inline queries, channel posts: not ours
    if update.effective_chat.type != ChatType.PRIVATE or update.edited_message is not None:
        raise ApplicationHandlerStop  # the helpdesk lives in private chats only
    if update.message is None and update.callback_query is None:
        raise ApplicationHandlerStop
    tg_user = update.effective_user
    is_admin = context.resources.settings.is_admin(tg_user.id)
    limiter = context.bot_data.flood
    verdict = limiter.check(tg_user.id, staff=is_admin or limiter.is_staff(tg_user.id))
    if verdict is not flood.Verdict.ACCEPT:
        if verdict is flood.Verdict.WARN:
            await _tell(update, context, flood.SLOW_DOWN)
        raise ApplicationHandlerStop  # before any work: nothing read, nothing stored

    async def touch(session: AsyncSession) -> bool:
        context.actor, menu_changed = await users.touch(
            session,
            telegram_id=tg_user.id,
            username=tg_user.username,
            language=tg_user.language_code,
            is_admin=is_admin,
        )
        return menu_changed

    # The update's one transaction: the handler (`action`, `step`) takes it and commits the
    # touch with its own work; if none does, it is committed when the update ends.
    session = context.resources.session_factory()
    end = getattr(context.application, "at_end", None)
    if end is None:  # an Application that cannot tell us when the update ends: commit now
        async with session:
            menu_changed = await touch(session)
            await session.commit()
    else:
        context.open_unit(session)
        end(update, context.end_unit)
        context.redo_guard = touch
        menu_changed = await touch(session)
    limiter.set_staff(tg_user.id, context.actor.is_staff)
    refusal = _refusal(update, context)
    if menu_changed or refusal is not None:
        await context.end_unit()  # stored before anything is said (rare: new user, refusal)
    if menu_changed and context.actor.is_staff:
        await menus.set_menu(context.bot, tg_user.id, context.actor.role)
    if refusal is not None:
        await _tell(update, context, refusal)
        raise ApplicationHandlerStop


async def _tell(update: Update, context: HelpdeskContext, text: str) -> None:
    """An HTML notice: at the pressed button, or in the chat (a user may have blocked us)."""
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        else:
            await context.bot.send_message(
                update.effective_chat.id, text, parse_mode=ParseMode.HTML
            )
    except TelegramError as error:
        log.warning("update %s: could not answer: %s", update.update_id, error)


def _refusal(update: Update, context: HelpdeskContext) -> str | None:
    actor = context.actor
    if update.callback_query is not None:
        if not access.may_press(actor.role, update.callback_query.data or ""):
            return "This button is not available to you."
        return None
    command = _command_of(update)
    if command is None:
        return None
    if not access.is_known_command(command):
        return f"I don't know /{esc(command[:32])}. Send /help to see what you can do."
    if not access.may_use(actor.role, command):
        return f"/{command} is not available to you. Send /help to see what you can do."
    if not actor.registered and command not in BEFORE_REGISTRATION:
        return "Please register first: send /start."
    return None
