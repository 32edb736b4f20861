"""Running the bot for real: migrate, then long polling or a webhook until stopped."""

from __future__ import annotations

import logging

from telegram import Update

from bot.app import build_application
from bot.config import Settings
from bot.resources import Resources
from storage.migrate import upgrade

log = logging.getLogger(__name__)


def run_bot(settings: Settings) -> int:
    """Blocks until Ctrl-C or SIGTERM; updates in flight finish, queued work stays queued."""
    upgrade(settings.database_url)
    application = build_application(Resources.open(settings))
    if settings.webhook_url:
        log.info(
            "receiving updates by webhook on %s:%s", settings.webhook_listen, settings.webhook_port
        )
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=settings.webhook_secret or "",
            webhook_url=settings.webhook_url,
            secret_token=settings.webhook_secret,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        log.info("receiving updates by long polling")
        application.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0
