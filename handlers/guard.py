"""Runs first for every update: who is writing, and may they do this? (one place)."""

from __future__ import annotations

import logging

from markupsafe import escape
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.services import access, moderation, users
from handlers import menus
from handlers.context import HelpdeskContext
from handlers.framework import topic_of

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
    settings = context.resources.settings
    in_team = update.effective_chat.id == settings.team_chat_id
    if update.effective_chat.type != ChatType.PRIVATE and not in_team:
        raise ApplicationHandlerStop  # private chats, and the team chat (TEAM_CHAT_ID), only
    edited = update.edited_message is not None
    if update.message is None and update.callback_query is None and not edited:
        raise ApplicationHandlerStop
    if edited and in_team:
        raise ApplicationHandlerStop  # edits are carried from private chats only
    tg_user = update.effective_user
    is_admin = settings.is_admin(tg_user.id)
    if in_team:
        await _team_member(update, context, is_admin=is_admin)
        return

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
    # Staff cannot be banned (/ban refuses); one made staff later by ADMIN_IDS is not stopped.
    if context.actor.banned and not context.actor.is_staff and not _allowed_while_banned(update):
        await _stop_banned(update, context)
    refusal = _refusal(update, context)
    if menu_changed or refusal is not None:
        await context.end_unit()  # stored before anything is said (rare: new user, refusal)
    if menu_changed and context.actor.is_staff:
        await menus.set_menu(context.bot, tg_user.id, context.actor.role)
    if refusal is not None:
        await _tell(update, context, refusal)
        raise ApplicationHandlerStop


async def _team_member(update: Update, context: HelpdeskContext, *, is_admin: bool) -> None:
    """In the team chat only agents' plain messages count: the rest (other members, commands,
    buttons) is ignored without an answer, and nobody becomes a user by writing there."""
    if update.message is None or _command_of(update) is not None:
        raise ApplicationHandlerStop
    async with context.resources.session_factory() as session:
        user = await users.by_telegram_id(session, update.effective_user.id)
    if user is None or user.deleted_at is not None:
        raise ApplicationHandlerStop
    actor = users.actor_of(user, is_admin=is_admin)
    if not actor.is_staff:
        raise ApplicationHandlerStop
    context.actor = actor


async def _tell(update: Update, context: HelpdeskContext, text: str) -> None:
    """A plain notice: at the pressed button, or in the chat (escaped: sent as HTML like every
    message; a user may have blocked us)."""
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        else:
            await context.bot.send_message(
                update.effective_chat.id,
                escape(text),
                parse_mode=ParseMode.HTML,
                message_thread_id=topic_of(update),
            )
    except TelegramError as error:
        log.warning("update %s: could not answer: %s", update.update_id, error)


def _allowed_while_banned(update: Update) -> bool:
    if update.callback_query is not None:
        return access.may_press_while_banned(update.callback_query.data or "")
    command = _command_of(update)
    return command is not None and access.may_while_banned(command)


async def _stop_banned(update: Update, context: HelpdeskContext) -> None:
    """A banned person's update goes no further (nothing stored); they are told once a ban."""
    await context.end_unit()  # the touch, committed before the second transaction
    async with context.resources.session_factory() as session:
        tell = await moderation.tell_once(session, user_id=context.actor.user_id)
        await session.commit()
    log.debug("update %s of a banned user stopped", update.update_id)
    if tell:
        await _tell(update, context, moderation.BANNED)
    elif update.callback_query is not None:
        try:
            await update.callback_query.answer()  # the button stops spinning; nothing more
        except TelegramError as error:
            log.warning("update %s: could not answer: %s", update.update_id, error)
    raise ApplicationHandlerStop


def _refusal(update: Update, context: HelpdeskContext) -> str | None:
    actor = context.actor
    if update.callback_query is not None:
        data = update.callback_query.data or ""
        if not access.may_press(actor.role, data):
            return "This button is not available to you."
        if not actor.registered and access.command_of_button(data) not in BEFORE_REGISTRATION:
            # A button from before: of someone who erased their data, now a new customer.
            return "This button is no longer valid. Send /start to register."
        return None
    command = _command_of(update)
    if command is None:
        return None
    if not access.is_known_command(command):
        return f"I don't know /{command[:32]}. Send /help to see what you can do."
    if not access.may_use(actor.role, command):
        return f"/{command} is not available to you. Send /help to see what you can do."
    if not actor.registered and command not in BEFORE_REGISTRATION:
        return "Please register first: send /start."
    return None
