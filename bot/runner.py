"""Running the bot for real: one active process, migrate, then long polling or a webhook.

The lifecycle is PTB's manual one (initialize, updater, start ... stop, shutdown) rather than
`run_polling`, so that the leader lock, the signals and the order of shutdown are ours:

1. SIGINT (Ctrl-C) and SIGTERM set a stop event.
2. On PostgreSQL the leader lock (bot/leader.py): a second process waits here as a standby and
   neither migrates, nor talks to Telegram, nor runs jobs until it holds the lock.
3. Migrate, start the Application, receive updates by long polling or by webhook.
4. On a signal (or if the lock's connection fails) stop gracefully: no new updates; the delivery
   sender finishes the message it is sending (or is cancelled after SEND_GRACE); updates already
   received are handled to the end; running jobs finish; then everything is closed. Deliveries
   and mails not yet sent are rows in the database and stay pending for the next run.
   Whatever still runs STOP_DEADLINE seconds after the signal is abandoned and the process
   exits: that is as safe as a crash, which the queues are built to survive.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import threading
from urllib.parse import urlsplit

from telegram import Update
from telegram.ext import Application

from bot import leader
from bot.app import CONCURRENT_UPDATES, build_application, start_resources, stop_resources
from bot.config import Settings
from bot.resources import Resources
from bot.webhook import WebhookServer
from storage.migrate import upgrade_async

log = logging.getLogger(__name__)

STOP_DEADLINE = 8.5  # seconds from the stop signal to a forced exit
SEND_GRACE = 2.0  # seconds a Telegram message being sent at shutdown gets to finish
LOCK_LOST = 1  # exit status when the leader lock's connection failed (a supervisor restarts)


def run_bot(settings: Settings) -> int:
    """Blocks until Ctrl-C or SIGTERM; updates in flight finish, queued work stays queued."""
    return asyncio.run(serve(settings))


async def serve(settings: Settings) -> int:
    stop = asyncio.Event()
    _handle_stop_signals(stop)
    token = settings.telegram_bot_token or ""
    leadership = await leader.acquire(settings.database_url, token, stop=stop)
    if leadership is None:
        return 0
    try:
        await upgrade_async(settings.database_url)
        if stop.is_set():
            return 0
        application = build_application(Resources.open(settings))
        leadership.watch()
        lost = await _run(application, settings, stop, leadership.lost)
        return LOCK_LOST if lost else 0
    finally:
        await leadership.release()


async def _run(
    application: Application, settings: Settings, stop: asyncio.Event, lost: asyncio.Event
) -> bool:
    """Run until `stop` or `lost` is set; returns whether the leader lock was lost."""
    webhook: WebhookServer | None = None
    try:
        await application.initialize()
        await start_resources(application)
        webhook = await _receive_updates(application, settings)
        await application.start()
        _freeze_startup_objects()
        waits = [asyncio.create_task(event.wait()) for event in (stop, lost)]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for waiting in waits:
            waiting.cancel()
    finally:
        if not stop.is_set():  # the lock was lost, or starting failed (a signal set its own)
            _exit_after(STOP_DEADLINE, status=LOCK_LOST)
        await _stop(application, webhook)
    return lost.is_set()


def _freeze_startup_objects() -> None:
    """Leave what start-up built (modules, the Application, mappers) out of garbage collection.

    A full collection walks every tracked object; with the libraries loaded that took up to 90
    ms (bench/relay.py), a pause every few seconds that showed as the relay's p99 latency.
    Frozen objects are never walked again; garbage made later is collected as before.
    """
    gc.collect()
    gc.freeze()


def webhook_path(webhook_url: str) -> str:
    """The path of WEBHOOK_URL, served as is, so a reverse proxy can forward it unchanged."""
    return urlsplit(webhook_url).path.strip("/")


async def _receive_updates(application: Application, settings: Settings) -> WebhookServer | None:
    """Long polling, or a webhook server of our own (bot/webhook.py) once Telegram knows it."""
    assert application.updater is not None
    if not settings.webhook_url:
        log.info("receiving updates by long polling")
        await application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
        return None
    path = webhook_path(settings.webhook_url)
    log.info(
        "receiving updates by webhook on %s:%s/%s (public URL %s)",
        settings.webhook_listen,
        settings.webhook_port,
        path,
        settings.webhook_url,
    )
    webhook = WebhookServer(
        application,
        listen=settings.webhook_listen,
        port=settings.webhook_port,
        path=path,
        secret=settings.webhook_secret or "",
    )
    await webhook.start()
    try:
        await application.bot.set_webhook(
            url=settings.webhook_url,
            secret_token=settings.webhook_secret,
            allowed_updates=Update.ALL_TYPES,
            # Telegram keeps each chat's order itself and answers come after processing:
            # as many chats at once as the Application processes at once.
            max_connections=CONCURRENT_UPDATES,
        )
    except BaseException:
        await webhook.stop()
        raise
    return webhook


async def _stop(application: Application, webhook: WebhookServer | None) -> None:
    """Stop receiving, let what is in flight finish, close everything; queued rows stay."""
    if webhook is not None:
        await webhook.stop()  # updates being processed finish and are answered
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    sender = getattr(application.bot_data, "delivery", None)
    if sender is not None:
        await sender.close(grace=SEND_GRACE)
    if application.running:
        await application.stop()  # handles the updates already received, waits for jobs
    try:
        await application.shutdown()
    finally:
        await stop_resources(application)
    log.info("stopped; pending deliveries and mails stay queued for the next run")


def _handle_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()

    def received(signum: int) -> None:
        name = signal.Signals(signum).name
        if not stop.is_set():
            log.info("%s: stopping; updates in flight finish, queued messages stay queued", name)
            stop.set()
            _exit_after(STOP_DEADLINE, status=0)
            return
        log.warning("%s again: stopping at once; queued messages stay in the database", name)
        _exit_now()

    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, received, signum)
        except NotImplementedError:  # Windows: no loop signal handlers
            signal.signal(
                signum, lambda number, _frame: loop.call_soon_threadsafe(received, number)
            )


def _exit_after(seconds: float, *, status: int) -> None:
    """A watchdog: whatever still runs after `seconds` is abandoned (it is all in the database)."""

    def expire() -> None:
        log.warning("still stopping after %s s: exiting; queued messages stay queued", seconds)
        _exit_now(status)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


def _exit_now(status: int = 0) -> None:
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(status)
