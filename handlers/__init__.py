"""The routing table: every handler, by audience, on one screen."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, MessageHandler, TypeHandler

from bot.config import Settings
from bot.services.flood import FloodLimiter
from handlers import (
    admin,
    common,
    customers,
    kb,
    membership,
    moderation,
    registration,
    relay,
    reports,
    search,
    staff,
    tickets,
    tools,
)
from handlers.guard import guard

MEMBERSHIP_GROUP = -3  # blocked/unblocked the bot: before the guard, which lets only messages by
GUARD_GROUP = -2  # runs before everything and stops refused updates
EDITS_GROUP = -1  # edited messages: carried to the other side, and stopped there


def register(application: Application, settings: Settings) -> None:
    timeout = settings.dialogue_timeout_minutes
    # One per Application: the pace of relaying past FLOOD_LIMIT messages per window.
    application.bot_data.flood = FloodLimiter.from_setting(settings.flood_limit)
    application.add_handlers(membership.handlers(), group=MEMBERSHIP_GROUP)
    application.add_handler(TypeHandler(Update, guard), group=GUARD_GROUP)
    application.add_handler(MessageHandler(relay.EDITED, relay.edited_message), group=EDITS_GROUP)
    # Order matters within group 0: dialogues first, so an answer in a dialogue is never
    # taken for a message to an agent; the catch-alls come last.
    application.add_handlers(
        [
            registration.conversation(timeout),  # everyone: /start, invites, registration
            tickets.conversation(timeout),  # customers: /new
            customers.rating_conversation(timeout),  # customers: rating buttons, comment
            *common.handlers(),  # everyone: /help, /profile, /cancel
            *tickets.handlers(),  # customers and admins: /tickets, /ticket N
            *customers.handlers(),  # customers: /close, /feedback, /deleteme
            *staff.handlers(),  # agents and admins: /queue, /reply, /note, /status, /resolve
            *tools.handlers(),  # agents and admins: /canned, /r, /tag, /untag, /transfer, /history
            *admin.handlers(),  # admins: /addagent, /agents, /assign, /removeagent
            *reports.handlers(),  # admins: /report
            *moderation.handlers(),  # admins: /ban, /unban
            *kb.handlers(),  # everyone: /faq and its articles; admins: /kb
            *search.handlers(),  # agents and admins: /search
            *relay.handlers(settings.team_chat_id),  # other messages: customer <-> agent
            *common.last_resort(),
        ]
    )
