"""Admins: /ban and /unban (bot/services/moderation.py; the guard applies a ban)."""

from __future__ import annotations

from markupsafe import Markup
from telegram import Update
from telegram.ext import CommandHandler

from bot.services import moderation
from bot.services.errors import Invalid
from handlers.context import HelpdeskContext
from handlers.framework import Reply, action

BAN_USAGE = "Usage: /ban <user id or @username> [reason]"
UNBAN_USAGE = "Usage: /unban <user id or @username>"


def _args(update: Update) -> list[str]:
    """The words after the command; the last part (a reason) kept as typed, line breaks too."""
    return (update.message.text or "").split(maxsplit=2)[1:]


@action
async def ban(update: Update, context: HelpdeskContext) -> Reply:
    args = _args(update)
    if not args:
        raise Invalid(BAN_USAGE)
    banned = await moderation.ban(
        context.session,
        by=context.actor,
        ref=args[0],
        reason=args[1] if len(args) > 1 else None,
        admin_ids=context.resources.settings.admin_ids,
    )
    text = Markup(
        "<b>{}</b> is banned: their messages are no longer passed on (they are told once)."
        " Their tickets stay. /unban {} lifts the ban."
    ).format(banned.name, args[0])
    if banned.cancelled:
        text += Markup(" {} of their messages waiting to be sent will not be.").format(
            banned.cancelled
        )
    return Reply(text)


@action
async def unban(update: Update, context: HelpdeskContext) -> Reply:
    args = _args(update)
    if len(args) != 1:
        raise Invalid(UNBAN_USAGE)
    person = await moderation.unban(context.session, by=context.actor, ref=args[0])
    return Reply(
        Markup("<b>{}</b> is no longer banned: what they write is passed on again.").format(
            person.display_name
        )
    )


def handlers() -> list:
    return [CommandHandler("ban", ban), CommandHandler("unban", unban)]
