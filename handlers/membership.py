"""Telegram's word that a person blocked or unblocked the bot (my_chat_member updates).

The guard lets only messages and buttons through, so this runs before it, in a group of its
own. A block marks the person (sends to them wait); an unblock releases what was held for
their chat, which goes out in the order it was queued.
"""

from __future__ import annotations

from telegram import ChatMember, Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, ChatMemberHandler

from bot.services import users
from handlers.context import HelpdeskContext
from handlers.framework import action


@action
async def _record(update: Update, context: HelpdeskContext) -> None:
    change = update.my_chat_member
    if change.chat.type != ChatType.PRIVATE:
        return  # the bot added to or removed from a group: not the helpdesk's business
    status = change.new_chat_member.status
    if status == ChatMember.BANNED:
        await users.blocked(context.session, telegram_id=change.chat.id)
    elif status == ChatMember.MEMBER:
        await users.unblocked(context.session, telegram_id=change.chat.id)


async def membership_changed(update: Update, context: HelpdeskContext) -> None:
    await _record(update, context)
    raise ApplicationHandlerStop  # nothing else is for this update


def handlers() -> list:
    return [ChatMemberHandler(membership_changed, ChatMemberHandler.MY_CHAT_MEMBER)]
