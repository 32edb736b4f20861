"""Commands for everyone, and the answers of last resort."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.services import users
from handlers.context import HelpdeskContext
from handlers.framework import Answer, Reply, action
from handlers.render import help_text, profile_text
from storage.models import Role


@action
async def show_help(update: Update, context: HelpdeskContext) -> Reply:
    return Reply(help_text(context.actor.role))


@action
async def show_profile(update: Update, context: HelpdeskContext) -> Reply:
    if not context.actor.registered:
        return Reply("You are not registered yet: send /start.")
    return Reply(profile_text(await users.profile(context.session, context.actor)))


@action
async def nothing_to_cancel(update: Update, context: HelpdeskContext) -> Reply:
    return Reply("There is nothing to cancel.")


@action
async def nothing_to_skip(update: Update, context: HelpdeskContext) -> Reply:
    return Reply("There is nothing to skip right now.")


@action
async def stale_button(update: Update, context: HelpdeskContext) -> Answer:
    return Answer("This button is no longer valid.", alert=True)


@action
async def unrouted(update: Update, context: HelpdeskContext) -> Reply:
    """A message no dialogue or ticket took."""
    actor = context.actor
    if not actor.registered:
        return Reply("Welcome! Please register first: send /start.")
    if actor.role is Role.CUSTOMER:
        return Reply("You have no open ticket. Send /new to open one.")
    return Reply("To answer a customer, reply to their message or use /reply N text.")


def handlers() -> list:
    return [
        CommandHandler("help", show_help),
        CommandHandler("profile", show_profile),
        CommandHandler("cancel", nothing_to_cancel),
        CommandHandler(["skip", "resend"], nothing_to_skip),
    ]


def last_resort() -> list:
    return [
        CallbackQueryHandler(stale_button),
        MessageHandler(filters.ALL & ~filters.COMMAND, unrouted),
    ]
