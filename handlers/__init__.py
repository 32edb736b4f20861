"""The routing table: every handler, by audience, on one screen."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, TypeHandler

from bot.config import Settings
from bot.services.flood import FloodLimiter
from handlers import (
    admin,
    common,
    customers,
    kb,
    registration,
    relay,
    reports,
    staff,
    tickets,
)
from handlers.guard import guard

GUARD_GROUP = -1  # runs before everything and stops refused updates


def register(application: Application, settings: Settings) -> None:
    timeout = settings.dialogue_timeout_minutes
    # One per Application: the flood limit the guard applies (FLOOD_LIMIT updates per window).
    application.bot_data.flood = FloodLimiter.from_setting(settings.flood_limit)
    application.add_handler(TypeHandler(Update, guard), group=GUARD_GROUP)
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
            *admin.handlers(),  # admins: /addagent, /agents, /assign, /removeagent
            *reports.handlers(),  # admins: /report
            *kb.handlers(),  # everyone: /faq and its articles; admins: /kb
            *relay.handlers(),  # any other message: to the agent, or to the customer
            *common.last_resort(),
        ]
    )
