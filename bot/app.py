"""Wiring: the Application, its resources, handlers, menus and jobs."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import AsyncIterator
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, Defaults
from telegram.request import HTTPXRequest

import handlers
from bot import jobs
from bot.concurrency import PerChatUpdateProcessor
from bot.delivery import DeliverySender
from bot.email import mails
from bot.polling import AcknowledgingApplication, AcknowledgingBot, UpdateAcks
from bot.resources import Resources
from bot.services import roles
from bot.topics import check_team_chat, router_for
from handlers import menus
from handlers.context import BotData, HelpdeskContext
from storage.db import on_transaction_end
from storage.models import Role, User
from storage.persistence import DatabasePersistence

# Opt in to PTB's coming API: durations (RetryAfter.retry_after, ...) as timedelta.
os.environ.setdefault("PTB_TIMEDELTA", "1")

log = logging.getLogger(__name__)

CONCURRENT_UPDATES = 32  # updates of different chats handled at the same time


def build_application(resources: Resources, *, rate_limiter: bool | None = None) -> Application:
    """The Application for these resources; start it with `run_polling` or `running`.

    `rate_limiter` defaults to the RATE_LIMITER setting (on; off only for benchmarks).
    """
    settings = resources.settings
    if rate_limiter is None:
        rate_limiter = settings.rate_limiter
    root = settings.telegram_api_url
    # Updates are acknowledged to Telegram only once processed (see bot/polling.py).
    bot = AcknowledgingBot(
        token=settings.telegram_bot_token or "",
        base_url=f"{root}/bot",
        base_file_url=f"{root}/file/bot",
        defaults=Defaults(tzinfo=settings.tz),
        request=HTTPXRequest(connection_pool_size=256),
        get_updates_request=HTTPXRequest(connection_pool_size=1),
        rate_limiter=AIORateLimiter() if rate_limiter else None,
        acks=UpdateAcks(),
    )
    builder = (
        ApplicationBuilder()
        .application_class(AcknowledgingApplication)
        .bot(bot)
        .context_types(ContextTypes(context=HelpdeskContext, bot_data=BotData))
        # Chats side by side, each chat's updates in order (see bot/concurrency.py).
        .concurrent_updates(PerChatUpdateProcessor(CONCURRENT_UPDATES))
        .persistence(
            DatabasePersistence(
                resources.session_factory,
                max_idle=timedelta(minutes=settings.dialogue_timeout_minutes),
            )
        )
        .post_init(start_resources)
        .post_shutdown(stop_resources)
    )
    application = builder.build()
    application.bot_data.resources = resources
    handlers.register(application, settings)
    application.add_error_handler(_log_error)
    return application


async def start_resources(application: Application) -> None:
    """Everything that needs the running bot: senders, menus, scheduled jobs."""
    data: BotData = application.bot_data
    resources = data.resources
    data.bot_username = application.bot.username
    topics = router_for(resources.settings, application.bot, resources.session_factory)
    if resources.settings.team_chat_id is not None:
        await check_team_chat(application.bot, resources.settings.team_chat_id)
    data.delivery = DeliverySender(resources.session_factory, application.bot, topics)
    data.kick_email = lambda: application.job_queue.run_once(_send_mail_now, 0)
    # Any commit that queued mail (a handler, a dialogue step, a button, a job) sends it now.
    on_transaction_end(resources.session_factory, functools.partial(_mail_queued, data))
    reconciled = await roles.at_start(resources.session_factory, resources.settings.admin_ids)
    await _set_menus(application, former_staff=reconciled.demoted)
    sender = data.delivery
    jobs.schedule_jobs(application.job_queue, resources, delivery_sweep=lambda _: sender.sweep())
    sender.kick()  # whatever a previous run left pending


async def stop_resources(application: Application) -> None:
    await application.bot_data.resources.close()


async def _set_menus(application: Application, *, former_staff: list[int]) -> None:
    resources: Resources = application.bot_data.resources
    try:
        await menus.set_default_menu(application.bot)
    except TelegramError as error:
        # Telegram keeps the menu set by an earlier start; a 429, 5xx or timeout here must not
        # stop the bot from starting (bench/chaos.py found a restart failing on it).
        log.warning("default command menu not set: %s", error)
    async with resources.session_factory() as session:
        staff = await session.execute(
            select(User.telegram_id, User.role).where(User.role.in_([Role.AGENT, Role.ADMIN]))
        )
        chats = {telegram_id: Role(role) for telegram_id, role in staff}
    for admin_id in resources.settings.admin_ids:
        chats[admin_id] = Role.ADMIN
    for chat_id in former_staff:
        chats.setdefault(chat_id, Role.CUSTOMER)  # back to the default menu
    for chat_id, role in chats.items():
        await menus.set_menu(application.bot, chat_id, role)


def _mail_queued(data: BotData, session: Session, committed: bool) -> None:
    if mails.queued(session) and committed:
        try:
            data.kick_email()
        except Exception:  # raised inside a commit that succeeded: must not look like it failed
            log.exception("mail sender not woken; the outbox's periodic pass sends the mail")


async def _send_mail_now(context: HelpdeskContext) -> None:
    resources = context.bot_data.resources
    await resources.email.deliver_due(resources.session_factory)


async def _log_error(update: object, context: HelpdeskContext) -> None:
    from handlers.framework import on_error  # logs with the update id, tells the user once

    await on_error(update, context)


@contextlib.asynccontextmanager
async def running(application: Application, *, poll_timeout: int = 1) -> AsyncIterator[Application]:
    """Run the bot inside the current event loop (tests, the demo): PTB's manual lifecycle."""
    await application.initialize()
    await start_resources(application)
    try:
        await application.updater.start_polling(poll_interval=0, timeout=poll_timeout)
        await application.start()
        try:
            yield application
        finally:
            await application.updater.stop()
            await application.stop()
    finally:
        await application.shutdown()
        await stop_resources(application)
